"""`mode-sim fault add|list|clear` on the persisted world, `mode-sim replay --keep-world`, and
the fault plan's JSON Schema (docs/schemas/fault-plan.schema.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from dubnium_app.compose import main as mode_main
from simulator.cli import main as sim_main
from simulator.faults import FaultKind, draw_fault, draw_plan
from simulator.persist import WorldFile
from simulator.planschema import plan_schema
from simulator.rng import SplitMix64

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "schemas" / "fault-plan.schema.json"
BIN = Path(sys.executable).parent


def _run(entry: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        entry(argv)
    out, err = capsys.readouterr()
    code = stopped.value.code
    return (code if isinstance(code, int) else 0), out + err


def _words(params: dict[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in params.items()]


@pytest.mark.parametrize("kind", [k for k in FaultKind if k not in (
    FaultKind.CONTROLLER_KILLED, FaultKind.STORAGE_FAULT)], ids=lambda k: k.value)
def test_every_fault_kind_can_be_added_from_the_shell(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: FaultKind) -> None:
    """`mode-sim fault add KIND params` (parameters drawn as a campaign draws them) exits 0,
    `fault list` names it, and a `mode request compute` after it ends with a stable code and
    no traceback; `fault clear` then empties the list."""
    state = str(tmp_path / "s")
    assert _run(sim_main, ["--state-dir", state, "create", "--seed", "3"], capsys)[0] == 0
    if kind is FaultKind.STATE_FILE_CORRUPT:  # needs a state file to corrupt
        _run(mode_main, ["--backend", "sim", "--state-dir", state, "request", "studio-local",
                         "--yes"], capsys)
    fault = draw_fault(kind, SplitMix64(7))
    params = dict(fault.params)
    if kind is FaultKind.STATE_FILE_CORRUPT:
        params = {"file": "last-transition.json", "how": "garbage"}
    code, out = _run(sim_main, ["--state-dir", state, "fault", "add", kind.value,
                                *_words(params)], capsys)
    listed = _run(sim_main, ["--state-dir", state, "fault", "list"], capsys)[1]
    request, said = _run(mode_main, ["--backend", "sim", "--state-dir", state, "request",
                                     "compute", "--yes"], capsys)
    cleared = _run(sim_main, ["--state-dir", state, "fault", "clear"], capsys)[0]
    after = _run(sim_main, ["--state-dir", state, "fault", "list"], capsys)[1]
    assert (0, True, False, True, 0, "no faults") == (
        code, kind.value in listed, "Traceback" in said, request in (0, 7, 11, 12, 13, 14, 15,
                                                                     16, 17, 18, 19, 20, 21,
                                                                     22, 23, 25),
        cleared, after.strip()), out + said


def test_a_bad_fault_is_refused_before_the_world_is_touched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown kind or a bad parameter: exit 2 with one line; the world file unchanged."""
    state = tmp_path / "s"
    _run(sim_main, ["--state-dir", str(state), "create", "--seed", "3"], capsys)
    before = (state / "sim-world.json").read_bytes()
    unknown = _run(sim_main, ["--state-dir", str(state), "fault", "add", "meteor"], capsys)
    bad = _run(sim_main, ["--state-dir", str(state), "fault", "add", "gpu_release_late",
                          "delay_s=-5"], capsys)
    disk = _run(sim_main, ["--state-dir", str(state), "fault", "add", "storage_fault",
                           "how=full"], capsys)
    assert (2, 2, 2, before) == (unknown[0], bad[0], disk[0],
                                 (state / "sim-world.json").read_bytes())


def test_an_armed_kill_is_a_real_sigkill_and_the_next_request_recovers(tmp_path: Path) -> None:
    """`fault add controller_killed after_steps=4`: the next `mode request compute` dies by
    SIGKILL before step 5 with the world half-done; the one after recovers and converges."""
    state = str(tmp_path / "s")

    def tool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / args[0]), "--state-dir", state, *args[1:]],
                              capture_output=True, text=True, timeout=120, check=False,
                              env={**os.environ, "DUBNIUM_BACKEND": "sim"})

    tool("mode-sim", "create", "--seed", "7")
    tool("mode-sim", "fault", "add", "controller_killed", "after_steps=4")
    killed = tool("mode", "request", "compute", "--yes")
    journal = json.loads((Path(state) / "journal.json").read_text())
    again = tool("mode", "request", "compute", "--yes")
    history = [json.loads(line)["outcome"]
               for line in tool("mode", "history", "--json").stdout.splitlines()]
    assert (-9, "T3", 5, 0, ["abandoned", "converged"]) == (
        killed.returncode, journal["leg"], journal["step_index"], again.returncode,
        history), killed.stderr + again.stderr


def test_replay_keep_world_leaves_a_world_mode_can_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mode-sim replay --seed 11 --keep-world`: `mode history` lists the run's attempts and
    `mode current` reads the final world."""
    state = str(tmp_path / "s")
    code, _ = _run(sim_main, ["--state-dir", state, "replay", "--seed", "11", "--keep-world"],
                   capsys)
    history = _run(mode_main, ["--backend", "sim", "--state-dir", state, "history", "--json"],
                   capsys)[1]
    current = _run(mode_main, ["--backend", "sim", "--state-dir", state, "current"], capsys)
    world = WorldFile(Path(state)).load()
    assert (0, True, 0, True) == (code, len(history.splitlines()) >= 2, current[0],
                                  world.now_ns > 0), history


def test_the_committed_schema_is_the_generated_one() -> None:
    """docs/schemas/fault-plan.schema.json equals `python -m simulator.planschema`."""
    assert plan_schema() == json.loads(SCHEMA.read_text())


def test_drawn_plans_and_the_doc_examples_validate_against_the_schema() -> None:
    """500 drawn plans and every example plan in docs/simulator.md are valid; a plan with a
    missing parameter or an unknown kind is not."""
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    Draft202012Validator.check_schema(validator.schema)
    bad = [s for s in range(500) if not validator.is_valid(draw_plan(s).to_json())]
    text = (ROOT / "docs" / "simulator.md").read_text()
    examples = [json.loads(block.split("```", 1)[0])
                for block in text.split("```json\n")[1:]]
    plans = [e for e in examples if isinstance(e, dict) and "ops" in e]
    missing = {"schema_version": 1, "seed": 1, "ops": [{"op": "fault",
                                                        "kind": "gpu_release_late"}]}
    unknown = {"schema_version": 1, "seed": 1, "ops": [{"op": "fault", "kind": "meteor"}]}
    assert ([], True, True, False, False) == (
        bad, len(plans) >= 2, all(validator.is_valid(p) for p in plans),
        validator.is_valid(missing), validator.is_valid(unknown))
