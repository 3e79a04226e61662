"""The reconciler: one synchronous, bounded, locked transition attempt.

Called by the CLI (`mode request`, `mode reconcile`, `mode boot`) and by the simulator's
campaigns and the Gherkin steps. For each attempt it takes the lock, writes desired first,
observes, plans, runs the plan step by step (every wait bounded by the policy), decides
success only by re-observation, restores the prior safe state on failure, writes `current`,
`last-transition.json` and `last-guards.json`, appends exactly one audit record and releases
the lock. Steps are executed by `_Attempt`, which holds what one attempt learned.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import attrs

from dubnium import evidence as ev
from dubnium import plan as p
from dubnium.audit import AuditLog
from dubnium.backend import Backend, BackendError, Clock, StateCorrupt, iso_timestamp
from dubnium.codes import ExitCode, GuardId
from dubnium.facts import ActiveState, HostFacts, SliceSettings, Unavailable, VllmProfile
from dubnium.guards import GUARDS, GuardReport, Status, Verdict, evaluate
from dubnium.modes import Mode, ObservedState
from dubnium.observe import Markers, Observation, classify, units_active
from dubnium.policy import Policy
from dubnium.state import LockBusy, LockHolder, RuntimeState

SCHEMA_VERSION = 1


class Outcome(StrEnum):
    CONVERGED = "converged"
    ALREADY = "already-converged"
    BLOCKED = "blocked"
    ROLLED_BACK = "rolled-back"
    DEGRADED = "degraded"
    FAILED = "failed-transition"
    LOCK_BUSY = "lock-busy"
    ABANDONED = "abandoned"  # a controller died holding the lock; found by the next one
    ERROR = "internal-error"


class Reporter:
    """Named hooks called as an attempt runs; all do nothing by default (resolvelib style)."""

    def attempt_started(self, attempt_id: str, target: Mode) -> None:
        """Called once the lock is held."""

    def step_started(self, leg: str, step: p.Step) -> None:
        """Called before each step runs."""

    def step_finished(self, leg: str, step: p.Step, status: str, detail: str) -> None:
        """Called after each step, with its status."""

    def attempt_finished(self, record: Mapping[str, Any]) -> None:
        """Called with the audit record, after it is written."""


@attrs.frozen
class Result:
    outcome: Outcome
    exit_code: int
    record: Mapping[str, Any]
    observation: Observation | None

    @property
    def summary(self) -> str:
        return str(self.record.get("summary", self.outcome.value))


class _StepFailed(Exception):
    def __init__(self, reason: str, verdict: Verdict | None = None) -> None:
        super().__init__(reason)
        self.verdict = verdict


class _Blocked(Exception):
    def __init__(self, report: GuardReport) -> None:
        super().__init__("blocked")
        self.report = report


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
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.state = state
        self.audit = audit
        self.pid = pid
        self.reporter = reporter or Reporter()
        self._attempts = 0

    # ----------------------------------------------------------------- reading

    def markers(self) -> Markers:
        return Markers(
            transition_in_progress=self.state.store.lock_held() is not None,
            last_transition_failed=self.last_failed(),
        )

    def last_failed(self) -> bool:
        """The last record says failed-transition (an unreadable record says nothing)."""
        try:
            last = self.state.last_transition()
        except StateCorrupt:
            return False
        return bool(last and last.get("outcome") == Outcome.FAILED.value)

    def observe(self) -> tuple[HostFacts, Observation]:
        facts = self.backend.observe()
        return facts, classify(facts, self.policy, self.markers())

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
        base: dict[str, Any] = {
            "kind": "transition",
            "attempt": attempt_id,
            "requested": target.value,
            "by": by,
            "pid": self.pid,
            "started_at": self.now(),
        }
        holder = LockHolder(self.pid, "", base["started_at"], target.value, attempt_id)
        try:
            lease = self.state.store.acquire(holder)
        except LockBusy as busy:
            record = {**base, "outcome": Outcome.LOCK_BUSY.value,
                      "exit_code": int(ExitCode.LOCK_BUSY), "holder": busy.holder,
                      "summary": str(busy), "finished_at": self.now()}
            self.audit.append(record)
            self.reporter.attempt_finished(record)
            return Result(Outcome.LOCK_BUSY, int(ExitCode.LOCK_BUSY), record, None)
        try:
            if lease.recovered is not None:
                base["lock_recovered"] = dict(lease.recovered)
                self._record_abandoned(lease.recovered)
            self.reporter.attempt_started(attempt_id, target)
            facts0 = self.backend.observe()
            self.state.store.update_holder(attrs.evolve(holder, boot_id=facts0.boot_id))
            attempt = _Attempt(self, target, base)
            record = attempt.run(facts0)
            record["duration_s"] = round((clock.monotonic_ns() - started_ns) / 1e9, 3)
            self._finish(record)
            result = Result(Outcome(record["outcome"]), int(record["exit_code"]), record,
                            attempt.final)
        except Exception:
            record = {**base, "outcome": Outcome.ERROR.value, "exit_code": int(ExitCode.ERROR),
                      "summary": "internal error (a bug): see the trace",
                      "trace": traceback.format_exc(limit=20), "finished_at": self.now()}
            self.audit.append(record)
            lease.release()
            raise
        # A BaseException (the process being killed) skips this: the lock stays behind and
        # the next controller recovers it, as after a real crash.
        lease.release()
        return result

    def _finish(self, record: dict[str, Any]) -> None:
        self.state.write_last_transition(record)
        self.audit.append(record)
        self.reporter.attempt_finished(record)

    def _record_abandoned(self, holder: Mapping[str, Any]) -> None:
        """A controller died holding the lock: give its attempt its one record if it has none."""
        attempt = holder.get("attempt")
        if attempt is not None:
            for entry in self.audit.entries():
                if entry.record is not None and entry.record.get("attempt") == attempt:
                    return
        self.audit.append({
            "kind": "transition",
            "attempt": attempt,
            "requested": holder.get("target"),
            "pid": holder.get("pid"),
            "started_at": holder.get("started_at"),
            "outcome": Outcome.ABANDONED.value,
            "exit_code": None,
            "summary": "the controller holding the lock died; its lock was recovered",
            "finished_at": self.now(),
        })

    def boot(self) -> Result:
        """Boot normalisation: desired becomes the boot default mode and is reconciled."""
        return self.request(self.policy.boot_default_mode, by="boot")

    def reconcile(self, target: Mode | None = None) -> Result:
        """Converge to `target`, else to the recorded desired mode, else the boot default."""
        desired = target or self.state.read_desired() or self.policy.boot_default_mode
        return self.request(desired, by="mode reconcile")


class _Attempt:
    """Runs one plan and its rollback; collects the step log and guard verdicts."""

    def __init__(self, rec: Reconciler, target: Mode, base: dict[str, Any]) -> None:
        self.rec = rec
        self.backend = rec.backend
        self.policy = rec.policy
        self.clock = rec.backend.clock
        self.target = target
        self.base = base
        self.steps: list[dict[str, Any]] = []
        self.verdicts: list[Verdict] = []
        self.changed = False
        self.profile: VllmProfile | None = None
        self.exo_profile: VllmProfile | None = None
        self.degraded = False
        self.final: Observation | None = None
        self.notes: list[str] = []
        self.leg_target = target

    # ------------------------------------------------------------- the attempt

    def run(self, facts: HostFacts) -> dict[str, Any]:
        state = self.rec.state
        previous_desired: Mode | None
        try:
            previous_desired = state.read_desired()
        except StateCorrupt as exc:
            previous_desired = None
            self.notes.append(f"replaced a corrupt desired file ({exc})")
        state.write_desired(self.target, self.rec.now(), str(self.base["by"]))

        start = classify(facts, self.policy, Markers(last_transition_failed=self.rec.last_failed()))
        prior = start.state.mode or Mode.DESKTOP
        plan = p.plan(start.state, self.target, self.policy)
        record: dict[str, Any] = {
            **self.base,
            "from": start.state.value,
            "prior_safe": prior.value,
            "desired_before": previous_desired.value if previous_desired else None,
            "plan": plan.to_json(),
        }
        try:
            if plan.noop:
                self.final = start
                return self._close(record, Outcome.ALREADY, ExitCode.OK,
                                   f"already {self.target.value}")
            self._preflight(plan, facts)
            for leg in plan.legs:
                self._run_leg(leg)
            final = self._observe_final()
            if final.state.mode is self.target:
                return self._close(record, Outcome.CONVERGED, ExitCode.OK,
                                   f"{start.state.value} -> {self.target.value}: converged")
            if self.degraded and final.state is ObservedState.DEGRADED_COMPUTE:
                return self._close(
                    record, Outcome.DEGRADED, ExitCode.DEGRADED,
                    "degraded-compute: vLLM on the non-display GPU(s); display GPU residual "
                    "stays under the policy bound",
                )
            raise _StepFailed(f"re-observation found {final.state.value}, not "
                              f"{self.target.value}: {'; '.join(final.conflicts)}")
        except _Blocked as blocked:
            first = blocked.report.blocking[0]
            reason = "; ".join(f"{v.guard.value}: {v.reason}" for v in blocked.report.blocking)
            if not self.changed:
                self._reset_desired(prior)
                self.final = classify(self.backend.observe(), self.policy)
                code = first.exit_code
                return self._close(record, Outcome.BLOCKED, code, f"blocked by {reason}",
                                   blocking=[v.guard.value for v in blocked.report.blocking])
            return self._rollback(record, prior, f"blocked midway by {reason}")
        except _StepFailed as failed:
            return self._rollback(record, prior, str(failed))

    def _reset_desired(self, prior: Mode) -> None:
        """A refused or undone request leaves desired at the safe mode the host is in."""
        self.rec.state.write_desired(prior, self.rec.now(), "rollback of desired")

    def _rollback(self, record: dict[str, Any], prior: Mode, reason: str) -> dict[str, Any]:
        self.notes.append(f"failure: {reason}")
        record["failure"] = reason
        now_state = classify(self.backend.observe(), self.policy).state
        if prior is Mode.COMPUTE:
            legs = p.plan(now_state, Mode.COMPUTE, self.policy, guarded=False).legs
        else:
            legs = p.plan(ObservedState.UNKNOWN, prior, self.policy, guarded=False).legs
        self.profile = None
        self.exo_profile = None
        self.degraded = False
        rollback_error = None
        try:
            for leg in legs:
                self._run_leg(leg, rollback=True)
        except (_StepFailed, _Blocked) as exc:
            rollback_error = str(exc)
        final = self._observe_final()
        self._reset_desired(prior)
        record["rollback"] = {"to": prior.value, "legs": [leg.name for leg in legs],
                              "error": rollback_error}
        if final.state.mode is prior and rollback_error is None:
            return self._close(record, Outcome.ROLLED_BACK, ExitCode.ROLLED_BACK,
                               f"{self.target.value} failed ({reason}); restored {prior.value}")
        return self._close(
            record, Outcome.FAILED, ExitCode.FAILED_TRANSITION,
            f"{self.target.value} failed ({reason}); could not restore {prior.value}: "
            f"observed {final.state.value}",
        )

    def _observe_final(self) -> Observation:
        self.final = classify(self.backend.observe(), self.policy)
        return self.final

    def _close(self, record: dict[str, Any], outcome: Outcome, code: int, summary: str,
               blocking: list[str] | None = None) -> dict[str, Any]:
        final = self.final
        now = self.rec.now()
        record.update({
            "outcome": outcome.value,
            "exit_code": int(code),
            "summary": summary,
            "blocking": blocking or [],
            "steps": self.steps,
            "guards": [v.to_json() for v in self.verdicts],
            "vllm_profile": self.profile.to_json() if self.profile else None,
            "exo_profile": self.exo_profile.to_json() if self.exo_profile else None,
            "notes": self.notes,
            "finished_at": now,
        })
        if final is not None:
            observation = final.to_json(now)
            record["final_state"] = observation["observed_state"]
            self.rec.state.write_current(observation)
        report = GuardReport(self.target, tuple(self.verdicts))
        self.rec.state.write_last_guards({**report.to_json(), "attempt": record["attempt"],
                                          "evaluated_at": now})
        return record

    # ------------------------------------------------------------- the steps

    def _preflight(self, plan: p.Plan, facts: HostFacts) -> None:
        """All legs' guards on the starting facts: never leave studio just to be blocked."""
        for leg in plan.legs:
            report = evaluate(leg.guards, facts, self.policy, leg.target)
            self.verdicts.extend(report.verdicts)
            if report.blocking:
                raise _Blocked(report)
        self.verdicts.clear()

    def _run_leg(self, leg: p.Leg, rollback: bool = False) -> None:
        self.leg_target = leg.target  # what this leg's guards check (T2 of T5: desktop)
        for step in leg.steps:
            self.rec.reporter.step_started(leg.name, step)
            at = self.rec.now()
            t0 = self.clock.monotonic_ns()
            try:
                detail = self._step(step)
            except (_StepFailed, _Blocked) as exc:
                self._log(leg, step, "failed", str(exc), at, t0, rollback)
                raise
            self._log(leg, step, "ok", detail, at, t0, rollback)

    def _log(self, leg: p.Leg, step: p.Step, status: str, detail: str, at: str, t0: int,
             rollback: bool) -> None:
        self.steps.append({
            "leg": leg.name + (" (rollback)" if rollback else ""),
            "step": step.describe(),
            "status": status,
            "detail": detail,
            "at": at,
            "elapsed_s": round((self.clock.monotonic_ns() - t0) / 1e9, 3),
        })
        self.rec.reporter.step_finished(leg.name, step, status, detail)

    def _step(self, step: p.Step) -> str:
        match step:
            case p.CheckGuards(guards=ids):
                report = evaluate(ids, self.backend.observe(), self.policy, self.leg_target)
                self.verdicts.extend(report.verdicts)
                if report.blocking:
                    raise _Blocked(report)
                warned = [v.guard.value for v in report.warnings]
                return "passed" + (f" (warnings: {', '.join(warned)})" if warned else "")
            case p.StartUnit(unit=unit, bound_s=bound):
                return self._start(unit, bound)
            case p.StopUnit(unit=unit, bound_s=bound):
                return self._stop(unit, bound)
            case p.Isolate(target=target, bound_s=bound):
                self._act(lambda: self.backend.isolate(target), f"isolate {target}")
                self.changed = True
                # Someone may log in graphically after the release was verified (found by the
                # fault campaigns): compute must not load onto the display GPU under a GUI.
                to_compute = target == self.policy.units.compute_target
                self._wait(lambda f: units_active(f, target), bound, f"{target} active",
                           fail=lambda f: _unit_failed(f, target) or (
                               to_compute and _has_graphical(f)),
                           why="a unit failed" + (" or a graphical session appeared"
                                                  if to_compute else ""))
                return f"{target} active"
            case p.SaveSlices():
                return self._save_slices()
            case p.ApplySlices(mode=mode):
                self._apply_slices(self.policy.slices[mode])
                return f"{mode.value} slice settings applied"
            case p.RestoreSlices():
                try:
                    saved = self.rec.state.saved_slices()
                except StateCorrupt as exc:  # found by the fault campaigns
                    self.notes.append(f"saved slice settings unreadable ({exc}); applied the "
                                      "desktop policy values instead")
                    saved = None
                self._apply_slices(saved or self.policy.slices[Mode.DESKTOP])
                self.rec.state.forget_slices()
                return "restored the saved settings" if saved else "applied desktop policy"
            case p.NotifyUser(summary=summary, body=body):
                self.backend.notify_user(summary, body)
                return "notified"
            case p.TerminateSessions(bound_s=bound):
                return self._terminate_sessions(bound)
            case p.AwaitDisplayRelease(bound_s=bound, degraded_allowed=allowed):
                return self._await_release(bound, allowed)
            case p.WriteGpuProfiles():
                return self._write_profiles()
            case p.AwaitGraphical(bound_s=bound):
                graphical = self.policy.units.graphical_target
                self._wait(lambda f: units_active(f, graphical) and _has_graphical(f), bound,
                           "graphical stack up with a session")
                return "graphical session present"
            case p.Verify(mode=mode, bound_s=bound):
                return self._verify(mode, bound)
        raise AssertionError(f"unknown step {step!r}")  # pragma: no cover

    def _act(self, action: Callable[[], None], what: str) -> None:
        """Run one backend action; retry temporary errors a bounded number of times."""
        for attempt in range(3):
            try:
                action()
                return
            except BackendError as exc:
                if not exc.temporary or attempt == 2:
                    raise _StepFailed(f"{what}: {exc}") from None
                self.clock.sleep(self.policy.gpu_release.poll_interval_s)

    def _wait(self, done: Callable[[HostFacts], bool], bound_s: float, what: str,
              fail: Callable[[HostFacts], bool] | None = None,
              why: str = "a unit failed") -> HostFacts:
        deadline = self.clock.monotonic_ns() + int(bound_s * 1e9)
        interval = self.policy.gpu_release.poll_interval_s
        while True:
            facts = self.backend.observe()
            if done(facts):
                return facts
            if fail is not None and fail(facts):
                raise _StepFailed(f"gave up waiting for {what}: {why}")
            if self.clock.monotonic_ns() >= deadline:
                raise _StepFailed(f"timed out after {bound_s:g} s waiting for {what}")
            _poll_sleep(self.clock, interval, deadline)

    def _start(self, unit: str, bound: float) -> str:
        self._act(lambda: self.backend.start_unit(unit), f"start {unit}")
        self.changed = True
        self._wait(lambda f: units_active(f, unit), bound, f"{unit} active",
                   fail=lambda f: _unit_failed(f, unit))
        return f"{unit} active"

    def _stop(self, unit: str, bound: float) -> str:
        facts = self.backend.observe()
        if isinstance(facts.units, Unavailable):
            raise _StepFailed(f"stop {unit}: unit states unavailable: {facts.units.reason}")
        current = facts.units.get(unit)
        if current.active in (ActiveState.INACTIVE, ActiveState.FAILED):
            return f"{unit} already {current.active.value}"
        self._act(lambda: self.backend.stop_unit(unit), f"stop {unit}")
        self.changed = True
        self._wait(lambda f: _unit_stopped(f, unit), bound, f"{unit} stopped")
        return f"{unit} stopped"

    def _save_slices(self) -> str:
        slices = self.backend.observe().slice_settings()
        if isinstance(slices, Unavailable):
            raise _StepFailed(f"cannot read slice settings: {slices.reason}")
        studio = self.policy.slices[Mode.STUDIO_LOCAL]
        try:
            saved = self.rec.state.saved_slices()
        except StateCorrupt as exc:  # found by the fault campaigns: overwrite it
            self.notes.append(f"replaced unreadable saved slice settings ({exc})")
            saved = None
        in_force = {name: slices.get(name) for name in studio}
        if saved is not None and in_force == dict(studio):
            return "kept the settings saved by an earlier, unfinished entry"
        wanted = {name: value for name, value in slices.items() if name in studio}
        self.rec.state.save_slices(wanted, self.rec.now())
        return "saved " + ", ".join(sorted(wanted))

    def _apply_slices(self, settings: Mapping[str, SliceSettings]) -> None:
        for name, value in settings.items():
            self._act(functools.partial(self.backend.set_slice_properties, name, value),
                      f"set {name}")
            self.changed = True
        # A call that reports success is not evidence (found by the fault campaigns: a
        # set-property that changed nothing let studio-local be left with its weights).
        slices = self.backend.observe().slice_settings()
        if isinstance(slices, Unavailable):
            raise _StepFailed(f"cannot verify the slice settings: {slices.reason}")
        for name, value in settings.items():
            seen = slices.get(name)
            wrong = [field for field, want in attrs.asdict(value).items()
                     if want is not None and getattr(seen, field, None) != want]
            if wrong:
                raise _StepFailed(f"set {name}: {', '.join(wrong)} not in force after the call "
                                  f"(observed {seen})")

    def _terminate_sessions(self, bound: float) -> str:
        facts = self.backend.observe()
        sessions = ev.graphical_sessions(facts)
        if isinstance(sessions, Unavailable):
            raise _StepFailed(f"sessions unavailable: {sessions.reason}")
        for session in sessions:
            try:
                self.backend.terminate_session(session.id)
            except BackendError as exc:
                self.notes.append(f"terminate session {session.id}: {exc}")
            self.changed = True
        self._wait(lambda f: not _has_graphical(f), bound, "graphical sessions to end")
        return f"ended {len(sessions)} graphical session(s)"

    def _await_release(self, bound: float, degraded_allowed: bool) -> str:
        verdict = GUARDS[GuardId.GPU_DISPLAY_RELEASED]
        deadline = self.clock.monotonic_ns() + int(bound * 1e9)
        while True:
            facts = self.backend.observe()
            result = verdict(facts, self.policy, self.target)
            if result.status is Status.PASS:
                self.verdicts.append(result)
                self._place(facts, self.policy.hardware.compute_gpus, "compute")
                return result.reason
            if self.clock.monotonic_ns() >= deadline:
                break
            _poll_sleep(self.clock, self.policy.gpu_release.poll_interval_s, deadline)
        self.verdicts.append(result)
        release = ev.display_release(facts, self.policy)
        others = self.policy.hardware.non_display_compute_gpus
        if degraded_allowed and release.status is ev.ReleaseStatus.RESIDUAL and others:
            self.degraded = True
            self._place(facts, others, "degraded")
            return f"indeterminate after {bound:g} s ({release.reason}): degraded profile"
        raise _StepFailed(f"display GPU not released within {bound:g} s: {result.reason}",
                          result)

    def _place(self, facts: HostFacts, gpus: tuple[int, ...], name: str) -> None:
        """Decide which GPUs vLLM and EXO get (policy: shared or split)."""
        vllm_gpus, exo_gpus = self.policy.gpu_split(gpus)
        self.profile = self._profile(facts, vllm_gpus, name) if vllm_gpus else None
        self.exo_profile = self._profile(facts, exo_gpus, name) if exo_gpus else None

    def _profile(self, facts: HostFacts, indices: tuple[int, ...], name: str) -> VllmProfile:
        uuids = []
        for index in indices:
            gpu = ev.gpu_by_index(facts, index)
            if isinstance(gpu, Unavailable):
                raise _StepFailed(f"vLLM profile: {gpu.reason}")
            uuids.append(gpu.uuid)
        return VllmProfile(name, tuple(uuids), tuple(indices))

    def _write_profiles(self) -> str:
        written = []
        for enabled, profile, write, what in (
            (self.policy.vllm.enable, self.profile, self.backend.write_vllm_profile, "vLLM"),
            (self.policy.exo.enable, self.exo_profile, self.backend.write_exo_profile, "EXO"),
        ):
            if not enabled:
                continue
            if profile is None:
                raise _StepFailed(f"no {what} GPU profile decided")
            self._act(functools.partial(write, profile), f"write the {what} profile")
            self.changed = True
            written.append(f"{what} {profile.name} on GPUs {list(profile.gpu_indices)}")
        return "; ".join(written) or "no GPU workload enabled"

    def _verify(self, mode: Mode, bound: float) -> str:
        workloads = self.policy.compute_workloads

        def done(facts: HostFacts) -> bool:
            state = classify(facts, self.policy).state
            return state.mode is mode or (
                self.degraded and state is ObservedState.DEGRADED_COMPUTE
                and all(units_active(facts, u) for u in workloads)
            )

        def hopeless(facts: HostFacts) -> bool:
            return mode is Mode.COMPUTE and (any(_unit_failed(facts, u) for u in workloads)
                                             or _has_graphical(facts))

        facts = self._wait(done, bound, f"the host to be {mode.value}", fail=hopeless,
                           why="a unit failed or a graphical session appeared")
        return classify(facts, self.policy).state.value


