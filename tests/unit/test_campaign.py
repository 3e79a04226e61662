"""Campaigns: the invariants can fail, verdicts map to exit codes, replays are byte-identical,
and the CI campaign (1,000 seeds) is green."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from dubnium import plan as p
from dubnium.facts import SliceSettings, VllmProfile
from dubnium.modes import Mode
from dubnium.records import to_json
from simulator.backend import SimBackend
from simulator.campaign import (
    CampaignExit,
    CampaignResult,
    Run,
    SeedResult,
    replay_lines,
    run_campaign,
    shard_range,
)
from simulator.faults import FaultPlan, draw_plan, request
from simulator.invariants import LIVENESS, SAFETY, Violation
from simulator.systemd import UnitBehaviour


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _run(seed: int = 7) -> Run:
    return Run(FaultPlan(seed, 2))


def _rules(run: Run) -> list[str]:
    return sorted({v.rule for v in run.checker.violations})


# ------------------------------------------------------------------ the invariants can fail


def test_vllm_started_behind_the_studio_overlay_is_a_violation() -> None:
    """Starting vLLM by hand while studio-local is up breaks 'no vLLM in studio-local'."""
    run = _run()
    assert "converged" == run.request(Mode.STUDIO_LOCAL)
    world = run.station.world
    SimBackend(world).write_vllm_profile(VllmProfile("compute", (world.gpus[1].spec.uuid,), (1,)))
    SimBackend(world).start_unit(run.policy.units.vllm)
    world.advance(60)
    run.checker.check_now()
    assert ["no vLLM in studio-local"] == _rules(run)


def test_compute_placed_on_the_display_gpu_under_a_gui_is_a_violation() -> None:
    """vLLM loading onto GPU 0 while the desktop session is there breaks the GPU invariant."""
    run = _run()
    world = run.station.world
    run.station.observe()  # the controller has seen the desktop session
    SimBackend(world).write_vllm_profile(VllmProfile("compute", (world.gpus[0].spec.uuid,), (0,)))
    SimBackend(world).start_unit(run.policy.units.vllm)
    world.advance(60)
    run.checker.check_now()
    assert "no compute on the display GPU with a GUI" in _rules(run)


def test_a_record_claiming_a_mode_the_world_is_not_in_is_a_violation() -> None:
    """A 'converged to compute' record on a desktop world breaks honesty."""
    run = _run()
    run.checker.check_honesty({"attempt": "x", "outcome": "converged", "requested": "compute"})
    assert ["never report a mode the world is not in"] == _rules(run)


def test_an_unparsable_state_file_written_by_nobody_is_a_violation() -> None:
    """A runtime file that does not parse (and no fault corrupted it) breaks the rule."""
    run = _run()
    run.store.files["desired"] = b"sideways\n"
    run.checker.check_now()
    assert ["state files parse"] == _rules(run)


def test_a_file_a_fault_corrupted_is_excused_until_rewritten() -> None:
    """A corrupted file is not the controller's fault until it writes that file again."""
    run = _run()
    run.request(Mode.DESKTOP)
    run.store.files["desired"] = b"\x00"
    run.store.mark_corrupt("desired")
    run.checker.check_now()
    assert [] == _rules(run)


def test_a_second_live_attempt_is_a_violation() -> None:
    """Two attempts holding the lock at once break 'one lock holder'."""
    run = _run()
    run.checker.live_attempt = "1-1"
    run.checker.attempt_started("2-2")
    assert ["one lock holder"] == _rules(run)


def test_two_records_for_one_attempt_are_a_violation() -> None:
    """An attempt with two audit records breaks 'one audit record per attempt'."""
    run = _run()
    run.request(Mode.STUDIO_LOCAL)
    run.station.audit.append(to_json(run.station.records()[-1]))
    run.checker.check_now()
    assert ["one audit record per attempt"] == _rules(run)


def test_a_blocked_attempt_that_acted_is_a_violation() -> None:
    """A request reported as blocked must not have called any backend action."""
    run = _run()
    run.checker.live_attempt = "9-9"
    run.checker.action("stop_unit")
    run.checker.attempt_finished({"attempt": "9-9", "outcome": "blocked"})
    assert ["a refused request changes nothing"] == _rules(run)


def test_a_restore_that_leaves_other_values_is_a_violation() -> None:
    """Restore reported done while the slices differ from those saved on entry."""
    run = _run()
    run.checker.saved_on_entry = {"ai.slice": SliceSettings(cpu_weight=7)}
    run.checker.step_finished(p.RestoreSlices(), "ok", "restored the saved settings")
    assert ["studio exit restores the saved values"] == _rules(run)


