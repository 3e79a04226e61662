"""`mode-sim` arguments and fault plans are checked before anything runs (issue 11).

Before: `mode-sim advance 1e30` broke every later verb, `gpu release 0 delayed --delay-s
nan` crashed the next transition, and 26 of 250 mutated fault plans crashed the campaign
(exit 42, KeyError/ValueError) instead of a usage error naming the bad op.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dubnium.codes import ExitCode
from dubnium_app.compose import main as mode_main
from simulator.campaign import run_plan
from simulator.cli import main as sim_main
from simulator.faults import draw_plan
from simulator.plancheck import PlanError, check_plan


def _run(entry: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        entry(argv)
    code = stopped.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["advance", "1e30"], ["advance", "nan"], ["advance", "-1"], ["advance", "inf"],
    ["gpu", "release", "0", "delayed", "--delay-s", "nan"],
    ["gpu", "release", "99", "never"], ["load", "set", "nan"], ["load", "set", "1", "--cpus", "0"],
    ["memory", "fill", "-5"], ["job", "add", "cargo", "--runtime-s", "1e300"],
    ["audio", "start", "a\nb"], ["session", "add", "--user", "x" * 100_000],
])
def test_bad_sim_arguments_are_usage_errors_and_the_world_still_works(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Each bad argument: exit 2, one short line; then the world still switches."""
    state = ["--state-dir", str(tmp_path)]
    assert _run(sim_main, [*state, "create"], capsys)[0] == 0
    code, err = _run(sim_main, [*state, *argv], capsys)
    assert (code, len(err.splitlines())) == (ExitCode.USAGE, 1), err
    assert len(err) < 400
    after = _run(mode_main, ["--backend", "sim", *state, "request", "compute"], capsys)
    assert after[0] == 0, after[1]


def _plan(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "seed": 1, "gpus": 2, "kinds": [], "ops": list(ops)}


BAD_PLANS: list[tuple[dict[str, Any], str]] = [
    (_plan({"op": "fault", "kind": "controller_killed"}), "ops[0].after_steps: missing"),
    (_plan({"op": "request", "mode": "compute"},
           {"op": "fault", "kind": "action_timeout", "action": "isolate", "times": "x"}),
     "ops[1].times: expected an integer"),
    (_plan({"op": "fault", "kind": "clock_jump", "by_s": 1e308}), "ops[0].by_s: expected a finite"),
    (_plan({"op": "advance", "s": -1}), "ops[0].s: expected a finite number"),
    (_plan({"op": "fault", "kind": "unit_start_fails", "unit": "nope"}), "ops[0].unit"),
    (_plan({"op": "fault", "kind": "meteor"}), "ops[0].kind: expected a fault kind"),
    (_plan({"op": "jump"}), "ops[0].op: expected request, fault or advance"),
    (_plan({"op": "fault", "kind": "gpu_release_never", "extra": 1}),
     "ops[0].extra: unknown parameter"),
    (_plan({"op": "fault", "kind": "second_session", "type": "tty", "user": "u",
            "when": "mid_transition"}), "ops[0].after_observations: missing"),
    ({**_plan(), "seed": -1}, "seed: expected an integer"),
    ({**_plan(), "gpus": 3}, "gpus: expected one of 1, 2"),
]


@pytest.mark.parametrize(("data", "message"), BAD_PLANS, ids=[m for _, m in BAD_PLANS])
def test_a_bad_plan_names_the_op_index_and_field(data: dict[str, Any], message: str) -> None:
    """check_plan refuses the first bad field, naming ops[i].field."""
    with pytest.raises(PlanError) as caught:
        check_plan(data)
    assert message in str(caught.value)


def test_replay_of_a_bad_plan_file_exits_2_naming_the_op(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mode-sim replay --plan bad.json`: exit 2, one line with the file, index and field."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan({"op": "request", "mode": "compute"},
                                     {"op": "fault", "kind": "controller_killed"})))
    code, err = _run(sim_main, ["replay", "--plan", str(path)], capsys)
    assert (code, len(err.splitlines())) == (ExitCode.USAGE, 1)
    assert "ops[1].after_steps: missing" in err


def test_every_drawn_plan_passes_the_check() -> None:
    """The checker accepts what the campaign draws (no false refusals), for 300 seeds."""
    plans = [draw_plan(seed) for seed in range(300)]
    assert [check_plan(json.loads(p.dumps())) for p in plans] == plans


def _mutations(seed: int) -> list[dict[str, Any]]:
    """Single-field mutations of one drawn plan (the issue's 250 mutated plans)."""
    base = json.loads(draw_plan(seed).dumps())
    out: list[dict[str, Any]] = []
    for i, op in enumerate(base["ops"]):
        for key in [k for k in op if k != "op"]:
            for value in (None, -1, "x", 1e308, [], True):
                mutated = json.loads(json.dumps(base))
                mutated["ops"][i][key] = value
                out.append(mutated)
            dropped = json.loads(json.dumps(base))
            del dropped["ops"][i][key]
            out.append(dropped)
    return out


def test_mutated_plans_are_refused_or_run_without_crashing() -> None:
    """250 mutated plans: each is a PlanError before the run, or runs with no crash."""
    mutated = [m for seed in range(40) for m in _mutations(seed)][:250]
    crashes = []
    for data in mutated:
        try:
            plan = check_plan(data)
        except PlanError:
            continue
        result = run_plan(plan)
        if result.crash is not None:
            crashes.append((data, result.crash.splitlines()[-1]))
    assert (len(mutated), crashes) == (250, [])
