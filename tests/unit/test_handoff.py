"""Detecting a session scope, and the command that leaves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.handoff import handoff_command, inside_session


@pytest.mark.parametrize(("line", "inside"), [
    ("0::/user.slice/user-1000.slice/session-2.scope", True),
    ("1:name=systemd:/user.slice/user-1000.slice/session-c1.scope/sub", True),
    ("0::/system.slice/mode-controller@compute.service", False),
    ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foot.scope", False),
])
def test_inside_session_reads_the_cgroup_path(tmp_path: Path, line: str, inside: bool) -> None:
    """Only a session-N.scope counts as inside a logind session."""
    cgroup = tmp_path / "cgroup"
    cgroup.write_text(line + "\n")
    assert inside_session(cgroup) is inside


def test_unreadable_cgroup_is_not_inside(tmp_path: Path) -> None:
    """No /proc/self/cgroup: do not hand off."""
    assert inside_session(tmp_path / "absent") is False


def test_handoff_command_waits_and_pipes() -> None:
    """The transient unit is waited for, its output piped back, marked as handed off."""
    command = handoff_command(["/usr/bin/mode", "request", "compute"], "mode-request-1")
    assert command[:6] == ["systemd-run", "--unit=mode-request-1", "--service-type=exec",
                           "--wait", "--pipe", "--collect"]
    assert command[-4:] == ["--", "/usr/bin/mode", "request", "compute"]
    assert "--setenv=DUBNIUM_HANDED_OFF=1" in command
    assert "--property=IgnoreOnIsolate=yes" in command


def test_handoff_carries_the_dubnium_environment() -> None:
    """DUBNIUM_* settings reach the transient unit, before the command."""
    command = handoff_command(["mode"], "u", {"DUBNIUM_STATE_DIR": "/tmp/s"})
    assert command.index("--setenv=DUBNIUM_STATE_DIR=/tmp/s") < command.index("--")
