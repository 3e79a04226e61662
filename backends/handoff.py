"""Hand a transition off to a transient systemd unit when `mode` runs inside a session.

Called by the host session (`backends.session.HostSession.mutating`) for mutating verbs.
`sudo mode request compute` typed in a terminal of the graphical session would be killed by
its own TerminateSession half-way through; run from a transient unit (`systemd-run --wait --pipe`)
the controller lives outside the session, the terminal still sees its output while it
lasts, and the record is written either way.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from dubnium.errors import BackendUnavailable

HANDOFF_ENV = "DUBNIUM_HANDED_OFF"
_SESSION_SCOPE = re.compile(r"/session-[^/]+\.scope(/|$)")


def inside_session(cgroup_file: Path = Path("/proc/self/cgroup")) -> bool:
    """True when this process belongs to a logind session scope."""
    try:
        text = cgroup_file.read_text()
    except OSError:
        return False
    return any(_SESSION_SCOPE.search(line.split(":", 2)[-1]) for line in text.splitlines())


def handoff_command(argv: Sequence[str], unit: str,
                    env: Mapping[str, str] | None = None) -> list[str]:
    """The systemd-run command that re-runs `argv` outside the session, with `env`."""
    setenv = [f"--setenv={k}={v}" for k, v in sorted((env or {}).items())]
    return [
        "systemd-run", f"--unit={unit}", "--service-type=exec", "--wait", "--pipe",
        "--collect", "--quiet",
        # Isolating a mode target must not stop the transition that isolates it (found by
        # the test host: without it, `isolate compute.target` killed the handed-off unit).
        "--property=IgnoreOnIsolate=yes",
        f"--setenv={HANDOFF_ENV}=1", *setenv, "--", *argv,
    ]


def run_handed_off(argv: Sequence[str], unit: str, env: Mapping[str, str] | None = None) -> int:
    """Run `argv` in a transient unit and return its exit status."""
    if shutil.which("systemd-run") is None:
        raise BackendUnavailable("systemd-run not found: cannot leave the session safely")
    try:
        return subprocess.run(handoff_command(argv, unit, env), check=False).returncode
    except OSError as exc:
        raise BackendUnavailable(f"systemd-run: {exc.strerror}") from None


def handed_off() -> bool:
    return os.environ.get(HANDOFF_ENV) == "1"