def _poll_sleep(clock: Clock, interval_s: float, deadline_ns: int) -> None:
    """Sleep until the next poll of a wait.

    The next observation is the first poll at or after the moment the host may next change
    (`Clock.quiet_until_ns`: now on a real host, the next scheduled event in the simulator)
    or the deadline, whichever is first: every decision and its time are the same as when
    polling every interval, without the observations that could only see the same facts.
    """
    step = max(1, round(interval_s * 1e9))
    now = clock.monotonic_ns()
    until = clock.quiet_until_ns()
    target = deadline_ns if until is None else min(until, deadline_ns)
    polls = max(1, -(-(target - now) // step))
    clock.sleep(polls * step / 1e9)


def _unit_failed(facts: HostFacts, unit: str) -> bool:
    return not isinstance(facts.units, Unavailable) and (
        facts.units.get(unit).active is ActiveState.FAILED
    )


def _unit_stopped(facts: HostFacts, unit: str) -> bool:
    return not isinstance(facts.units, Unavailable) and facts.units.get(unit).active in (
        ActiveState.INACTIVE, ActiveState.FAILED
    )


def _has_graphical(facts: HostFacts) -> bool:
    sessions = ev.graphical_sessions(facts)
    return not isinstance(sessions, Unavailable) and bool(sessions)
