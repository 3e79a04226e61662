"""The host's console line (a failed return to desktop tells the owner there, ADR 0007):
one line on the console device, never an error when nobody can take it."""

from __future__ import annotations

import os
from pathlib import Path

from backends.host import HostBackend
from dubnium.policy import default_policy


def _host(root: Path) -> HostBackend:
    (root / "proc").mkdir()
    (root / "dev").mkdir()
    return HostBackend(default_policy(), proc_root=root / "proc",
                       system_bus="unix:path=/nonexistent")


def test_the_message_is_one_line_on_the_console(tmp_path: Path) -> None:
    """Whatever the text holds (a newline, a control character), the console gets one line."""
    host = _host(tmp_path)
    os.mkfifo(tmp_path / "dev" / "console")
    reader = os.open(tmp_path / "dev" / "console", os.O_RDONLY | os.O_NONBLOCK)
    try:
        host.console_message("desktop not restored: display_manager_active fail\n(x\x1b[2J)")
        got = os.read(reader, 4096)
    finally:
        os.close(reader)
    assert got == b"dubnium: desktop not restored: display_manager_active fail\\n(x\\x1b[2J)\n"


def test_a_console_nobody_can_take_is_not_an_error(tmp_path: Path) -> None:
    """No console device (none is created in its place), or a console nobody reads: the
    message is dropped, nothing raised."""
    host = _host(tmp_path)
    host.console_message("no device")
    created = (tmp_path / "dev" / "console").exists()
    os.mkfifo(tmp_path / "dev" / "console")
    host.console_message("no reader")
    assert (created, (tmp_path / "dev" / "console").is_fifo()) == (False, True)
