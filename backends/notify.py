"""Desktop notification to the interactive user before the GUI is ended (seed 003, T3).

Called by `backends.host.HostBackend.notify_user`. For each graphical session, calls
org.freedesktop.Notifications.Notify with `gdbus call` as that session's user (setpriv, uid
and gid from the host's /etc/passwd) on the user's session bus `/run/user/<uid>/bus`
(`notify-send` would first ask GetServerInformation and give up without a server).
Best effort: each attempt is bounded by a timeout, every failure is recorded in the returned
outcome, and nothing raises. `command_prefix` runs the command inside another mount/PID
namespace (the test host, reached from outside: `nsenter -t <pid> -p -m --`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from dubnium.facts import SessionFact


@attrs.frozen
class NotifyOutcome:
    session_id: str
    user: str
    delivered: bool
    detail: str


class Notifier:
    """Sends one notification to every graphical session's user."""

    def __init__(
        self, *, fs_root: Path = Path("/"), command_prefix: Sequence[str] = (),
        timeout_s: float = 3.0, app_name: str = "mode",
    ) -> None:
        self._fs_root = fs_root
        self._prefix = tuple(command_prefix)
        self._timeout_s = timeout_s
        self._app_name = app_name

    def notify(
        self, sessions: Iterable[SessionFact], summary: str, body: str
    ) -> tuple[NotifyOutcome, ...]:
        out = []
        for session in sessions:
            if not session.graphical:
                continue
            try:
                out.append(self._send(session, summary, body))
            except Exception as exc:  # never raises: best effort by contract
                out.append(NotifyOutcome(session.id, session.user, False, repr(exc)))
        return tuple(out)

    def _send(self, session: SessionFact, summary: str, body: str) -> NotifyOutcome:
        ids = self._ids(session.user)
        if ids is None:
            return NotifyOutcome(session.id, session.user, False, "user not in /etc/passwd")
        uid, gid = ids
        command = [
            *self._prefix,
            "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "env", f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus",
            f"XDG_RUNTIME_DIR=/run/user/{uid}",
            "gdbus", "call", "--session", f"--timeout={max(1, int(self._timeout_s))}",
            "--dest=org.freedesktop.Notifications",
            "--object-path=/org/freedesktop/Notifications",
            "--method=org.freedesktop.Notifications.Notify",
            self._app_name, "0", "", summary, body, "[]", "{'urgency': <byte 2>}", "15000",
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        try:
            proc = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return NotifyOutcome(
                session.id, session.user, False, f"no answer within {self._timeout_s:g} s"
            )
        except OSError as exc:
            return NotifyOutcome(session.id, session.user, False, f"cannot run: {exc}")
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return NotifyOutcome(
            session.id, session.user, proc.returncode == 0,
            detail[-1] if detail else f"exit {proc.returncode}",
        )

    def _ids(self, user: str) -> tuple[int, int] | None:
        try:
            text = (self._fs_root / "etc/passwd").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 4 and fields[0] == user:
                return int(fields[2]), int(fields[3])
        return None
