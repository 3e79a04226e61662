"""Honest status, status bars, metrics and history filters on the simulated host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dubnium.codes import ExitCode
from dubnium.render import lock_text
from tests.unit.test_cli import Shell


@pytest.fixture
def shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Shell:
    sh = Shell(tmp_path / "state", capsys)
    assert sh.run("mode-sim", "create", "--seed", "5", "--gpus", "1")[0] == 0
    return sh


def test_status_says_simulator_and_converged(shell: Shell) -> None:
    """On the simulator, status says so and that the host is converged (exit 0 with --check)."""
    code, out, _ = shell.run("mode", "status", "--check")
    assert (code, out.splitlines()[0].startswith("backend:   SIMULATOR"),
            "converged: yes (desktop)" in out) == (0, True, True)


def test_check_exits_26_when_observed_is_not_desired(shell: Shell) -> None:
    """A GUI that dies under compute: status --check exits 26 and names the converging command."""
    assert shell.run("mode", "request", "compute", "-q")[0] == 0
    shell.run("mode-sim", "session", "add", "--type", "wayland", "--user", "alice")
    code, out, _ = shell.run("mode", "status", "--check")
    assert (code, "converged: no; to converge: mode reconcile compute" in out) == (
        ExitCode.DIVERGED, True)


def test_last_blockers_are_labelled_with_their_time(shell: Shell) -> None:
    """After a blocked request, the blockers are shown as the last attempt's, with its time."""
    shell.run("mode-sim", "audio", "start", "music")
    shell.run("mode", "request", "compute", "-q")
    shell.run("mode-sim", "audio", "stop", "music")
    data = shell.json("status")
    _, out, _ = shell.run("mode", "status")
    when = data["last_transition"]["finished_at"]
    assert f"  blocked then by: audio_idle (as of {when}; `mode guards compute` checks now)" in (
        out.splitlines())


def test_a_busy_lock_reads_as_a_sentence() -> None:
    """A holder we can read names pid, target and time; one we cannot is said so, no '?'."""
    assert (lock_text({"pid": 42, "target": "compute", "started_at": "T"}),
            lock_text({"pid": "?"})) == (
        "held by pid 42, switching to compute since T",
        "held by another transition (its holder record is not readable by this user)")


def test_waybar_object(shell: Shell) -> None:
    """status --waybar prints text, alt, tooltip and class for a waybar custom module."""
    _, out, _ = shell.run("mode", "status", "--waybar")
    data = json.loads(out)
    assert (data["text"], data["alt"], data["class"]) == (
        "desktop", "desktop", ["desktop", "converged", "simulated"])


def test_refresh_writes_the_textfile(shell: Shell) -> None:
    """current --refresh writes node-exporter metrics: state, desired, outcomes, blocks."""
    shell.run("mode-sim", "audio", "start", "music")
    shell.run("mode", "request", "compute", "-q")
    shell.run("mode", "current", "--refresh")
    text = (shell.state / "mode.prom").read_text()
    wanted = ['dubnium_observed_state{state="desktop"} 1',
              'dubnium_observed_state{state="compute"} 0',
              'dubnium_desired_mode{mode="desktop"} 1',
              'dubnium_transitions_total{outcome="blocked"} 1',
              'dubnium_guard_blocks_total{guard="audio_idle"} 1',
              "dubnium_converged 1"]
    assert [w for w in wanted if w not in text.splitlines()] == []


def test_history_filters(shell: Shell) -> None:
    """--outcome and --since select records; JSON Lines has one record a line."""
    shell.run("mode-sim", "audio", "start", "music")
    shell.run("mode", "request", "compute", "-q")
    shell.run("mode-sim", "audio", "stop", "music")
    shell.run("mode", "request", "studio-local", "-q")
    _, out, _ = shell.run("mode", "history", "--json", "--outcome", "converged")
    assert [json.loads(x)["target"] for x in out.splitlines()] == ["studio-local"]
    _, out, _ = shell.run("mode", "history", "--json", "--since", "2999-01-01")
    assert out == ""
    _, out, _ = shell.run("mode", "history", "--json", "--since", "2000-01-01T00:00:00Z",
                          "--limit", "1")
    assert [json.loads(x)["outcome"] for x in out.splitlines()] == ["converged"]
    code, _, err = shell.run("mode", "history", "--outcome", "great")
    assert (code, "unknown outcome 'great'" in err) == (ExitCode.USAGE, True)
