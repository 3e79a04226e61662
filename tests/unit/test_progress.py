"""Progress lines on stderr: one per step start and end, with elapsed time and bound."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dubnium.progress import FOLLOW_HINT, LineProgress, for_terminal, wants_color
from tests.unit.test_cli import Shell


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Shell:
    sh = Shell(tmp_path / "state", capsys)
    assert sh.run("mode-sim", "create", "--seed", "5", "--gpus", "1")[0] == 0
    return sh


def test_a_switch_prints_a_start_and_an_end_line_per_step(shell: Shell) -> None:
    """desktop -> compute: 11 steps, 22 step lines, a bound on the waits, the outcome last."""
    code, _, err = shell.run("mode", "request", "compute")
    lines = [x for x in err.splitlines() if x.startswith("mode: [T3 ")]
    starts = [x for x in lines if "] start: " in x]
    ends = [x for x in lines if "] done in " in x]
    assert (code, len(starts), len(ends)) == (0, 11, 11)
    assert "mode: [T3 3] done in 30.0 s of 30 s: no cancel within 30 s; 2 countdown " \
        "notification(s)" in ends
    assert f"mode: {FOLLOW_HINT}" in err.splitlines()
    assert err.splitlines()[-1].startswith("mode: converged after ")


def test_quiet_and_json_print_no_progress(shell: Shell) -> None:
    """--quiet (and --json) leave stderr empty on success."""
    assert shell.run("mode", "request", "studio-local", "--quiet")[2] == ""
    assert shell.run("mode", "request", "desktop", "--json")[2] == ""


def test_a_failed_step_is_marked(shell: Shell) -> None:
    """A display GPU that never releases: the release step's end line says FAILED."""
    shell.run("mode-sim", "gpu", "release", "0", "never")
    code, _, err = shell.run("mode", "request", "compute")
    failed = [x for x in err.splitlines() if "FAILED in" in x]
    assert (code, len(failed)) == (21, 1)
    assert "of 30 s: display GPU not released within 30 s" in failed[0]


def test_colour_only_on_a_terminal_without_no_color() -> None:
    """NO_COLOR, TERM=dumb and a pipe each turn colour off."""
    assert [wants_color(_Tty(), {}), wants_color(_Tty(), {"NO_COLOR": "1"}),
            wants_color(_Tty(), {"TERM": "dumb"}), wants_color(io.StringIO(), {})] == [
        True, False, False, False]


def test_not_a_terminal_gets_plain_lines() -> None:
    """On a pipe the reporter writes plain lines (no live line, no escape codes)."""

    class Clock:
        def monotonic_ns(self) -> int:
            return 0

    stream = io.StringIO()
    reporter = for_terminal(Clock(), quiet=False, stream=stream, env={})  # type: ignore[arg-type]
    assert isinstance(reporter, LineProgress)
    with reporter:
        reporter._say("hello")
    assert stream.getvalue() == "mode: hello\n"
