"""Open windows of the graphical sessions, where the compositor can say (Hyprland: hyprctl).

Called by the CLI (`backends.session.HostSession.windows`) for the confirmation before the GUI goes
(`dubnium.confirm`). For each graphical session's user, each Hyprland instance under
`/run/user/<uid>/hypr/<signature>/` is asked `hyprctl clients -j` as that user (setpriv when
root), bounded by a timeout. Best effort: returns the windows, or one sentence saying why
none could be listed; never raises.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from dubnium.facts import SessionFact


def _ids(user: str, fs_root: Path) -> tuple[int, int] | None:
    try:
        text = (fs_root / "etc/passwd").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == user:
            return int(fields[2]), int(fields[3])
    return None


def list_windows(sessions: Iterable[SessionFact], *, fs_root: Path = Path("/"),
                 timeout_s: float = 2.0) -> list[dict[str, str]] | str:
    users = sorted({s.user for s in sessions if s.graphical})
    if not users:
        return "no graphical session"
    hyprctl = shutil.which("hyprctl")
    if hyprctl is None:
        return "not listed (hyprctl not found: the compositor cannot be asked)"
    windows: list[dict[str, str]] = []
    asked = 0
    for user in users:
        ids = _ids(user, fs_root)
        if ids is None:
            continue
        uid, gid = ids
        runtime = fs_root / f"run/user/{uid}"
        for instance in sorted((runtime / "hypr").glob("*/")):
            prefix = ([] if os.geteuid() == uid else
                      ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"])
            command = [*prefix, "env", f"XDG_RUNTIME_DIR={runtime}",
                       f"HYPRLAND_INSTANCE_SIGNATURE={instance.name}", hyprctl, "clients", "-j"]
            try:
                proc = subprocess.run(command, capture_output=True, text=True,
                                      timeout=timeout_s, check=False)
                clients = json.loads(proc.stdout) if proc.returncode == 0 else []
            except (OSError, subprocess.TimeoutExpired, ValueError):
                continue
            asked += 1
            for c in clients if isinstance(clients, list) else []:
                if isinstance(c, dict):
                    windows.append({"class": str(c.get("class", "")),
                                    "title": str(c.get("title", "")), "user": user})
    if not asked:
        return "not listed (no Hyprland instance answered)"
    return windows
