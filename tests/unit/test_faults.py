"""Fault plans as data, and every fault kind injected and survived (or explicitly failed)."""

from __future__ import annotations

import json

import pytest

from dubnium.records import AttemptRecord
from simulator.campaign import EXPLICIT, Run
from simulator.faults import (
    Fault,
    FaultKind,
    FaultPlan,
    Op,
    advance,
    draw_plan,
    fault,
    request,
)

# For each kind: a hand-written plan that exposes it, and the outcomes of its requests,
# then of the two liveness requests that follow the heal (the last mode, then desktop).
CASES: dict[FaultKind, tuple[list[Op], list[str]]] = {
    FaultKind.UNIT_START_FAILS: (
        [fault("unit_start_fails", unit="vllm"), request("compute")],
        ["rolled-back", "converged", "converged"]),
    FaultKind.UNIT_START_SLOW: (
        [fault("unit_start_slow", unit="vllm", start_s=400.0), request("compute")],
        ["rolled-back", "converged", "converged"]),
    FaultKind.UNIT_JOB_HANGS: (
        [fault("unit_job_hangs", unit="studio_policy", job="start"), request("studio-local")],
        ["rolled-back", "converged", "converged"]),
    FaultKind.ACTION_TIMEOUT: (
        [fault("action_timeout", action="isolate", times=1), request("compute")],
        ["converged", "already-converged", "converged"]),
    FaultKind.ACTION_IGNORED: (
        [fault("action_ignored", action="start_unit", times=5), request("studio-local")],
        ["rolled-back", "converged", "converged"]),
    FaultKind.SESSION_NEVER_EXITS: (
        [fault("session_never_exits"), request("compute")],
        ["rolled-back", "converged", "converged"]),
    FaultKind.SECOND_SESSION: (
        [fault("second_session", type="x11", user="guest"), request("compute")],
        ["blocked", "blocked", "already-converged"]),
    FaultKind.LOGIND_ERROR: (
        [fault("logind_error", how="error", temporary=False, times=3), request("compute")],
        ["converged", "already-converged", "converged"]),
    FaultKind.GPU_RELEASE_LATE: (
        [fault("gpu_release_late", delay_s=8.0), request("compute")],
        ["converged", "already-converged", "converged"]),
    FaultKind.GPU_RELEASE_PARTIAL: (
        [fault("gpu_release_partial", residual_mib=600), request("compute")],
        ["degraded", "degraded", "converged"]),
    FaultKind.GPU_RELEASE_NEVER: (
        [fault("gpu_release_never"), request("compute")],
        ["degraded", "degraded", "converged"]),
    FaultKind.GPU_HIDDEN_MEMORY: (
        [fault("gpu_hidden_memory", gpu=0, mib=1500), request("compute")],
        ["rolled-back", "rolled-back", "already-converged"]),
    FaultKind.AUDIO_MID_TRANSITION: (
        [fault("audio_mid_transition", name="firefox", after_observations=3),
         request("compute")],
        ["converged", "already-converged", "converged"]),
    FaultKind.JACK_MID_TRANSITION: (
        [fault("jack_mid_transition", name="ardour", after_observations=2),
         request("compute")],
        ["converged", "already-converged", "converged"]),
    FaultKind.VLLM_OOM: (
        [fault("vllm_oom", need_mib=30000), request("compute")],
        ["rolled-back", "converged", "converged"]),
    FaultKind.VLLM_CRASH_LOOP: (
        [fault("vllm_crash_loop", times=2), request("compute")],
        ["rolled-back", "converged", "converged"]),
    FaultKind.CONTROLLER_KILLED: (
        [fault("controller_killed", after_steps=4, torn_record=True), request("compute")],
        ["killed", "converged", "converged"]),
    FaultKind.SLICE_WEIGHTS_CHANGED: (
        [request("studio-local"),
         fault("slice_weights_changed", slice="ai.slice", cpu_weight=333, when="now"),
         request("desktop")],
        ["converged", "converged", "already-converged"]),
    FaultKind.STATE_FILE_CORRUPT: (
        [request("studio-local"),
         fault("state_file_corrupt", file="studio-saved-slices.json", how="garbage"),
         request("desktop")],
        ["converged", "converged", "already-converged"]),
    FaultKind.CLOCK_JUMP: (
        [fault("clock_jump", by_s=-3600.0), request("compute")],
        ["converged", "already-converged", "converged"]),
    FaultKind.EVIDENCE_UNAVAILABLE: (
        [fault("evidence_unavailable", group="gpus", for_observations=30), request("compute")],
        ["rolled-back", "converged", "converged"]),  # release never verified: not compute
    FaultKind.STORAGE_FAULT: (
        [request("studio-local"), fault("storage_fault", how="full", free_bytes=0),
         request("compute")],
        ["converged", "storage-failed", "converged", "converged"]),  # exit 8, then healed
    FaultKind.DISPLAY_MANAGER_FAILS: (  # the repair is tried and fails; after heal, it works
        [fault("display_manager_fails", crash_now=True), request("desktop")],
        ["failed-transition", "converged"]),
    FaultKind.COMPOSITOR_CRASHES: (  # degraded-desktop until the display manager logs in
        [fault("compositor_crashes", when="now"), request("desktop")],
        ["converged", "already-converged"]),
    FaultKind.GREETER_RETAKES_GPU: (  # the greeter comes and goes before the release check
        [fault("greeter_retakes_gpu", stop_s=5.0), request("compute")],
        ["converged", "already-converged", "converged"]),
    FaultKind.SESSION_STUCK_CLOSING: (  # its compositor lives on: never released
        [fault("session_stuck_closing", when="mid_transition", after_observations=1),
         request("compute")],
        ["rolled-back", "converged", "converged"]),
}


