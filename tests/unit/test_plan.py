"""The planner follows seed 003: T1-T4, T5 as two legs via desktop, recovery from unknown."""

from __future__ import annotations

from dubnium import plan as p
from dubnium.codes import GuardId
from dubnium.modes import Mode, ObservedState
from tests.factories import POLICY


def legs(current: ObservedState, target: Mode) -> list[str]:
    return [leg.name for leg in p.plan(current, target, POLICY).legs]


def test_each_transition_has_its_leg() -> None:
    """desktop<->studio-local and desktop<->compute map to T1-T4."""
    assert legs(ObservedState.DESKTOP, Mode.STUDIO_LOCAL) == ["T1"]
    assert legs(ObservedState.STUDIO_LOCAL, Mode.DESKTOP) == ["T2"]
    assert legs(ObservedState.DESKTOP, Mode.COMPUTE) == ["T3"]
    assert legs(ObservedState.COMPUTE, Mode.DESKTOP) == ["T4"]


def test_studio_to_compute_is_two_guarded_legs_via_desktop() -> None:
    """T5 is not allowed directly: leave studio (T2), then enter compute (T3)."""
    plan = p.plan(ObservedState.STUDIO_LOCAL, Mode.COMPUTE, POLICY)
    assert [(leg.name, leg.target) for leg in plan.legs] == [
        ("T2", Mode.DESKTOP), ("T3", Mode.COMPUTE)]
    assert all(leg.guards for leg in plan.legs)


def test_same_mode_is_a_noop() -> None:
    """A repeated request plans nothing: transitions are idempotent."""
    assert p.plan(ObservedState.COMPUTE, Mode.COMPUTE, POLICY).noop


def test_unknown_state_recovers_to_desktop_first() -> None:
    """From unknown, compute is reached via a recovery leg to desktop."""
    assert legs(ObservedState.UNKNOWN, Mode.COMPUTE) == ["R", "T3"]


def test_compute_leg_checks_guards_before_ending_the_session() -> None:
    """The T3 guards come before the notification and the session termination."""
    steps = p.plan(ObservedState.DESKTOP, Mode.COMPUTE, POLICY).legs[0].steps
    kinds = [type(s) for s in steps]
    assert kinds.index(p.CheckGuards) < kinds.index(p.NotifyUser) < kinds.index(
        p.TerminateSessions) < kinds.index(p.AwaitDisplayRelease) < kinds.index(p.Isolate)
    assert GuardId.AUDIO_IDLE in steps[0].guards  # type: ignore[union-attr]


def test_rollback_plan_has_no_guards() -> None:
    """Restoring the prior safe state is never blocked by a guard."""
    plan = p.plan(ObservedState.UNKNOWN, Mode.DESKTOP, POLICY, guarded=False)
    assert [leg.guards for leg in plan.legs] == [()]


def test_plan_json_lists_legs_and_steps() -> None:
    """dry-run's JSON names the legs and describes every step."""
    data = p.plan(ObservedState.DESKTOP, Mode.STUDIO_LOCAL, POLICY).to_json()
    assert data["legs"][0]["leg"] == "T1"
    assert "save the current slice settings" in data["legs"][0]["steps"]
