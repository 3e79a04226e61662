"""One transition attempt's lifecycle and decision, run while the reconciler holds the lock.

Called by `Reconciler.request`. It writes desired, classifies the start, plans, runs each
leg's steps through the step executor, re-observes, and decides the outcome: already,
converged, degraded, blocked, interrupted, or a rollback to the prior safe mode that ends
rolled-back or failed-transition. Before every step it writes the write-ahead journal
(`dubnium.journal`). A stop request (a signal, seen through `stop`) is honoured only at a
step boundary of the forward legs; the rollback that follows is not interruptible. It
writes `current` and `last-guards.json` and returns the typed record; the reconciler writes
the record itself. `recover` finishes a dead controller's attempt from its journal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import attrs

from dubnium import contracts as ct
from dubnium import plan as p
from dubnium.backend import Backend, iso_timestamp
from dubnium.codes import ExitCode
from dubnium.errors import AttemptInterrupted, Cancelled, StateCorrupt, StorageError
from dubnium.executor import Blocked, StepContext, StepDone, StepExecutor, StepFailed
from dubnium.facts import HostFacts, SliceSettings
from dubnium.guards import GuardReport, Verdict
from dubnium.journal import MUTATING, Journal, Phase
from dubnium.modes import Mode, ObservedState
from dubnium.observe import Classifier, Markers, Observation, classify
from dubnium.policy import Policy
from dubnium.records import (
    AttemptRecord,
    AttemptStart,
    ExternalChange,
    Outcome,
    Recovery,
    RecoveryOutcome,
    Rollback,
    StepEntry,
    StepStatus,
)
from dubnium.state import RuntimeState


class StepHooks:
    """Called around each step (the reconciler's reporter implements these)."""

    def step_started(self, leg: str, step: p.Step) -> None:
        """Called before each step runs."""

    def step_finished(self, leg: str, step: p.Step, status: str, detail: str) -> None:
        """Called after each step, with its status."""


def _never() -> str | None:
    return None


class Attempt:
    """Runs one plan and its rollback; collects the step log and guard verdicts."""

    def __init__(self, *, backend: Backend, policy: Policy, state: RuntimeState,
                 start: AttemptStart, last_failed: bool, hooks: StepHooks,
                 stop: Callable[[], str | None] = _never,
                 classifier: Classifier = classify) -> None:
        self.backend = backend
        self.classify = classifier
        self.policy = policy
        self.state = state
        self.start = start
        self.last_failed = last_failed
        self.hooks = hooks
        self.stop = stop
        self.clock = backend.clock
        self.executor = StepExecutor(backend, policy, state, self.now, classifier)
        self.target = start.requested
        self.prior = Mode.DESKTOP  # the safe mode a rollback restores (set by `run`)
        # what the attempt has learned so far
        self.ctx = StepContext(target=self.target, leg_target=self.target,
                               attempt=start.attempt)
        self.steps: list[StepEntry] = []
        self.verdicts: list[Verdict] = []
        self.notes: list[str] = []
        self.external: list[ExternalChange] = []
        self.changed = False
        self.started_units: list[str] = []
        self.boot_id = ""
        self.final: Observation | None = None

    def now(self) -> str:
        return iso_timestamp(self.clock.wall_ns())

    # ------------------------------------------------------------- the attempt

    def run(self, facts: HostFacts) -> AttemptRecord:
        previous_desired: Mode | None
        try:
            previous_desired = self.state.read_desired()
        except StateCorrupt as exc:
            previous_desired = None
            self.notes.append(f"replaced a corrupt desired file ({exc})")
        self.state.write_desired(self.target, self.now(), self.start.by)
        self.boot_id = facts.boot_id

        start = self.classify(facts, self.policy,
                              Markers(last_transition_failed=self.last_failed))
        self.prior = prior = start.state.mode or Mode.DESKTOP
        plan = p.plan(start.state, self.target, self.policy,
                      pending_restore=self._restore_pending())
        head: dict[str, Any] = {
            "from_state": start.state.value,
            "prior_safe": prior,
            "desired_before": previous_desired,
            "plan": plan.to_json(),
        }
        try:
            if plan.noop:
                self.final = start
                return self._close(head, Outcome.ALREADY, ExitCode.OK,
                                   f"already {self.target.value}")
            self._preflight(plan, facts)
            for leg in plan.legs:
                self._run_leg(leg, Phase.FORWARD)
            final = self._observe_final()
            if final.state.mode is self.target:
                if start.state.mode not in (Mode.DESKTOP, Mode.STUDIO_LOCAL) or (
                        self.target is Mode.COMPUTE):
                    # a session that did not exist before, or none at all: say it there
                    self._announce(final, f"{self.target.value} mode",
                                   f"{start.state.value} -> {self.target.value}: converged")
                return self._close(head, Outcome.CONVERGED, ExitCode.OK,
                                   f"{start.state.value} -> {self.target.value}: converged")
            if self.ctx.degraded and final.state is ObservedState.DEGRADED_COMPUTE:
                self._announce(final, "degraded-compute",
                               "vLLM on the non-display GPU(s) only; see mode status")
                return self._close(
                    head, Outcome.DEGRADED, ExitCode.DEGRADED,
                    "degraded-compute: vLLM on the non-display GPU(s); display GPU residual "
                    "stays under the policy bound",
                )
            raise StepFailed(f"re-observation found {final.state.value}, not "
                             f"{self.target.value}: {'; '.join(final.conflicts)}")
        except Blocked as blocked:
            first = blocked.report.blocking[0]
            reason = "; ".join(f"{v.guard.value}: {v.reason}" for v in blocked.report.blocking)
            if not self.changed:
                self._reset_desired(prior)
                self.final = self.classify(self.backend.observe(), self.policy, Markers())
                return self._close(head, Outcome.BLOCKED, first.exit_code,
                                   f"blocked by {reason}",
                                   blocking=tuple(v.guard.value
                                                  for v in blocked.report.blocking))
            return self._rollback(head, prior, f"blocked midway by {reason}")
        except StepFailed as failed:
            return self._rollback(head, prior, str(failed))
        except Cancelled as cancelled:
            # Only the grace step cancels, before anything on the host was changed.
            self.state.forget_cancel()
            self._reset_desired(prior)
            self.final = self.classify(self.backend.observe(), self.policy, Markers())
            told = self.backend.notify_user(
                f"Switch to {self.target.value} cancelled",
                f"The desktop stays. {cancelled}.").describe()
            self.notes.append(f"cancellation notification: {told}")
            return self._close(head, Outcome.CANCELLED, ExitCode.CANCELLED,
                               f"{self.target.value} {cancelled} during the grace period; "
                               "nothing was changed")
        except AttemptInterrupted as stopped:
            return self._rollback(head, prior, str(stopped), signal=stopped.signal)

    def _restore_pending(self) -> bool:
        """Settings saved on studio-local entry are still there: the exit never finished."""
        if self.target is not Mode.DESKTOP:
            return False
        try:
            return self.state.saved_slices() is not None
        except StateCorrupt:
            return True  # the restore step reports it and applies the desktop policy values

    def _reset_desired(self, prior: Mode) -> None:
        """A refused or undone request leaves desired at the safe mode the host is in."""
        self.state.write_desired(prior, self.now(), "rollback of desired")

    def _rollback(self, head: dict[str, Any], prior: Mode, reason: str,
                  signal: str | None = None) -> AttemptRecord:
        self.notes.append(f"{'stop' if signal else 'failure'}: {reason}")
        if prior is Mode.COMPUTE and self.target is not Mode.COMPUTE and (
                self.changed or signal is None):
            return self._return_to_desktop(head, reason, signal)
        if signal is not None and not self.changed:
            legs: tuple[p.Leg, ...] = ()  # stopped before any change: nothing to undo
            rollback_error = None
            final = self._observe_final()
        else:
            legs, rollback_error, final = self.restore(prior, Phase.ROLLBACK)
        self._reset_desired(prior)
        self._announce(final, f"Switch to {self.target.value} failed",
                       f"{reason}. Restored {prior.value}.")
        head = {**head, "failure": reason, "signal": signal,
                "rollback": Rollback(prior, tuple(leg.name for leg in legs), rollback_error)}
        restored = final.state.mode is prior and rollback_error is None
        if signal is not None and restored:
            return self._close(head, Outcome.INTERRUPTED, ExitCode.INTERRUPTED,
                               f"{self.target.value} stopped by {signal} at a step boundary; "
                               f"restored {prior.value}")
        if restored:
            return self._close(head, Outcome.ROLLED_BACK, ExitCode.ROLLED_BACK,
                               f"{self.target.value} failed ({reason}); restored {prior.value}")
        return self._close(
            head, Outcome.FAILED, ExitCode.FAILED_TRANSITION,
            f"{self.target.value} failed ({reason}); could not restore {prior.value}: "
            f"observed {final.state.value}",
        )

    def _return_to_desktop(self, head: dict[str, Any], reason: str,
                           signal: str | None = None) -> AttemptRecord:
        """A failed way out of compute never re-enters compute (docs/decisions/0007): the
        owner is at the keyboard. Keep desktop.target with the compute workloads stopped,
        retry the graphical stack once within its bounds; if desktop's contract still does
        not hold, end in degraded-desktop naming the missing term, with a one-line remedy,
        also written on the console."""
        legs, retry_error, final = self.restore(Mode.DESKTOP, Phase.ROLLBACK)
        self._reset_desired(Mode.DESKTOP)
        self._announce(final, "Desktop restored",
                       f"{self.target.value} failed ({reason}); the desktop was restored")
        head = {**head, "failure": reason, "signal": signal,
                "rollback": Rollback(Mode.DESKTOP, tuple(leg.name for leg in legs), retry_error)}
        if final.state is ObservedState.DESKTOP:
            if signal is not None:
                return self._close(head, Outcome.INTERRUPTED, ExitCode.INTERRUPTED,
                                   f"{self.target.value} stopped by {signal} at a step "
                                   "boundary; at desktop (never back to compute)")
            if self.target is Mode.DESKTOP:
                return self._close(head, Outcome.CONVERGED, ExitCode.OK,
                                   f"desktop restored by the retry of the graphical stack "
                                   f"(first try: {reason})")
            return self._close(head, Outcome.ROLLED_BACK, ExitCode.ROLLED_BACK,
                               f"{self.target.value} failed ({reason}); stopped at desktop "
                               "(never back to compute)")
        report = final.contract(Mode.DESKTOP)
        missing = report.missing if report is not None else ()
        if missing:
            term = missing[0]
            remedy = ct.REMEDIES.get(term.id, "run `sudo mode request desktop`")
            line = (f"desktop not restored: {term.id.value} {term.status.value} "
                    f"({term.detail}); remedy: {remedy}")
        else:
            line = (f"desktop not restored: observed {final.state.value}; remedy: run "
                    "`sudo mode request desktop`")
        self.notes.append(line)
        self.backend.console_message(line)
        if final.state is ObservedState.DEGRADED_DESKTOP:
            return self._close(head, Outcome.DEGRADED, ExitCode.DEGRADED,
                               f"{self.target.value} failed ({reason}); degraded-desktop, "
                               f"never back to compute: {line}")
        return self._close(head, Outcome.FAILED, ExitCode.FAILED_TRANSITION,
                           f"{self.target.value} failed ({reason}); observed "
                           f"{final.state.value}, never back to compute: {line}")

    def _announce(self, final: Observation, summary: str, body: str) -> None:
        """Tell the owner where they will look next: a notification in the graphical session
        that exists after the attempt (its delivery goes into the record's notes), or, in
        compute, a line on the system console."""
        if final.state.mode in (Mode.DESKTOP, Mode.STUDIO_LOCAL):
            told = self.backend.notify_user(summary, body).describe()
            self.notes.append(f"outcome notification: {told}")
        elif final.state in (ObservedState.COMPUTE, ObservedState.DEGRADED_COMPUTE):
            self.backend.console_message(f"mode: {summary}: {body}")
            self.notes.append("outcome written on the console (no graphical session)")

    def restore(self, safe: Mode, phase: Phase
                ) -> tuple[tuple[p.Leg, ...], str | None, Observation]:
        """Run the unguarded legs back to `safe`; (legs, the error if one failed, final)."""
        now_state = self.classify(self.backend.observe(), self.policy, Markers()).state
        if safe is Mode.COMPUTE:
            legs = p.plan(now_state, Mode.COMPUTE, self.policy, guarded=False).legs
        else:
            legs = p.plan(ObservedState.UNKNOWN, safe, self.policy, guarded=False).legs
        self.ctx = attrs.evolve(self.ctx, placement=None, degraded=False)
        error = None
        try:
            for leg in legs:
                self._run_leg(leg, phase)
        except (StepFailed, Blocked) as exc:
            error = str(exc)
        return legs, error, self._observe_final()

    def _observe_final(self) -> Observation:
        self.final = self.classify(self.backend.observe(), self.policy, Markers())
        return self.final

    def _close(self, head: dict[str, Any], outcome: Outcome, code: int, summary: str,
               blocking: tuple[str, ...] = ()) -> AttemptRecord:
        final = self.final
        now = self.now()
        placement = self.ctx.placement
        final_state = None
        if final is not None:  # frozen values: the store may encode them when read
            final_state = final.state.value
            self.state.write_current_later(final_state, partial(final.to_json, now))
        report = GuardReport(self.target, tuple(self.verdicts))
        attempt = self.start.attempt
        self.state.write_last_guards(lambda: {**report.to_json(), "attempt": attempt,
                                              "evaluated_at": now})
        return AttemptRecord.begun(
            self.start, outcome=outcome, exit_code=int(code), summary=summary,
            finished_at=now, blocking=blocking, steps=tuple(self.steps),
            guards=tuple(self.verdicts),
            vllm_profile=placement.vllm if placement else None,
            exo_profile=placement.exo if placement else None,
            notes=tuple(self.notes), final_state=final_state,
            external_changes=tuple(self.external), **head,
        )

    # ------------------------------------------------------------- the steps

    def _preflight(self, plan: p.Plan, facts: HostFacts) -> None:
        """All legs' guards on the starting facts: never leave studio just to be blocked."""
        for leg in plan.legs:
            report = self.executor.guards(leg.guards, facts, leg.target)
            self.verdicts.extend(report.verdicts)
            if report.blocking:
                raise Blocked(report)
        self.verdicts.clear()

    def _run_leg(self, leg: p.Leg, phase: Phase) -> None:
        self.ctx = attrs.evolve(self.ctx, leg_target=leg.target)
        rollback = phase is not Phase.FORWARD
        for index, step in enumerate(leg.steps, 1):
            if phase is Phase.FORWARD:
                signal = self.stop()
                if signal is not None:
                    raise AttemptInterrupted(signal)
            self._journal_or_stop(leg, index, step, phase)
            self.hooks.step_started(leg.name, step)
            at = self.now()
            t0 = self.clock.monotonic_ns()
            try:
                done = self.executor.run(step, self.ctx)
            except StepFailed as failed:
                self.changed = self.changed or failed.changed
                self.verdicts.extend(failed.verdicts)
                self._log(leg, step, StepStatus.FAILED, str(failed), at, t0, rollback)
                raise
            except Blocked as blocked:
                self.verdicts.extend(blocked.report.verdicts)
                self._log(leg, step, StepStatus.FAILED, str(blocked), at, t0, rollback)
                raise
            self._learn(step, done)
            self._log(leg, step, StepStatus.OK, done.detail, at, t0, rollback)

    def _journal_or_stop(self, leg: p.Leg, index: int, step: p.Step, phase: Phase) -> None:
        """No forward step runs without its journal: a refused write (disk full, EIO) before
        any change ends the attempt as a storage failure (exit 8, nothing changed); after a
        change it fails the attempt before the step, and the failure path undoes what ran.
        Undoing goes on without the journal: the host back matters more than its record."""
        try:
            self._journal(leg, index, step, phase)
        except StorageError as exc:
            if phase is Phase.FORWARD and not self.changed:
                raise
            if phase is Phase.FORWARD:
                raise StepFailed(f"journal not written before {step.describe()}: {exc}"
                                 ) from None
            note = f"undoing without the journal: {exc}"
            if note not in self.notes:
                self.notes.append(note)

    def _journal(self, leg: p.Leg, index: int, step: p.Step, phase: Phase) -> None:
        """Durably record the step about to run and what undoing the attempt needs."""
        snapshot: dict[str, SliceSettings] | None
        try:
            snapshot = self.state.saved_slices()
        except StateCorrupt:
            snapshot = None
        # The journal as of now, built only if its file is read (`write_journal`): what it
        # holds is taken now; the step log and the started units only grow, so their
        # first n entries are the ones there now.
        start, target, prior, boot_id = self.start, self.target, self.prior, self.boot_id
        written_at = self.now()
        changed = self.changed or isinstance(step, MUTATING)
        units, steps = self.started_units, self.steps
        n_units, n_steps = len(units), len(steps)

        def journal() -> Mapping[str, Any]:
            return Journal(
                attempt=start.attempt, pid=start.pid, requested=target,
                prior_safe=prior, started_at=start.started_at, written_at=written_at,
                phase=phase, leg=leg.name, step_index=index, step_count=len(leg.steps),
                step=step.describe(), changed=changed, boot_id=boot_id,
                started_units=tuple(units[:n_units]), slice_snapshot=snapshot,
                steps=tuple(steps[:n_steps]),
            ).to_json()

        self.state.write_journal(journal)

    def _learn(self, step: p.Step, done: StepDone) -> None:
        self.changed = self.changed or done.changed
        self.verdicts.extend(done.verdicts)
        self.notes.extend(done.notes)
        self.external.extend(done.external_changes)
        if isinstance(step, p.StartUnit):
            self.started_units.append(step.unit)
        elif isinstance(step, p.Isolate):
            self.started_units.append(step.target)
        if done.placement is not None:
            self.ctx = attrs.evolve(self.ctx, placement=done.placement, degraded=done.degraded)

    def _log(self, leg: p.Leg, step: p.Step, status: StepStatus, detail: str, at: str,
             t0: int, rollback: bool) -> None:
        self.steps.append(StepEntry(
            leg=leg.name, step=step.describe(), status=status, detail=detail, at=at,
            elapsed_s=round((self.clock.monotonic_ns() - t0) / 1e9, 3), rollback=rollback,
        ))
        self.hooks.step_finished(leg.name, step, status.value, detail)


def recover(journal: Journal, *, backend: Backend, policy: Policy, state: RuntimeState,
            hooks: StepHooks) -> Recovery:
    """Finish a dead controller's attempt from its journal, deterministically.

    Nothing changed yet: nothing to do. Otherwise run the unguarded legs to
    `journal.recovery_target()` (complete an exit to desktop, else restore the prior safe
    mode), journalled under the dead attempt's id so that a controller killed while
    recovering is itself recovered the same way.
    """
    boot_id = backend.observe().boot_id
    target = journal.recovery_target(boot_id)
    if target is None:
        return Recovery(journal.found(), RecoveryOutcome.NOTHING_TO_UNDO)
    start = AttemptStart(journal.attempt, journal.requested, "recovery", journal.pid,
                         journal.started_at)
    runner = Attempt(backend=backend, policy=policy, state=state, start=start,
                     last_failed=False, hooks=hooks)
    runner.prior = journal.prior_safe
    runner.changed = True
    runner.boot_id = boot_id
    legs, error, final = runner.restore(target, Phase.RECOVERY)
    del legs
    restored = final.state.mode is target and error is None
    notes = [*runner.notes, *(c.describe() for c in runner.external)]
    return Recovery(
        found=journal.found(),
        outcome=RecoveryOutcome.RESTORED if restored else RecoveryOutcome.NOT_RESTORED,
        target=target, steps=tuple(runner.steps), final_state=final.state.value,
        error=error, notes=tuple(notes),
    )
