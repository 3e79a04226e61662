"""The reconciler: one synchronous, bounded, locked transition attempt.

Called by the CLI (`mode request`, `mode reconcile`, `mode boot`) and by the simulator's
campaigns and the Gherkin steps. For each attempt it takes the lock, has an `Attempt`
(`dubnium.attempt`) run it, writes `last-transition.json`, appends exactly one audit record
and releases the lock. A controller that finds a dead holder's lock gives that attempt its
`abandoned` record. Records are typed (`dubnium.records`) and serialised in one place.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dubnium import plan as p
from dubnium import readpath
from dubnium.attempt import Attempt, StepHooks, recover
from dubnium.audit import AuditLog
from dubnium.backend import Backend, iso_timestamp
from dubnium.codes import ExitCode
from dubnium.errors import LockBusy, RecordUnreadable, StateCorrupt, StorageError
from dubnium.facts import HostFacts
from dubnium.guards import GuardReport, evaluate
from dubnium.journal import Journal
from dubnium.modes import Mode
from dubnium.observe import Classifier, Markers, Observation, classify
from dubnium.policy import Policy
from dubnium.records import (
    AbandonedRecord,
    AttemptRecord,
    AttemptStart,
    Outcome,
    Record,
    from_json,
    to_json,
)
from dubnium.state import LockHolder, RuntimeState

__all__ = ["Outcome", "Reconciler", "Reporter", "Result"]


class Reporter(StepHooks):
    """Named hooks called as an attempt runs; all do nothing by default (resolvelib style)."""

    def attempt_started(self, attempt_id: str, target: Mode) -> None:
        """Called once the lock is held."""

    def attempt_finished(self, record: Record) -> None:
        """Called with the record, after it is written."""


@attrs.frozen
class Result:
    outcome: Outcome
    exit_code: int
    record: AttemptRecord
    observation: Observation | None

    @property
    def summary(self) -> str:
        return self.record.summary


class Reconciler:
    """Composes a backend, a policy, the runtime state and the audit log."""

    def __init__(
        self,
        backend: Backend,
        policy: Policy,
        state: RuntimeState,
        audit: AuditLog,
        *,
        pid: int,
        reporter: Reporter | None = None,
        stop: Callable[[], str | None] | None = None,
        classifier: Classifier = classify,
    ) -> None:
        self.backend = backend
        self.classify = classifier
        self.policy = policy
        self.state = state
        self.audit = audit
        self.pid = pid
        self.reporter = reporter or Reporter()
        self.stop = stop or _never
        self._attempts = 0

    # ----------------------------------------------------------------- reading

    def markers(self) -> Markers:
        return readpath.markers(self.state)

    def last_failed(self) -> bool:
        """The last record says failed-transition (an unreadable record says nothing)."""
        return readpath.last_transition_failed(self.state)

    def observe(self) -> tuple[HostFacts, Observation]:
        facts = self.backend.observe()
        return facts, self.classify(facts, self.policy, self.markers())

    def now(self) -> str:
        return iso_timestamp(self.backend.clock.wall_ns())

    def preview(self, target: Mode) -> tuple[Observation, p.Plan, list[GuardReport]]:
        """What a request would do now: the plan and each leg's live guard verdicts."""
        facts, observation = self.observe()
        the_plan = p.plan(observation.state, target, self.policy)
        reports = [evaluate(leg.guards, facts, self.policy, leg.target) for leg in the_plan.legs]
        return observation, the_plan, reports

    # ----------------------------------------------------------------- acting

    def request(self, target: Mode, *, by: str = "mode request") -> Result:
        """One transition attempt toward `target`; exactly one audit record."""
        clock = self.backend.clock
        started_ns = clock.monotonic_ns()
        # pid, time and this controller's own count: unique even for two attempts of one
        # process at one instant (a simulated clock), and deterministic for replays.
        self._attempts += 1
        attempt_id = f"{self.pid}-{clock.wall_ns()}-{self._attempts}"
        start = AttemptStart(attempt_id, target, by, self.pid, self.now())
        holder = LockHolder(self.pid, "", start.started_at, target.value, attempt_id)
        try:
            lease = self.state.store.acquire(holder)
        except LockBusy as busy:
            record = AttemptRecord.begun(
                start, outcome=Outcome.LOCK_BUSY, exit_code=int(ExitCode.LOCK_BUSY),
                summary=str(busy), finished_at=self.now(), holder=busy.holder)
            self.audit.append(to_json(record))
            self.reporter.attempt_finished(record)
            return Result(Outcome.LOCK_BUSY, int(ExitCode.LOCK_BUSY), record, None)
        try:
            if lease.recovered is not None:
                start = attrs.evolve(start, lock_recovered=dict(lease.recovered))
            self._finish_dead(lease.recovered)
            self.reporter.attempt_started(attempt_id, target)
            facts0 = self.backend.observe()
            self.state.store.update_holder(attrs.evolve(holder, boot_id=facts0.boot_id))
            attempt = Attempt(backend=self.backend, policy=self.policy, state=self.state,
                              start=start, last_failed=self.last_failed(),
                              hooks=self.reporter, stop=self.stop,
                              classifier=self.classify)
            record = attempt.run(facts0)
            record = attrs.evolve(
                record, duration_s=round((clock.monotonic_ns() - started_ns) / 1e9, 3))
            self._finish(record)
            result = Result(record.outcome, record.exit_code, record, attempt.final)
        except Exception as exc:
            error = AttemptRecord.begun(
                start, outcome=Outcome.ERROR, exit_code=int(ExitCode.ERROR),
                summary="internal error (a bug): see the trace", finished_at=self.now(),
                trace=traceback.format_exc(limit=20))
            if isinstance(exc, StorageError):  # not a bug: the disk (full, EIO, read-only)
                error = attrs.evolve(error, exit_code=int(ExitCode.STORAGE_FAILED), trace=None,
                                     summary=f"storage failed: {exc}")
            try:
                self.audit.append(to_json(error))  # may fail too on the same disk
                self.state.clear_journal()
            finally:
                lease.release()
            raise
        # A BaseException (the process being killed) skips this: the lock stays behind and
        # the next controller recovers it, as after a real crash.
        lease.release()
        return result

    def _finish(self, record: AttemptRecord) -> None:
        """Commit: the record (last-transition.json, then the audit log), then the journal
        goes. A kill in between leaves a journal whose attempt has its record: harmless."""
        data = to_json(record)
        self.state.write_last_transition(data)
        self.audit.append(data)
        self.state.clear_journal()
        self.reporter.attempt_finished(record)

    def _read_journal(self) -> Journal | None:
        try:
            data = self.state.read_journal()
        except StateCorrupt:
            data = None
        if data is None:
            return None
        try:
            return Journal.from_json(data)
        except (KeyError, ValueError, TypeError, AttributeError):
            return None  # not ours to act on; the level-based plan still sees the host

    def _has_record(self, attempt: object) -> bool:
        return attempt is not None and any(
            entry.record is not None and entry.record.get("attempt") == attempt
            for entry in self.audit.entries())

    def _finish_dead(self, holder: Mapping[str, Any] | None) -> None:
        """A controller died holding the lock (or left its journal): finish its attempt from
        the journal and give it its one record, saying what was found and done."""
        journal = self._read_journal()
        if holder is None and journal is None:
            self.state.clear_journal()  # unreadable: nothing to act on
            return
        attempt = journal.attempt if journal is not None else (holder or {}).get("attempt")
        if self._has_record(attempt):
            self.state.clear_journal()  # it died after its record was written
            return
        recovery = None
        if journal is not None:
            recovery = recover(journal, backend=self.backend, policy=self.policy,
                               state=self.state, hooks=self.reporter)
        held = holder or {}
        summary = "the controller holding the lock died; its lock was recovered"
        if recovery is not None:
            summary += f"; found its journal at {recovery.found}: {recovery.outcome.value}"
            if recovery.target is not None:
                summary += f" ({recovery.target.value}, observed {recovery.final_state})"
        self.audit.append(to_json(AbandonedRecord(
            attempt=_opt(attempt),
            requested=journal.requested.value if journal else _opt(held.get("target")),
            pid=journal.pid if journal else (
                held.get("pid") if isinstance(held.get("pid"), int) else None),
            started_at=journal.started_at if journal else _opt(held.get("started_at")),
            summary=summary,
            finished_at=self.now(),
            recovery=recovery,
        )))
        self.state.clear_journal()

    def boot(self) -> Result:
        """Boot normalisation: desired becomes the boot default mode and is reconciled."""
        return self.request(self.policy.boot_default_mode, by="boot")

    def reconcile(self, target: Mode | None = None) -> Result:
        """Converge to `target`, else to the recorded desired mode, else the boot default."""
        desired = target or self.state.read_desired() or self.policy.boot_default_mode
        return self.request(desired, by="mode reconcile")


def read_record(data: Mapping[str, Any]) -> Record | None:
    """A stored record as its type, or None when it is not one (a damaged or foreign line)."""
    try:
        return from_json(data)
    except RecordUnreadable:
        return None


def _never() -> str | None:
    return None


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
