"""A display manager that is up with nobody logged in (the session ended and the display
manager does not log in again by itself): never desktop, and `mode request desktop` brings
the GUI back by restarting the display manager once, within its bounds."""

from __future__ import annotations

import attrs
import pytest

from dubnium.codes import ExitCode
from dubnium.modes import Mode, ObservedState
from dubnium.records import AttemptRecord
from simulator.backend import SimBackend
from simulator.harness import Station


def _logged_out(autologin_delay_s: float = 2.0) -> Station:
    station = Station.create(seed=4)
    world = station.world
    world.display = attrs.evolve(world.display, relogin=False,
                                 autologin_delay_s=autologin_delay_s)
    for session in world.session_ids():
        world.remove_session(session)
    world.advance(60)
    return station


def test_up_with_nobody_logged_in_is_degraded_and_a_request_restores_the_gui() -> None:
    """Observed degraded-desktop naming the session; the request restarts the display
    manager, the owner is logged in again, exit 0, observed desktop, the record says why."""
    station = _logged_out()
    before = station.observe()
    result = station.request(Mode.DESKTOP)
    record = result.record
    assert isinstance(record, AttemptRecord)
    said = " ".join([s.detail for s in record.steps] + list(record.notes))
    assert (before.state, [t.id.value for t in before.missing], result.exit_code,
            station.observe().state, "restarted display-manager.service" in said) == (
        ObservedState.DEGRADED_DESKTOP, ["graphical_session_alive"], ExitCode.OK,
        ObservedState.DESKTOP, True)


def test_a_restart_that_logs_nobody_in_fails_after_one_restart(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody is logged in even after the restart (no autologin within the bound): the
    display manager is restarted once per leg (the request's, then its rollback's, bounded
    each), and the request fails naming the session term, the host left degraded-desktop
    (never called desktop)."""
    station = _logged_out(autologin_delay_s=10_000.0)
    stops: list[str] = []
    stop = SimBackend.stop_unit

    def counted(self: SimBackend, name: str) -> None:
        stops.append(name)
        stop(self, name)
    monkeypatch.setattr(SimBackend, "stop_unit", counted)
    result = station.request(Mode.DESKTOP)
    record = result.record
    assert isinstance(record, AttemptRecord)
    dm = station.policy.units.display_manager
    assert (result.exit_code, station.observe().state, stops.count(dm),
            "graphical_session_alive" in record.summary) == (
        ExitCode.FAILED_TRANSITION, ObservedState.DEGRADED_DESKTOP, 2, True), record.summary