def test_every_fault_kind_has_a_case() -> None:
    """The table below covers every fault kind there is."""
    assert set(FaultKind) == set(CASES)


@pytest.mark.parametrize("kind", list(FaultKind), ids=lambda k: k.value)
def test_each_fault_kind_is_injected_and_survived(kind: FaultKind) -> None:
    """The fault is applied, every invariant holds, outcomes are explicit, liveness holds."""
    ops, expected = CASES[kind]
    run = Run(FaultPlan(7, 2, (kind,), tuple(ops)))
    result = run.run()
    assert (1, [], None) == (result.faults.get(kind.value), list(result.violations),
                             result.crash)
    assert expected == run.log
    assert all(o in EXPLICIT or o in ("killed", "storage-failed") for o in run.log)


def test_a_killed_controller_leaves_a_recovered_lock_and_an_abandoned_record() -> None:
    """After a kill mid-transition the next request recovers the lock and records both."""
    ops, _ = CASES[FaultKind.CONTROLLER_KILLED]
    run = Run(FaultPlan(7, 2, (FaultKind.CONTROLLER_KILLED,), tuple(ops)))
    run.run()
    outcomes = [r.outcome.value for r in run.station.records()]
    assert ["abandoned", "converged", "converged"] == outcomes
    second = run.station.records()[1]
    assert (True, True) == (isinstance(second, AttemptRecord),
                            getattr(second, "lock_recovered", None) is not None)


def test_a_plan_round_trips_through_json() -> None:
    """A drawn plan written as JSON reads back as the same plan."""
    plan = draw_plan(1234)
    assert plan == FaultPlan.from_json(json.loads(plan.dumps()))


def test_the_same_seed_draws_the_same_plan_and_seeds_differ() -> None:
    """Plans depend on the seed only; swarm testing gives seeds different kind subsets."""
    assert draw_plan(5) == draw_plan(5)
    assert len({draw_plan(s).kinds for s in range(40)}) > 30


def test_a_malformed_plan_is_refused_with_its_reason() -> None:
    """A plan with an unknown fault kind is a ValueError naming the problem."""
    data = {"schema_version": 1, "seed": 1, "ops": [{"op": "fault", "kind": "meteor"}]}
    with pytest.raises(ValueError, match="not a fault plan: 'meteor'"):
        FaultPlan.from_json(data)


def test_hand_written_ops_serialise_as_documented() -> None:
    """Requests, faults and time passing are plain JSON objects."""
    ops = [request("compute"), fault("gpu_release_never"), advance(2)]
    assert [{"op": "request", "mode": "compute"}, {"op": "fault", "kind": "gpu_release_never"},
            {"op": "advance", "s": 2.0}] == [op.to_json() for op in ops]
    assert Fault(FaultKind.GPU_RELEASE_NEVER, {}) == Op.from_json(ops[1].to_json()).fault


def test_a_fault_that_cannot_apply_now_is_recorded_as_skipped() -> None:
    """Corrupting a state file that does not exist yet injects nothing."""
    run = Run(FaultPlan(7, 2, (FaultKind.STATE_FILE_CORRUPT,), (
        fault("state_file_corrupt", file="desired", how="truncate"), request("desktop"))))
    result = run.run()
    assert {} == dict(result.faults)
