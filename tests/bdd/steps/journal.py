"""Steps of features/journal.feature: a controller killed or stopped at each step of T1-T5.

Thin: the kill is the campaigns' `ControllerKilled` raised from the step hook (a
BaseException, so the lock and the journal stay, as after SIGKILL); the stop is the
reconciler's `stop` callable, as the CLI's signal handler answers it; honesty is judged by
the simulator's independent oracle. Registered for every test module by tests/conftest.py's
pytest_plugins.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from dubnium import plan as p
from dubnium.codes import ExitCode
from dubnium.journal import Journal
from dubnium.modes import Mode, ObservedState
from dubnium.reconcile import Reporter
from dubnium.records import AbandonedRecord, AttemptRecord
from simulator import oracle
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.faults import ControllerKilled, change_slice
from simulator.harness import Station
from tests.bdd.scene import Scene


class _KillBefore(Reporter):
    """Kills the controller as the n-th step of its next switch starts."""

    def __init__(self, inner: Reporter | None, n: int) -> None:
        self.inner = inner
        self.n = n
        self.seen = 0

    def step_started(self, leg: str, step: p.Step) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise ControllerKilled(f"killed before step {self.n}")
        if self.inner is not None:
            self.inner.step_started(leg, step)


def _in(station: Station, mode: str) -> None:
    if Mode(mode) is not Mode.DESKTOP:
        assert station.request(Mode(mode)).outcome.value == "converged"


@given(parsers.parse("the workstation is in {mode}"))
def workstation_in(scene: Scene, mode: str) -> None:
    _in(scene.st, mode)
    scene.requests += 0 if mode == "desktop" else 1


@given(parsers.parse("the controller will be killed before step {step:d} of its next switch"))
def will_be_killed(scene: Scene, step: int) -> None:
    scene.st.reporter = _KillBefore(scene.st.reporter, step)


@when(parsers.parse("the owner requests {mode} and the controller dies"))
def requests_and_dies(scene: Scene, mode: str) -> None:
    station = scene.st
    with pytest.raises(ControllerKilled):
        station.request(Mode(mode))
    station.reporter = scene.watcher
    station.store.holder_alive = None  # its process is gone


@when(parsers.parse("the owner requests {mode} and presses Ctrl-C before step {step:d}"))
def requests_and_stops(scene: Scene, mode: str, step: int) -> None:
    asked = [0]

    def stop() -> str | None:
        asked[0] += 1
        return "SIGINT" if asked[0] >= step else None

    controller = scene.st.controller()
    controller.stop = stop
    scene.result = controller.request(Mode(mode))
    scene.requests += 1


@then("`mode current` is honest about the world")
def honest(scene: Scene) -> None:
    observed = scene.st.observe().state
    judged = oracle.judge(scene.st.world, scene.st.policy)
    assert observed.mode is None or observed.value == judged, (observed, judged)


@then(parsers.parse("the dead attempt's journal names step {step:d}"))
def journal_names(scene: Scene, step: int) -> None:
    data = scene.st.state.read_journal()
    assert data is not None
    journal = Journal.from_json(data)
    assert (journal.step_index + _earlier_legs(journal, scene)) == step


def _earlier_legs(journal: Journal, scene: Scene) -> int:
    """Steps of the legs before the journal's leg (T5 is T2 then T3), from the plan itself."""
    the_plan = p.plan(ObservedState(journal.prior_safe.value), journal.requested, scene.st.policy)
    names = [leg.name for leg in the_plan.legs]
    if journal.leg not in names:
        return 0
    return sum(len(leg.steps) for leg in the_plan.legs[: names.index(journal.leg)])


@then(parsers.parse("the request ends in {mode} with exit code {code:d}"))
def ends_in(scene: Scene, mode: str, code: int) -> None:
    observed = scene.st.observe().state
    assert (code, Mode(mode)) == (scene.res.exit_code, observed.mode), scene.res.summary


@then(parsers.parse('the dead attempt has an "{outcome}" record with what its recovery found '
                    'and did'))
def abandoned_with_recovery(scene: Scene, outcome: str) -> None:
    dead = [r for r in scene.st.records() if isinstance(r, AbandonedRecord)]
    assert len(dead) == 1
    assert (outcome, True) == (dead[0].outcome.value, dead[0].recovery is not None)


@then("the lock is free and no journal is left")
def lock_free(scene: Scene) -> None:
    assert (None, None) == (scene.st.store.lock_held(), scene.st.state.read_journal())


@then(parsers.parse("the slice settings are those a switch from {source} to {target} leaves"))
def slices_like_reference(scene: Scene, source: str, target: str) -> None:
    reference = Station.create(seed=7, gpus=len(scene.st.world.gpu_uuids()))
    _in(reference, source)
    if target != source:
        reference.request(Mode(target))
    assert _slices(reference) == _slices(scene.st)


def _slices(station: Station) -> dict[str, Any]:
    return dict(station.world.slice_settings())


@then("the record says it was stopped by SIGINT")
def stopped_by_sigint(scene: Scene) -> None:
    record = scene.res.record
    assert isinstance(record, AttemptRecord)
    assert ("SIGINT", int(ExitCode.INTERRUPTED)) == (record.signal, record.exit_code)


@given(parsers.parse("isolate calls time out {times:d} times although they take effect"))
def isolate_times_out(scene: Scene, times: int) -> None:
    scene.st.world.inject_action_fault(ActionFault("isolate", FaultEffect.TIMEOUT, times=times))


@given(parsers.parse("someone sets the CPU weight of {name} to {weight:d}"))
def someone_sets(scene: Scene, name: str, weight: int) -> None:
    assert True is change_slice(scene.st, name, weight)


@then(parsers.parse("the record reports {name} {field} changed externally to {value:d}"))
def reports_external(scene: Scene, name: str, field: str, value: int) -> None:
    changes = [(c.slice, c.field, c.found) for c in scene.res.record.external_changes]
    assert [(name, field, value)] == changes
