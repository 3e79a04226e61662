"""The independent oracle: it judges the simulated world's physical state against the mode
contracts, each new invariant can fail, and it catches an observer that only reads units."""

from __future__ import annotations

from dubnium.facts import HostFacts, Unavailable, VllmProfile
from dubnium.modes import Confidence, Mode, ObservedState
from dubnium.observe import Markers, Observation
from dubnium.policy import Policy
from simulator import oracle
from simulator.backend import SimBackend
from simulator.campaign import Run, run_plan
from simulator.faults import FaultPlan, draw_plan


def _run(seed: int = 7, **kw: object) -> Run:
    return Run(FaultPlan(seed, 2), **kw)  # type: ignore[arg-type]


def _rules(run: Run) -> list[str]:
    return sorted({v.rule for v in run.checker.violations})


def units_only(facts: HostFacts, policy: Policy, markers: Markers) -> Observation:
    """The observer as it was before the contracts: two unit states make a mode."""
    u, units = policy.units, facts.units
    state = ObservedState.UNKNOWN
    if not isinstance(units, Unavailable):
        if units.is_active(u.compute_target) and units.is_active(u.vllm):
            state = ObservedState.COMPUTE
        elif units.is_active(u.desktop_target):
            overlay = units.is_active(u.studio_policy) and units.is_active(u.audio_priority)
            state = ObservedState.STUDIO_LOCAL if overlay else ObservedState.DESKTOP
    if markers.transition_in_progress:
        state = ObservedState.TRANSITIONING
    return Observation(state, Confidence.HIGH, {}, (), {}, facts.observed_at_ns)


def test_the_booted_world_meets_the_desktop_contract() -> None:
    """A freshly booted workstation is desktop by the oracle, and only desktop."""
    run = _run()
    assert ("desktop", []) == (oracle.judge(run.station.world, run.policy),
                               oracle.missing(run.station.world, run.policy, "desktop"))


def test_display_manager_stopped_behind_the_controller_is_not_desktop() -> None:
    """A display manager stopped (its session gone) leaves desktop.target up but no desktop."""
    run = _run()
    world = run.station.world
    SimBackend(world).stop_unit(run.policy.units.display_manager)
    world.settle()
    assert (None, ["display-manager.service not active",
                   "no open graphical session with a live compositor"]) == (
        oracle.judge(world, run.policy), oracle.missing(world, run.policy, "desktop"))


def test_mode_current_claiming_desktop_without_a_display_manager_is_a_violation() -> None:
    """`mode current` (here a units-only observer) saying desktop on that host is caught."""
    run = _run(classifier=units_only)
    world = run.station.world
    SimBackend(world).stop_unit(run.policy.units.display_manager)
    world.settle()
    run.checker.check_now()
    assert ["never report a mode the world is not in"] == _rules(run)


def test_the_real_observer_is_not_flagged_on_that_host() -> None:
    """The controller's observer says degraded-desktop there: no violation."""
    run = _run()
    world = run.station.world
    SimBackend(world).stop_unit(run.policy.units.display_manager)
    world.settle()
    run.checker.check_now()
    assert ([], "degraded-desktop") == (_rules(run), run.current_state())


def _vllm_on_display_gpu(run: Run) -> None:
    world = run.station.world
    SimBackend(world).write_vllm_profile(VllmProfile("compute", (world.gpus[0].spec.uuid,), (0,)))
    SimBackend(world).start_unit(run.policy.units.vllm)
    world.advance(60)


def test_display_manager_bringing_up_a_gui_over_compute_is_a_violation() -> None:
    """The display manager logging in while vLLM holds the display GPU (a rollback that
    starts it too early) breaks the exclusion, though nobody observed anything."""
    run = _run()
    world = run.station.world
    SimBackend(world).stop_unit(run.policy.units.display_manager)
    world.settle()
    _vllm_on_display_gpu(run)
    run.checker.check_now()
    assert [] == _rules(run)
    SimBackend(world).start_unit(run.policy.units.display_manager)
    world.advance(10)
    run.checker.check_now()
    assert ["no compute on the display GPU with a GUI"] == _rules(run)


def test_an_attempt_ending_with_compute_under_a_gui_is_a_violation() -> None:
    """Whatever caused it, an attempt (not blocked) must not end with both."""
    run = _run()
    run.checker.check_now()
    _vllm_on_display_gpu(run)  # unobserved placement: not blamed at placement
    run.checker.violations.clear()
    run.checker.live_attempt = "5-5"
    run.checker.attempt_finished({"attempt": "5-5", "outcome": "rolled-back"})
    assert ["no compute on the display GPU with a GUI"] == _rules(run)


def test_a_user_logging_in_over_compute_is_not_blamed_at_once() -> None:
    """A person logging in graphically while compute runs is the world's doing."""
    run = _run()
    assert "converged" == run.request(Mode.COMPUTE)
    run.station.world.add_session("wayland", "guest")
    run.checker.check_now()
    assert ([], "unknown") == (_rules(run), run.current_state())


def test_a_units_only_observer_is_caught_within_1000_seeds() -> None:
    """The oracle is independent: with the observer reduced to unit states (the controller's
    own decisions and `mode current` both use it), the campaign finds a violation within
    1,000 seeds; the same seed with the real observer has none."""
    found = next((seed for seed in range(1000)
                  if any(v.rule == "never report a mode the world is not in"
                         for v in run_plan(draw_plan(seed), classifier=units_only).violations)),
                 None)
    assert found is not None
    assert [] == list(run_plan(draw_plan(found)).violations)
