"""The `mode` verbs on the simulated host: output shapes and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dubnium.audit import FileAuditLog
from dubnium.codes import ExitCode
from dubnium_app.compose import main as mode_main
from simulator.cli import main as sim_main


class Shell:
    def __init__(self, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.state = state
        self.capsys = capsys

    def run(self, tool: str, *args: str) -> tuple[int, str, str]:
        entry = mode_main if tool == "mode" else sim_main
        argv = ["--state-dir", str(self.state), *args]
        if tool == "mode":
            argv = ["--backend", "sim", *argv]
        with pytest.raises(SystemExit) as stopped:
            entry(argv)
        out, err = self.capsys.readouterr()
        code = stopped.value.code
        return (code if isinstance(code, int) else 0), out, err

    def json(self, *args: str) -> Any:
        code, out, err = self.run("mode", *args, "--json")
        assert code in (0, 25), err
        return json.loads(out)


@pytest.fixture
def shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Shell:
    sh = Shell(tmp_path / "state", capsys)
    assert sh.run("mode-sim", "create", "--seed", "5")[0] == 0
    return sh


def test_current_json_is_the_observer_json(shell: Shell) -> None:
    """`mode current --json` carries the seed 002 keys, plus evidence."""
    data = shell.json("current")
    assert data["observed_state"] == "desktop"
    assert {"confidence", "degraded", "signals", "conflicts", "timestamp", "evidence"} <= set(data)


def test_request_prints_record_and_exits_zero(shell: Shell) -> None:
    """A converged request exits 0 and its JSON is the transition record."""
    code, out, _ = shell.run("mode", "request", "studio-local", "--json")
    assert (code, json.loads(out)["outcome"]) == (0, "converged")
    assert shell.json("desired")["desired"] == "studio-local"
    assert shell.json("last-transition")["outcome"] == "converged"


def test_guards_exits_with_the_first_blocking_code(shell: Shell) -> None:
    """`mode guards compute` with REAPER open exits 11 and lists the verdicts."""
    shell.run("mode-sim", "reaper", "start")
    code, out, _ = shell.run("mode", "guards", "compute", "--json")
    data = json.loads(out)
    assert (code, data["blocking"]) == (11, ["audio_idle"])


def test_dry_run_changes_nothing(shell: Shell) -> None:
    """dry-run prints the plan; the host and desired stay as they were."""
    plan = shell.json("dry-run", "compute")
    assert [leg["leg"] for leg in plan["legs"]] == ["T3"]
    assert shell.json("current")["observed_state"] == "desktop"
    assert shell.json("desired")["desired"] is None


def test_explain_shows_plan_and_live_verdicts(shell: Shell) -> None:
    """explain MODE combines the plan and each leg's guard report."""
    data = shell.json("explain", "studio-local")
    assert (data["plan"]["legs"][0]["leg"], data["guards"][0]["passed"]) == ("T1", True)


