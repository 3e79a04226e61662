"""Each guard blocks with its own code and reason, and errors when evidence is missing."""

from __future__ import annotations

import attrs
import pytest

from dubnium.codes import ExitCode, GuardId
from dubnium.facts import (
    AudioGraph,
    AudioNode,
    LoadFact,
    MemoryFact,
    ModelFact,
    PathFact,
    ProcessFact,
    SessionFact,
    Unavailable,
    UnitFact,
    Units,
)
from dubnium.guards import GUARDS, Severity, Status, evaluate
from dubnium.modes import Mode
from dubnium.policy import Placement, Thresholds
from tests import factories as f

STREAM = AudioNode(50, "firefox", "Stream/Output/Audio", "running", app_pid=777)


def test_guard_exit_codes_are_distinct_and_in_the_policy_block_ranges() -> None:
    """One code per guard: the first ten 10-19, the later ones from 30 (ADR 0010)."""
    codes = [g.exit_code for g in GuardId]
    later = len(GuardId) - 10
    assert sorted(codes) == list(range(10, 20)) + list(range(30, 30 + later))


BLOCKING_CASES = [
    (GuardId.AUDIO_IDLE, f.desktop(audio=AudioGraph((f.SINK, STREAM))), "audio stream 'firefox'"),
    (GuardId.AUDIO_IDLE, f.desktop(processes=(f.COMPOSITOR,
                                              ProcessFact(900, "reaper", 1000, 50.0))), "REAPER"),
    (GuardId.CPU_LOAD_SAFE, f.desktop(load=LoadFact(30.0, 20.0, 10.0, 16)), "per core above"),
    (GuardId.USER_JOBS_SAFE, f.desktop(processes=(f.COMPOSITOR,
                                                  ProcessFact(901, "cargo", 1000, 3600.0))),
     "cargo (pid 901"),
    (GuardId.MEMORY_HEADROOM, f.desktop(memory=MemoryFact(65536, 1000)), "1000 MiB available"),
    (GuardId.PERSISTENCE_PATHS_READY,
     f.desktop(paths=(PathFact("/var/lib/dubnium/models", False, False),)), "does not exist"),
    (GuardId.GRAPHICAL_SESSION_TERMINABLE,
     f.desktop(sessions=(f.SESSION, SessionFact("5", "guest", "x11", "user", "active", 2000))),
     "2 users"),
    (GuardId.GPU_DISPLAY_RELEASED, f.desktop(), "held by compositor"),
    (GuardId.TARGET_REACHABLE, f.desktop(units=Units(())), "not-found"),
]


@pytest.mark.parametrize(("guard", "facts", "reason"), BLOCKING_CASES,
                         ids=[c[0].value + str(i) for i, c in enumerate(BLOCKING_CASES)])
def test_guard_blocks_with_its_code_and_reason(guard: GuardId, facts: object,
                                               reason: str) -> None:
    """The guard blocks, exits with its own code and names what it saw."""
    verdict = GUARDS[guard](facts, f.POLICY, Mode.COMPUTE)  # type: ignore[arg-type]
    assert (verdict.status, verdict.exit_code) == (Status.BLOCK, guard.exit_code)
    assert reason in verdict.reason


def test_capability_elsewhere_blocks_studio() -> None:
    """Studio placed remote: studio-local is refused by capability_local."""
    policy = attrs.evolve(f.POLICY, placement=Placement(studio="remote"))
    verdict = GUARDS[GuardId.CAPABILITY_LOCAL](f.desktop(), policy, Mode.STUDIO_LOCAL)
    assert (verdict.status, verdict.exit_code) == (Status.BLOCK, 18)


def test_vllm_mid_start_is_not_drainable() -> None:
    """vLLM activating: vllm_drainable blocks until it settles."""
    from dubnium.facts import ActiveState

    facts = f.compute(units=Units((UnitFact("vllm.service", ActiveState.ACTIVATING),
                                   UnitFact("compute.target", ActiveState.ACTIVE))))
    verdict = GUARDS[GuardId.VLLM_DRAINABLE](facts, f.POLICY, Mode.DESKTOP)
    assert verdict.status is Status.BLOCK


@pytest.mark.parametrize("guard", list(GuardId))
def test_unavailable_evidence_is_a_check_error_that_blocks(guard: GuardId) -> None:
    """With every evidence group unavailable, no guard passes by assumption."""
    gone = Unavailable("daemon down")
    facts = attrs.evolve(f.desktop(), units=gone, sessions=gone, processes=gone, audio=gone,
                         gpus=gone, load=gone, memory=gone, paths=gone, model=gone)
    verdict = GUARDS[guard](facts, f.POLICY, Mode.COMPUTE)
    if guard is GuardId.CAPABILITY_LOCAL:  # decided by policy alone
        assert verdict.status is Status.PASS
    else:
        assert (verdict.status, verdict.exit_code, verdict.blocks) == (
            Status.ERROR, ExitCode.GUARD_CHECK_ERROR, True)


