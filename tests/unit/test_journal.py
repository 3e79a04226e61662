"""The write-ahead journal, recovery of a dead controller's attempt, level-based answers,
timed-out actions and stop requests, on the simulated host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from dubnium import plan as p
from dubnium.codes import ExitCode
from dubnium.errors import StorageError
from dubnium.facts import SliceSettings
from dubnium.journal import Journal, Phase
from dubnium.modes import Mode, ObservedState
from dubnium.reconcile import Reporter
from dubnium.records import AbandonedRecord, AttemptRecord, Outcome, RecoveryOutcome
from dubnium.state import DirectoryStore, MemoryStore
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.harness import Station


class Killed(BaseException):
    """The controller process dies (a BaseException: the lock stays, as after SIGKILL)."""


class KillAt(Reporter):
    """Kills the controller just before the n-th step (1-based) of the next attempt."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def step_started(self, leg: str, step: p.Step) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise Killed


def _slices(station: Station) -> dict[str, SliceSettings | None]:
    return {name: u.settings for name, u in station.world.systemd.units.items()
            if name.endswith(".slice")}


def _killed(station: Station, mode: Mode, n: int) -> None:
    station.reporter = KillAt(n)
    with pytest.raises(Killed):
        station.request(mode)
    station.reporter = None
    station.store.holder_alive = None  # its process is gone


def _step_index(station: Station, mode: Mode, prefix: str) -> int:
    """The 1-based position of the first step starting with `prefix` in a request's plan."""
    plan = p.plan(station.observe().state, mode, station.policy)
    steps = [s.describe() for leg in plan.legs for s in leg.steps]
    return next(i for i, s in enumerate(steps, 1) if s.startswith(prefix))


def test_the_journal_names_the_step_about_to_run() -> None:
    """Killed before T3's display-manager stop: the journal on disk names that step, forward,
    changed, with the steps before it."""
    station = Station.create(seed=3)
    n = _step_index(station, Mode.COMPUTE, "stop display-manager")
    _killed(station, Mode.COMPUTE, n)
    data = station.state.read_journal()
    assert data is not None
    journal = Journal.from_json(data)
    assert (journal.leg, journal.step_index, journal.phase, journal.changed,
            journal.requested, journal.prior_safe, len(journal.steps)) == (
        "T3", n, Phase.FORWARD, True, Mode.COMPUTE, Mode.DESKTOP, n - 1)


def test_kill_before_the_restore_then_desktop_restores_the_saved_slices_exactly() -> None:
    """The issue's case: killed in the studio exit before 'restore'; the next desktop request
    recovers (abandoned record with its recovery) and the pre-studio values come back."""
    station = Station.create(seed=3)
    before = _slices(station)
    assert station.request(Mode.STUDIO_LOCAL).outcome is Outcome.CONVERGED
    n = _step_index(station, Mode.DESKTOP, "restore the slice settings")
    _killed(station, Mode.DESKTOP, n)
    result = station.request(Mode.DESKTOP)
    abandoned = station.records()[-2]
    assert isinstance(abandoned, AbandonedRecord)
    assert abandoned.recovery is not None
    assert (abandoned.recovery.outcome, abandoned.recovery.target, result.exit_code,
            station.observe().state, _slices(station)) == (
        RecoveryOutcome.RESTORED, Mode.DESKTOP, 0, ObservedState.DESKTOP, before)
    assert station.state.read_journal() is None


@pytest.mark.parametrize("mode", [Mode.COMPUTE, Mode.STUDIO_LOCAL])
def test_every_kill_point_of_an_entry_recovers_to_desktop(mode: Mode) -> None:
    """Killed before each step of T1/T3, then a desktop request: desktop, exit 0, slices as
    before studio, no journal, and an abandoned record for the dead attempt."""
    count = len(p.plan(ObservedState.DESKTOP, mode, Station.create(seed=3).policy).legs[0].steps)
    for n in range(1, count + 1):
        station = Station.create(seed=3)
        before = _slices(station)
        _killed(station, mode, n)
        result = station.request(Mode.DESKTOP)
        outcomes = [r.outcome for r in station.records()]
        assert (n, result.exit_code, station.observe().state, _slices(station), outcomes[0],
                station.state.read_journal()) == (
            n, 0, ObservedState.DESKTOP, before, Outcome.ABANDONED, None)


def test_desktop_is_not_already_while_a_restore_is_pending() -> None:
    """On desktop with settings saved on studio entry never restored (its journal lost): a
    desktop request runs the 'restore' leg and brings the saved values back; then already."""
    station = Station.create(seed=3)
    name = next(iter(station.policy.slices[Mode.STUDIO_LOCAL]))
    saved = {name: SliceSettings(cpu_weight=77)}
    station.state.save_slices(saved, "t0")
    first = station.request(Mode.DESKTOP)
    second = station.request(Mode.DESKTOP)
    assert ([leg["leg"] for leg in (first.record.plan or {})["legs"]], first.outcome,
            second.outcome, _slices(station)[name], station.state.saved_slices()) == (
        ["restore"], Outcome.CONVERGED, Outcome.ALREADY, saved[name], None)