def test_history_lists_every_attempt(shell: Shell) -> None:
    """Two requests, two history entries, in order."""
    shell.run("mode", "request", "compute")
    shell.run("mode", "request", "desktop")
    code, out, _ = shell.run("mode", "history", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert (code, [r["target"] for r in lines]) == (0, ["compute", "desktop"])


def test_status_reports_desired_current_and_last(shell: Shell) -> None:
    """status distinguishes desired from current and names the last outcome."""
    shell.run("mode-sim", "audio", "start", "music")
    shell.run("mode", "request", "compute")
    data = shell.json("status")
    assert (data["desired"], data["observed_state"],
            data["last_transition"]["outcome"], data["last_transition"]["blocking"]) == (
        "desktop", "desktop", "blocked", ["audio_idle"])


def test_doctor_reports_every_evidence_group(shell: Shell) -> None:
    """doctor lists each evidence group and the GPU topology against the config."""
    data = shell.json("doctor")
    assert set(data["evidence"].values()) == {"ok"}
    assert data["gpu_topology"]["matches"] is True


def test_missing_world_is_backend_unavailable(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Without `mode-sim create`, status explains what to do, exit 4."""
    code, _, err = Shell(tmp_path / "none", capsys).run("mode", "status")
    assert code == ExitCode.BACKEND_UNAVAILABLE
    assert "mode-sim create" in err


def test_mode_current_reports_missing_evidence_with_25(shell: Shell) -> None:
    """A group of evidence that cannot be read makes `mode current` exit 25."""
    world = shell.state / "sim-world.json"
    data = json.loads(world.read_text())
    data["unavailable"] = {"audio": "pw-dump: Host is down"}
    world.write_text(json.dumps(data))
    code, out, err = shell.run("mode", "current")
    assert (code, out.strip()) == (ExitCode.EVIDENCE_UNAVAILABLE, "desktop")
    assert "Host is down" in err


def test_current_json_lists_every_contract_term(shell: Shell) -> None:
    """`mode current --json` shows each contract's terms with pass, fail or unreadable."""
    data = shell.json("current")
    terms = {mode: [t["status"] for t in c["terms"]] for mode, c in data["contracts"].items()}
    assert ({"desktop", "studio-local", "compute"}, "desktop", []) == (
        set(terms), data["judged_against"], data["missing"])
    assert (["pass"] * 9) == terms["desktop"]


def _history(shell: Shell, *args: str) -> list[Any]:
    code, out, err = shell.run("mode", "history", *args, "--json")
    assert 0 == code, err
    return [json.loads(line) for line in out.splitlines()]


def test_history_reads_across_rotated_segments_newest_last(shell: Shell) -> None:
    """`mode history` gives the last records across events.jsonl.N and events.jsonl."""
    log = FileAuditLog(shell.state / "events.jsonl", rotate_bytes=400)
    for n in range(40):
        log.append({"n": n, "finished_at": f"2026-11-30T00:00:{n:02d}.000Z"})
    assert len(log.segments()) > 3
    assert [36, 37, 38, 39] == [r["n"] for r in _history(shell, "--limit", "4")]
    assert list(range(40)) == [r["n"] for r in _history(shell, "--limit", "100")]


def test_history_since_reads_only_the_newer_records(shell: Shell) -> None:
    """--since keeps the records finished at or after it, across a rotation."""
    log = FileAuditLog(shell.state / "events.jsonl", rotate_bytes=300)
    for n in range(12):
        log.append({"n": n, "finished_at": f"2026-11-30T00:00:{n:02d}.000Z",
                    "outcome": "converged", "requested": "desktop"})
    assert len(log.segments()) > 2
    got = _history(shell, "--since", "2026-11-30T00:00:09Z")
    assert [9, 10, 11] == [r["n"] for r in got]


def test_history_reports_a_damaged_line_with_where_it_is(shell: Shell) -> None:
    """A torn line is shown by segment and byte offset, kept as written."""
    (shell.state / "events.jsonl").write_text('{"n": 1}\n{"n": 2, "tor')
    got = _history(shell)
    assert {"schema_version": 1, "segment": "events.jsonl", "offset": 9,
            "raw": '{"n": 2, "tor'} == got[1]
    code, out, _ = shell.run("mode", "history")
    assert (0, "events.jsonl byte 9: damaged (kept as written)") == (code, out.splitlines()[1])


def test_sim_current_always_observes(shell: Shell) -> None:
    """The simulator's clock stands still between commands: its current is never served
    from the recorded file, even right after a transition wrote it."""
    assert shell.run("mode", "request", "studio-local")[0] == 0
    data = shell.json("current")
    assert ("observed", "studio-local") == (data["source"], data["observed_state"])


@pytest.mark.parametrize(("tool", "args", "where"), [
    ("mode", ["idle"], "mode idle -h"),
    ("mode-sim", ["audio"], "mode-sim audio --help"),
])
def test_a_bare_group_is_one_usage_line(shell: Shell, tool: str, args: list[str],
                                        where: str) -> None:
    """A group called without its command prints its help and one line: missing command."""
    code, out, err = shell.run(tool, *args)
    prog = "mode-sim" if tool == "mode-sim" else "mode"
    assert (code, err.splitlines(), "Usage" in out) == (
        2, [f"{prog}: missing command (see {where})"], True)


@pytest.mark.parametrize(("tool", "args", "code", "line"), [
    ("mode", ["status"], ExitCode.INTERRUPTED,
     "mode: interrupted before a switch started; nothing was changed"),
    ("mode-sim", ["show"], 130, "mode-sim: interrupted"),
])
def test_ctrl_c_inside_a_read_verb_is_one_line(shell: Shell, monkeypatch: pytest.MonkeyPatch,
                                               tool: str, args: list[str], code: int,
                                               line: str) -> None:
    """Ctrl-C while a read verb works: its exit code and one line on stderr (typer would
    return 130 silently)."""
    def interrupted(*_: object, **__: object) -> object:
        raise KeyboardInterrupt
    monkeypatch.setattr("simulator.backend.SimBackend.observe", interrupted)
    monkeypatch.setattr("simulator.persist.WorldFile.load", interrupted)
    got, _, err = shell.run(tool, *args)
    assert (got, err.splitlines()) == (int(code), [line])