def test_a_tuning_restore_that_leaves_other_values_is_a_violation() -> None:
    """Tuning restore reported done while PipeWire's clock differs from the world's own
    values before entry (issue 15)."""
    run = _run()
    run.checker.step_finished(p.SaveStudioTuning(), "ok", "saved clock.force-quantum=0")
    run.station.world.studio.force_quantum = 64
    run.checker.step_finished(p.RestoreStudioTuning(), "ok", "restored clock.force-quantum=0")
    assert ["studio exit restores the saved values"] == _rules(run)


def test_a_fake_gpu_holding_more_than_it_has_is_a_violation() -> None:
    """The fakes' own laws are checked too: a GPU over its total memory."""
    run = _run()
    gpu = run.station.world.gpus[1]
    gpu.spec = attrs.evolve(gpu.spec, reserved_mib=gpu.spec.total_mib + 1)
    run.checker.check_now()
    assert ["fake GPU memory"] == _rules(run)


def test_a_desktop_that_cannot_come_back_after_heal_is_a_liveness_violation() -> None:
    """When healing cannot make desktop reachable, liveness says so."""
    run = Run(FaultPlan(7, 2, (), (request(Mode.COMPUTE),)))
    broken = UnitBehaviour(start_fails=True)
    run.station.world.set_unit_behaviour(run.policy.units.display_manager, broken)
    run.defaults[run.policy.units.display_manager] = broken  # heal cannot undo it
    result = run.run()
    assert {LIVENESS} == {v.kind for v in result.violations}
    assert CampaignExit.LIVENESS == result.verdict


# ------------------------------------------------------------------ verdicts and exit codes


def _result(seed: int, *violations: Violation, crash: str | None = None) -> SeedResult:
    return SeedResult(seed, 1, 1, {}, {}, violations, crash, 0)


def test_the_worst_finding_decides_the_exit_code() -> None:
    """Safety beats liveness beats crash beats a nondeterministic trace."""
    safety = Violation(SAFETY, "r", "d", 0)
    liveness = Violation(LIVENESS, "r", "d", 0)

    def code(*results: SeedResult, nondet: tuple[int, ...] = ()) -> int:
        return int(CampaignResult(0, len(results), results, nondet, 0, 0.0, 1).exit_code)

    assert [0, 43, 42, 41, 40] == [
        code(_result(1)),
        code(_result(1), nondet=(1,)),
        code(_result(1, crash="boom"), nondet=(1,)),
        code(_result(1, liveness), _result(2, crash="boom")),
        code(_result(1, liveness), _result(2, safety, crash="boom")),
    ]


def test_shards_cover_the_seed_range_exactly_once() -> None:
    """Shard i/n are contiguous ranges whose union is the whole range."""
    shards = [shard_range(1000, (i, 7), first=50) for i in range(7)]
    assert list(range(50, 1050)) == [s for r in shards for s in r]
    with pytest.raises(ValueError, match="shard"):
        shard_range(10, (3, 3))


# ------------------------------------------------------------------ replay and determinism


def test_a_replay_trace_starts_with_the_seed_and_the_plan() -> None:
    """The header line holds the seed and the whole plan."""
    import json

    header = json.loads(replay_lines(draw_plan(11))[0])
    assert (11, draw_plan(11).to_json()) == (header["seed"], header["plan"])


def test_replay_from_the_shell_is_byte_identical_across_hash_seeds() -> None:
    """`mode-sim replay --seed S` writes the same bytes in processes with other hash seeds."""
    digests = set()
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([_tool("mode-sim"), "replay", "--seed", "88"], env=env,
                              capture_output=True, check=False, timeout=120)
        assert (0, b"") == (proc.returncode, proc.stderr)
        digests.add(hashlib.sha256(proc.stdout).hexdigest())
    assert 1 == len(digests)


def test_the_campaign_self_check_reruns_sampled_seeds() -> None:
    """Every sampled seed is re-run in a fresh interpreter and its trace compared."""
    result = run_campaign(range(0, 20), jobs=1, sample_every=10)
    assert (2, ()) == (result.resampled, result.nondeterministic)


def test_the_ci_campaign_of_1000_seeds_is_green() -> None:
    """`mode-sim campaign --seeds 1000 --jobs 2`: exit 0, and the summary table says why."""
    proc = subprocess.run([_tool("mode-sim"), "campaign", "--seeds", "1000", "--jobs", "2"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert 0 == proc.returncode, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("seeds run           1000 (0..999)")
    assert "  none" == lines[lines.index("violations") + 1]
    assert "exit                0 (ok)" == lines[-1]
