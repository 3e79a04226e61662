"""The grace period before the GUI goes: countdown notifications, and `mode cancel` in it."""

from __future__ import annotations

import attrs

from dubnium import plan as p
from dubnium.codes import ExitCode
from dubnium.modes import Mode, ObservedState
from dubnium.policy import Timeouts, default_policy
from dubnium.reconcile import Reporter
from dubnium.state import MemoryStore
from simulator.gpu import ReleaseKind
from simulator.harness import Station


class CancelAtGrace(Reporter):
    """Plays `mode cancel` from another terminal when the grace step starts."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.attempt = ""

    def attempt_started(self, attempt_id: str, target: Mode) -> None:
        self.attempt = attempt_id

    def step_started(self, leg: str, step: p.Step) -> None:
        if isinstance(step, p.Grace):
            self.grace_started()

    def grace_started(self) -> None:
        self.cancel()

    def cancel(self) -> None:
        self.station.state.request_cancel(self.attempt, "now", "mode cancel (uid 0)")


def test_cancel_in_the_grace_period_leaves_the_host_untouched() -> None:
    """Cancelled: exit 27, outcome cancelled, still desktop with its session, desired back to
    desktop, the cancellation told to the session and recorded; the cancel file is gone."""
    station = Station.create(seed=2, gpus=1)
    before = station.backend.observe()
    station.reporter = CancelAtGrace(station)
    result = station.request(Mode.COMPUTE)
    assert (result.outcome.value, result.exit_code) == ("cancelled", ExitCode.CANCELLED)
    assert (station.observe().state.value, station.state.read_desired()) == (
        "desktop", Mode.DESKTOP)
    assert (station.backend.observe().sessions, station.backend.observe().units) == (
        before.sessions, before.units)
    assert station.world.notifications[-1]["summary"] == "Switch to compute cancelled"
    assert "cancellation notification: delivered to 1 of 1 graphical session(s)" in (
        result.record.notes)
    assert station.state.cancel_request(result.record.attempt) is None


def test_a_cancel_for_another_attempt_is_ignored() -> None:
    """A stale cancel (another attempt's id) does not stop this switch."""
    station = Station.create(seed=2, gpus=1)
    station.state.request_cancel("some-old-attempt", "then", "mode cancel")
    assert station.request(Mode.COMPUTE).outcome.value == "converged"


def test_no_grace_when_the_policy_says_zero() -> None:
    """grace_s = 0: no grace step and no countdown; the switch is as before."""
    policy = attrs.evolve(default_policy(), timeouts=Timeouts(grace_s=0))
    steps = p.plan(ObservedState.DESKTOP, Mode.COMPUTE, policy).legs[0].steps
    assert [type(s).__name__ for s in steps][:3] == ["CheckGuards", "NotifyUser", "StopUnit"]


def test_a_rollback_is_announced_in_the_restored_session() -> None:
    """A display GPU that never releases: rolled back, and the desktop session that exists
    afterwards is told why; its delivery is in the record."""
    station = Station.create(seed=2, gpus=1)
    station.world.set_gpu_release(0, ReleaseKind.NEVER)
    result = station.request(Mode.COMPUTE)
    assert result.outcome.value == "rolled-back"
    assert station.world.notifications[-1]["summary"] == "Switch to compute failed"
    assert "outcome notification: delivered to 1 of 1 graphical session(s)" in (
        result.record.notes)


def test_config_accepts_a_zero_grace_and_refuses_a_negative_one() -> None:
    """timeouts.grace_s = 0 is read (no grace period); -1 is a config error naming the key."""
    import pytest

    from dubnium.errors import ConfigError
    from dubnium.policyload import load_policy_data

    assert load_policy_data({"schema_version": 1, "timeouts": {"grace_s": 0}}).timeouts.grace_s \
        == 0
    with pytest.raises(ConfigError, match=r"timeouts\.grace_s"):
        load_policy_data({"schema_version": 1, "timeouts": {"grace_s": -1}})


class _Counted(MemoryStore):
    """A store that counts the grace step's looks at the cancel file."""

    def __init__(self, shared: bool) -> None:
        super().__init__()
        self.shared = shared  # type: ignore[misc]
        self.looks = 0

    def read(self, name: str) -> bytes | None:
        self.looks += name == "cancel.json"
        return super().read(name)


class CancelFromTheWorld(CancelAtGrace):
    """Types `mode cancel` 7.3 s into the grace period, as a world event (in-process)."""

    def grace_started(self) -> None:
        world = self.station.world
        world.wiring.handlers["typed_cancel"] = lambda args: self.cancel()
        world.scheduler.schedule(7_300_000_000, "typed_cancel")


def test_a_private_store_skips_only_polls_that_could_see_nothing() -> None:
    """A state only this process writes: the grace step looks at the cancel file far less
    often, and a cancel written by a world event is seen at the same poll, with the same
    record, as when it looks every interval."""
    runs = []
    for shared in (True, False):
        station = Station.create(seed=2, gpus=1)
        station.store = _Counted(shared)
        station.reporter = CancelFromTheWorld(station)
        result = station.request(Mode.COMPUTE)
        runs.append((result.outcome.value, result.record, station.world.now_ns,
                     station.store.looks))
    (outcome, record, now, every), (outcome2, record2, now2, skipping) = runs
    assert ("cancelled", record, now, True) == (outcome2, record2, now2, skipping < every / 4)
    assert outcome == "cancelled"