def test_model_present_blocks_compute_without_the_local_model() -> None:
    """A model not seeded in the model store blocks compute with exit 30 and the runbook."""
    missing = ModelFact(f.MODEL.path, present=False)
    verdict = GUARDS[GuardId.MODEL_PRESENT](f.desktop(model=missing), f.POLICY, Mode.COMPUTE)
    assert (Status.BLOCK, 30, True) == (verdict.status, verdict.exit_code, verdict.blocks)
    assert "docs/runbooks/model-seeding.md" in verdict.reason


def test_model_present_passes_a_seeded_model_and_other_targets() -> None:
    """A seeded model passes; studio-local and a host without vLLM never need one."""
    missing = f.desktop(model=ModelFact(f.MODEL.path, present=False))
    no_vllm = attrs.evolve(f.POLICY, vllm=attrs.evolve(f.POLICY.vllm, enable=False))
    guard = GUARDS[GuardId.MODEL_PRESENT]
    assert [Status.PASS] * 3 == [
        guard(f.desktop(), f.POLICY, Mode.COMPUTE).status,
        guard(missing, f.POLICY, Mode.STUDIO_LOCAL).status,
        guard(attrs.evolve(missing, model=None), no_vllm, Mode.COMPUTE).status,
    ]


def test_soft_guard_warns_instead_of_blocking() -> None:
    """A guard listed as soft in the policy reports but does not block."""
    policy = attrs.evolve(f.POLICY, thresholds=Thresholds(soft=("cpu_load_safe",)))
    facts = f.desktop(load=LoadFact(30.0, 20.0, 10.0, 16))
    report = evaluate([GuardId.CPU_LOAD_SAFE], facts, policy, Mode.COMPUTE)
    verdict = report.verdicts[0]
    assert (verdict.severity, verdict.status, report.blocking, report.exit_code) == (
        Severity.SOFT, Status.BLOCK, (), 0)
    assert report.warnings == (verdict,)


def test_report_exit_code_is_the_first_blocking_guard() -> None:
    """Evaluation order decides which block code a request exits with."""
    facts = f.desktop(audio=AudioGraph((STREAM,)), memory=MemoryFact(65536, 10))
    report = evaluate([GuardId.AUDIO_IDLE, GuardId.MEMORY_HEADROOM], facts, f.POLICY,
                      Mode.COMPUTE)
    assert report.exit_code == GuardId.AUDIO_IDLE.exit_code
    assert [v.guard for v in report.blocking] == [GuardId.AUDIO_IDLE, GuardId.MEMORY_HEADROOM]


def test_healthy_desktop_passes_every_pre_compute_guard() -> None:
    """Nothing blocks compute on an idle desktop."""
    from dubnium.plan import PRE_COMPUTE

    report = evaluate(PRE_COMPUTE, f.desktop(), f.POLICY, Mode.COMPUTE)
    assert [v.reason for v in report.blocking] == []


def test_the_executor_evaluates_guards_once_per_snapshot_object() -> None:
    """The same snapshot object and guards: the very report again; another snapshot or
    another target: evaluated afresh, equal to `evaluate`."""
    import attrs

    from dubnium.executor import StepExecutor
    from dubnium.guards import evaluate
    from dubnium.modes import Mode
    from dubnium.state import MemoryStore, RuntimeState
    from simulator.harness import Station

    station = Station.create(seed=2)
    executor = StepExecutor(station.backend, station.policy, RuntimeState(MemoryStore()),
                            lambda: "now")
    ids = (GuardId.TARGET_REACHABLE, GuardId.CPU_LOAD_SAFE)
    facts = station.backend.snapshot()
    first, again = executor.guards(ids, facts, Mode.COMPUTE), executor.guards(
        ids, facts, Mode.COMPUTE)
    loaded = attrs.evolve(facts, load=attrs.evolve(facts.load, load1=99.0))
    changed = executor.guards(ids, loaded, Mode.COMPUTE)
    desktop = executor.guards(ids, loaded, Mode.DESKTOP)
    assert (True, evaluate(ids, loaded, station.policy, Mode.COMPUTE),
            evaluate(ids, loaded, station.policy, Mode.DESKTOP)) == (
        first is again, changed, desktop)