def test_a_slice_changed_during_studio_is_reported_in_the_exit_record() -> None:
    """Someone sets a slice's CPUWeight while studio-local is up: the exit's record names it
    and the saved value is restored."""
    station = Station.create(seed=3)
    before = _slices(station)
    station.request(Mode.STUDIO_LOCAL)
    name = next(iter(station.policy.slices[Mode.STUDIO_LOCAL]))
    current = station.world.systemd.units[name].settings or SliceSettings()
    station.world.systemd.set_slice(name, attrs.evolve(current, cpu_weight=4321))
    result = station.request(Mode.DESKTOP)
    changes = [(c.slice, c.field, c.found) for c in result.record.external_changes]
    assert ([(name, "cpu_weight", 4321)], _slices(station)) == (changes, before)


def test_a_timed_out_isolate_that_takes_effect_converges() -> None:
    """isolate compute.target times out three times yet takes effect: converged, not rolled
    back, and the record notes that the effect was observed, not redone."""
    station = Station.create(seed=3)
    station.world.inject_action_fault(ActionFault("isolate", FaultEffect.TIMEOUT, times=3))
    result = station.request(Mode.COMPUTE)
    assert (result.outcome, any("observed in place" in n for n in result.record.notes)) == (
        Outcome.CONVERGED, True)


def test_a_stop_request_rolls_back_at_a_step_boundary() -> None:
    """A stop seen before step 6 of T3: interrupted (exit 28), desktop restored, the record
    carries the signal, the lock is free."""
    station = Station.create(seed=3)
    calls = []

    def stop() -> str | None:
        calls.append(1)
        return "SIGINT" if len(calls) >= 6 else None

    controller = station.controller()
    controller.stop = stop
    result = controller.request(Mode.COMPUTE)
    record = result.record
    assert isinstance(record, AttemptRecord)
    assert (result.outcome, result.exit_code, record.signal, station.observe().state,
            station.store.lock_held(), len([s for s in record.steps if not s.rollback])) == (
        Outcome.INTERRUPTED, int(ExitCode.INTERRUPTED), "SIGINT", ObservedState.DESKTOP,
        None, 5)


def test_the_entry_guards_exit_with_the_interrupted_code() -> None:
    """dubnium_app.launch and dubnium_app.entry (which must not import the CLI) use
    ExitCode.INTERRUPTED's number."""
    from dubnium_app import entry, launch

    assert (int(ExitCode.INTERRUPTED),) * 2 == (launch.INTERRUPTED, entry.INTERRUPTED)


class JournalFailsAt:
    """A store whose n-th write of the journal (1-based) and every one after fails, as on a
    disk that filled up during the attempt."""

    def __init__(self, station: Station, n: int) -> None:
        self.writes = 0
        self.n = n
        store = station.store
        write, write_later = store.write, store.write_later

        def refuse(name: str) -> None:
            if name == "journal.json":
                self.writes += 1
                if self.writes >= self.n:
                    raise StorageError("cannot write journal.json: No space left on device")

        def failing(name: str, data: bytes) -> None:
            refuse(name)
            write(name, data)

        def failing_later(name: str, encode: Callable[[], tuple[bytes, bool]]) -> None:
            refuse(name)  # the memory store's other way in (bytes made when read)
            write_later(name, encode)
        store.write = failing  # type: ignore[method-assign]
        store.write_later = failing_later  # type: ignore[method-assign]


def test_a_journal_that_cannot_be_written_stops_the_attempt_and_undoes_it() -> None:
    """The journal is refused before `isolate compute.target` (the GUI already gone): no
    step runs without its journal; the attempt rolls back to desktop, and says why."""
    station = Station.create(seed=3)
    JournalFailsAt(station, _step_index(station, Mode.COMPUTE, "isolate compute.target"))
    result = station.request(Mode.COMPUTE)
    record = result.record
    assert isinstance(record, AttemptRecord)
    ran = [s.step for s in record.steps]
    assert (result.outcome, result.exit_code, station.observe().state,
            any(s.startswith("isolate compute.target") for s in ran),
            "journal" in record.summary) == (
        Outcome.ROLLED_BACK, ExitCode.ROLLED_BACK, ObservedState.DESKTOP, False, True)


def test_a_journal_refused_before_any_change_is_a_storage_failure() -> None:
    """The first journal write refused: exit 8 as a storage failure, the host untouched."""
    station = Station.create(seed=3)
    JournalFailsAt(station, 1)
    with pytest.raises(StorageError):
        station.request(Mode.COMPUTE)
    records = station.records()
    assert ([(r.outcome, r.exit_code) for r in records], station.observe().state) == (
        [(Outcome.ERROR, ExitCode.STORAGE_FAILED)], ObservedState.DESKTOP)


def test_a_journal_read_after_its_step_ran_is_as_it_was_written(tmp_path: Path) -> None:
    """The in-memory journal is built when first read: read after its step has run (the
    step log and the started units grown since), it holds what a directory's journal,
    written at once, holds: what was true before that step."""

    class ReadAfterStep(Reporter):
        def __init__(self, station: Station) -> None:
            self.station = station
            self.seen: list[Journal] = []

        def step_finished(self, leg: str, step: p.Step, status: str, detail: str) -> None:
            data = self.station.state.read_journal()
            assert data is not None
            self.seen.append(Journal.from_json(data))

    seen = []
    for store in (MemoryStore(), DirectoryStore(tmp_path)):
        station = Station.create(seed=2)
        station.store = store  # type: ignore[assignment]
        station.reporter = reader = ReadAfterStep(station)
        steps = station.request(Mode.COMPUTE).record.steps
        seen.append(reader.seen)
    memory, directory = seen
    assert (directory, [len(steps) - 1, 0]) == (
        memory, [len(memory[-1].steps), len(memory[0].steps)])
