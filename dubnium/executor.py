"""The step executor: runs one plan step against the backend, every wait bounded.

Called by the attempt (`dubnium.attempt`) for each step of each leg, forward and in
rollback. A step either returns a frozen `StepDone` (its detail and what it learned: guard
verdicts, a GPU placement, notes) or raises `StepFailed` / `Blocked`. Backend actions are
retried a bounded number of times on temporary errors; waits poll the backend until their
predicate holds, a failure predicate holds, or the bound passes. The executor keeps no state
between steps: what earlier steps decided comes in as a `StepContext`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import attrs

from dubnium import contracts as ct
from dubnium import evidence as ev
from dubnium import plan as p
from dubnium import studio
from dubnium.backend import Backend, Clock
from dubnium.codes import GuardId
from dubnium.errors import AttemptStop, BackendError, Cancelled, StateCorrupt, TuningFailed
from dubnium.facts import ActiveState, HostFacts, SliceSettings, Unavailable
from dubnium.gpu_placement import GpuPlacement, place
from dubnium.guards import GUARDS, GuardReport, Status, Verdict, evaluate
from dubnium.modes import Mode, ObservedState
from dubnium.observe import Classifier, Markers, classify
from dubnium.policy import Policy
from dubnium.predicates import (
    has_graphical,
    unit_active,
    unit_failed,
    unit_starting_or_active,
    unit_stopped,
    unit_stopping_or_stopped,
)
from dubnium.records import ExternalChange
from dubnium.state import RuntimeState


class StepFailed(AttemptStop):
    """A step did not reach its goal within its bound; `changed`: it touched the host."""

    def __init__(self, reason: str, verdicts: tuple[Verdict, ...] = (),
                 changed: bool = False) -> None:
        super().__init__(reason)
        self.verdicts = verdicts
        self.changed = changed


class Blocked(AttemptStop):
    """A guard step found a blocking verdict."""

    def __init__(self, report: GuardReport) -> None:
        super().__init__("blocked")
        self.report = report


@attrs.frozen
class StepContext:
    """What the steps before this one decided."""

    target: Mode  # the attempt's target
    leg_target: Mode  # what this leg's guards check (T2 of T5: desktop)
    attempt: str = ""  # the attempt's id (a `mode cancel` names it)
    placement: GpuPlacement | None = None
    degraded: bool = False


@attrs.frozen
class StepDone:
    """A step that reached its goal, and what it learned."""

    detail: str
    changed: bool = False
    verdicts: tuple[Verdict, ...] = ()
    placement: GpuPlacement | None = None
    degraded: bool = False
    notes: tuple[str, ...] = ()
    external_changes: tuple[ExternalChange, ...] = ()


class StepExecutor:
    """Runs steps with a backend, a policy and the runtime state (for the slice snapshot)."""

    def __init__(self, backend: Backend, policy: Policy, state: RuntimeState,
                 now: Callable[[], str], classifier: Classifier = classify) -> None:
        self.backend = backend
        self.classify = classifier
        self.policy = policy
        self.state = state
        self.now = now
        self.clock: Clock = backend.clock
        self._guarded: tuple[tuple[GuardId, ...], HostFacts, Mode, GuardReport] | None = None

    def guards(self, ids: tuple[GuardId, ...], facts: HostFacts, target: Mode) -> GuardReport:
        """`guards.evaluate` on one snapshot, answered again without evaluating for the very
        same snapshot (the attempt's preflight, then its first guard step, often observe
        an unchanged host: the backend hands out the same facts object)."""
        last = self._guarded
        if last is not None and last[1] is facts and last[2] is target and last[0] == ids:
            return last[3]
        report = evaluate(ids, facts, self.policy, target)
        self._guarded = (ids, facts, target, report)
        return report
    def run(self, step: p.Step, ctx: StepContext) -> StepDone:
        match step:
            case p.CheckGuards(guards=ids):
                report = self.guards(ids, self.backend.observe(), ctx.leg_target)
                if report.blocking:
                    raise Blocked(report)
                warned = [v.guard.value for v in report.warnings]
                return StepDone("passed" + (f" (warnings: {', '.join(warned)})" if warned
                                            else ""), verdicts=report.verdicts)
            case p.StartUnit(unit=unit, bound_s=bound):
                return self._start(unit, bound)
            case p.StopUnit(unit=unit, bound_s=bound):
                return self._stop(unit, bound)
            case p.Isolate(target=target, bound_s=bound):
                return self._isolate(target, bound)
            case p.SaveSlices():
                return self._save_slices()
            case p.ApplySlices(mode=mode):
                notes = self._apply_slices(self.policy.slices[mode])
                return StepDone(f"{mode.value} slice settings applied", changed=True,
                                notes=notes)
            case p.RestoreSlices():
                return self._restore_slices()
            case p.SaveStudioTuning() | p.ApplyStudioTuning() | p.RestoreStudioTuning():
                return self._tuning(step)
            case p.NotifyUser(summary=summary, body=body):
                return StepDone(self.backend.notify_user(summary, body).describe())
            case p.Grace(bound_s=bound, countdown_every_s=every):
                return self._grace(ctx, bound, every)
            case p.TerminateSessions(bound_s=bound):
                return self._terminate_sessions(bound)
            case p.AwaitDisplayRelease(bound_s=bound, degraded_allowed=allowed):
                return self._await_release(ctx, bound, allowed)
            case p.WriteGpuProfiles():
                return self._write_profiles(ctx)
            case p.AwaitGraphical(bound_s=bound):
                return self._await_graphical(bound)
            case p.Verify(mode=mode, bound_s=bound):
                return self._verify(ctx, mode, bound)
        raise AssertionError(f"unknown step {step!r}")  # pragma: no cover

    # ------------------------------------------------------------- actions and waits

    def act(self, action: Callable[[], None], what: str, changed: bool = False, *,
            in_place: Callable[[HostFacts], bool] | None = None,
            waits: bool = False) -> tuple[str, ...]:
        """Run one backend action; its notes. A temporary error (a timeout) is no proof of
        failure: when the effect is observed in place (`in_place`) it is not redone; else the
        action is tried again, `timeouts.action_tries` times at most, spaced by
        `timeouts.action_retry_spacing_s`. After the last temporary error a step that `waits`
        for its effect lets its own bounded wait decide; any other step fails."""
        tries = self.policy.timeouts.action_tries
        for attempt in range(1, tries + 1):
            try:
                action()
                return ()
            except BackendError as exc:
                if not exc.temporary:
                    raise StepFailed(f"{what}: {exc}", changed=changed) from None
                self.clock.sleep(self.policy.timeouts.action_retry_spacing_s)
                if in_place is not None and in_place(self.backend.observe()):
                    return (f"{what}: {exc}; its effect is observed in place, not redone",)
                if attempt == tries:
                    if waits:
                        return (f"{what}: {exc} ({tries} tries); the step's bounded wait "
                                "decides",)
                    raise StepFailed(f"{what}: {exc}", changed=changed) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def wait(self, done: Callable[[HostFacts], bool], bound_s: float, what: str,
             fail: Callable[[HostFacts], bool] | None = None,
             why: str = "a unit failed", changed: bool = False,
             left: Callable[[HostFacts], str] | None = None) -> HostFacts:
        """Poll until `done`; `StepFailed` on `fail` or at the bound (`changed`: the step's).

        The failure condition is evaluated first, on the same observation as `done` (seed
        43522: a guest logged in on the display GPU in the observation in which compute.target
        came up; checking `done` first accepted it). `left` says, in the failure message,
        what was still in the way (sessions by id and user).
        """
        deadline = self.clock.monotonic_ns() + int(bound_s * 1e9)
        interval = self.policy.gpu_release.poll_interval_s
        while True:
            facts = self.backend.observe()
            if fail is not None and fail(facts):
                raise StepFailed(f"gave up waiting for {what}: {why}{_left(left, facts)}",
                                 changed=changed)
            if done(facts):
                return facts
            if self.clock.monotonic_ns() >= deadline:
                raise StepFailed(f"timed out after {bound_s:g} s waiting for {what}"
                                 f"{_left(left, facts)}", changed=changed)
            poll_sleep(self.clock, interval, deadline)

    # ------------------------------------------------------------- the steps

    def _tuning(self, step: p.Step) -> StepDone:
        """The studio tuning steps (issue 15; dubnium.studio): PipeWire clock, governor."""
        notes: list[str] = []

        def act(call: Callable[[], None], what: str) -> None:
            notes.extend(self.act(call, what, changed=True))  # a retry's notes are kept

        try:
            if isinstance(step, p.SaveStudioTuning):
                detail = studio.save(self.backend, self.state, self.policy, self.now(), notes)
                return StepDone(detail, notes=tuple(notes))
            if isinstance(step, p.ApplyStudioTuning):
                return StepDone(studio.apply(self.backend, self.policy, act), changed=True)
            detail = studio.restore(self.backend, self.state, self.policy, act, notes)
            return StepDone(detail, changed=True, notes=tuple(notes))
        except TuningFailed as exc:
            raise StepFailed(str(exc), changed=True) from None

    def _start(self, unit: str, bound: float) -> StepDone:
        notes = self.act(lambda: self.backend.start_unit(unit), f"start {unit}",
                         in_place=lambda f: unit_starting_or_active(f, unit), waits=True)
        self.wait(lambda f: unit_active(f, unit), bound, f"{unit} active",
                  fail=lambda f: unit_failed(f, unit), changed=True)
        return StepDone(f"{unit} active", changed=True, notes=notes)

    def _stop(self, unit: str, bound: float) -> StepDone:
        facts = self.backend.observe()
        if isinstance(facts.units, Unavailable):
            raise StepFailed(f"stop {unit}: unit states unavailable: {facts.units.reason}")
        current = facts.units.get(unit)
        if current.active in (ActiveState.INACTIVE, ActiveState.FAILED):
            return StepDone(f"{unit} already {current.active.value}")
        notes = self.act(lambda: self.backend.stop_unit(unit), f"stop {unit}",
                         in_place=lambda f: unit_stopping_or_stopped(f, unit), waits=True)
        try:
            self.wait(lambda f: unit_stopped(f, unit), bound, f"{unit} stopped", changed=True)
        except StepFailed as hung:
            escalated = self._escalate(unit, str(hung))
            return attrs.evolve(escalated, notes=notes + escalated.notes)
        return StepDone(f"{unit} stopped", changed=True, notes=notes)

    def _escalate(self, unit: str, hung: str) -> StepDone:
        """A stop that hangs: KillUnit SIGKILL, a bounded wait, then reset-failed (the 43522
        class: a hung vLLM stop must not leave compute on the display GPU)."""
        bound = self.policy.timeouts.kill_s
        self.act(lambda: self.backend.kill_unit(unit), f"kill {unit} (SIGKILL)", changed=True)
        self.wait(lambda f: unit_stopped(f, unit), bound, f"{unit} killed", changed=True)
        self.act(lambda: self.backend.reset_failed(unit), f"reset-failed {unit}", changed=True)
        note = f"{hung}; escalated: SIGKILL to every process of {unit}, then reset-failed"
        return StepDone(f"{unit} stopped by SIGKILL after its stop hung", changed=True,
                        notes=(note,))

    def _isolate(self, target: str, bound: float) -> StepDone:
        units = self.policy.units
        others = tuple(t for t in (units.desktop_target, units.compute_target) if t != target)

        def isolated(facts: HostFacts) -> bool:
            """The isolate took effect: the target is coming up, or the other mode's target
            is down (its job may still be queued behind the target's dependencies)."""
            return unit_starting_or_active(facts, target) or (
                not isinstance(facts.units, Unavailable)
                and all(unit_stopping_or_stopped(facts, t) for t in others))

        notes = self.act(lambda: self.backend.isolate(target), f"isolate {target}",
                         in_place=isolated, waits=True)
        # Someone may log in graphically after the release was verified (found by the fault
        # campaigns): compute must not load onto the display GPU under a GUI.
        to_compute = target == self.policy.units.compute_target
        self.wait(lambda f: unit_active(f, target), bound, f"{target} active",
                  fail=lambda f: unit_failed(f, target) or (to_compute and has_graphical(f)),
                  why="a unit failed" + (" or a graphical session appeared"
                                         if to_compute else ""), changed=True,
                  left=_sessions_left if to_compute else None)
        return StepDone(f"{target} active", changed=True, notes=notes)

    def _await_graphical(self, bound: float) -> StepDone:
        """The display manager active and a live graphical session (the desktop contract's
        terms), within the bound; a display manager that fails gives up at once."""
        names = self.policy.units
        terms = (ct.TermId.GRAPHICAL_TARGET_ACTIVE, ct.TermId.DISPLAY_MANAGER_ACTIVE,
                 ct.TermId.GRAPHICAL_SESSION_ALIVE)

        def missing(facts: HostFacts) -> list[ct.Term]:
            report = ct.desktop(facts, self.policy)  # once per snapshot (`ct._per_snapshot`)
            return [report.term(t) for t in terms if not report.term(t).passed]

        def await_login() -> HostFacts:
            return self.wait(lambda f: not missing(f), bound,
                             "the display manager and a graphical session",
                             fail=lambda f: unit_failed(f, names.display_manager),
                             why=f"{names.display_manager} failed",
                             left=lambda f: "; ".join(f"{t.id.value}: {t.detail}"
                                                      for t in missing(f)) or "nothing")

        try:
            facts = await_login()
        except StepFailed:
            # Up with nobody logged in (the session ended; the display manager's autologin
            # or greeter comes only when it starts): restart it once, then wait again.
            if [t.id for t in missing(self.backend.observe())] != [
                    ct.TermId.GRAPHICAL_SESSION_ALIVE]:
                raise
            timeouts = self.policy.timeouts
            stopped = self._stop(names.display_manager, timeouts.unit_stop_s)
            started = self._start(names.display_manager, timeouts.unit_start_s)
            facts = await_login()
            return StepDone(
                f"restarted {names.display_manager}: it was up with no graphical session "
                f"for {bound:g} s; " + ct.desktop(facts, self.policy).term(
                    ct.TermId.GRAPHICAL_SESSION_ALIVE).detail,
                changed=True, notes=stopped.notes + started.notes)
        return StepDone(ct.desktop(facts, self.policy).term(
            ct.TermId.GRAPHICAL_SESSION_ALIVE).detail)

    def _save_slices(self) -> StepDone:
        slices = self.backend.observe().slice_settings()
        if isinstance(slices, Unavailable):
            raise StepFailed(f"cannot read slice settings: {slices.reason}")
        studio = self.policy.slices[Mode.STUDIO_LOCAL]
        notes: tuple[str, ...] = ()
        try:
            saved = self.state.saved_slices()
        except StateCorrupt as exc:  # found by the fault campaigns: overwrite it
            notes = (f"replaced unreadable saved slice settings ({exc})",)
            saved = None
        if saved is not None:  # a restore is pending: never overwrite what it restores
            return StepDone("kept the settings saved by an earlier, unfinished entry "
                            "(not yet restored)")
        wanted = {name: value for name, value in slices.items() if name in studio}
        self.state.save_slices(wanted, self.now())
        return StepDone("saved " + ", ".join(sorted(wanted)), notes=notes)

    def _restore_slices(self) -> StepDone:
        notes: tuple[str, ...] = ()
        try:
            saved = self.state.saved_slices()
        except StateCorrupt as exc:  # found by the fault campaigns
            notes = (f"saved slice settings unreadable ({exc}); applied the desktop policy "
                     "values instead",)
            saved = None
        external = self._external_changes(saved) if saved else ()
        notes += self._apply_slices(saved or self.policy.slices[Mode.DESKTOP])
        self.state.forget_slices()
        return StepDone("restored the saved settings" if saved else "applied desktop policy",
                        changed=True, notes=notes, external_changes=external)

    def _external_changes(self, saved: Mapping[str, SliceSettings]
                          ) -> tuple[ExternalChange, ...]:
        """Slice properties at neither the overlay's value nor the saved one: changed by
        someone else while the overlay was in force (reported in the exit's record)."""
        slices = self.backend.observe().slice_settings()
        if isinstance(slices, Unavailable):
            return ()
        studio = self.policy.slices[Mode.STUDIO_LOCAL]
        found = []
        for name, overlay in studio.items():
            before = saved.get(name)
            seen = slices.get(name)
            for field, want in overlay.items():
                if want is None:
                    continue
                now = getattr(seen, field, None)
                was = getattr(before, field, None)
                if now not in (want, was):
                    found.append(ExternalChange(name, field, now, want, was))
        return tuple(found)

    def _apply_slices(self, settings: Mapping[str, SliceSettings]) -> tuple[str, ...]:
        changed = False
        notes: tuple[str, ...] = ()
        for name, value in settings.items():
            notes += self.act(
                functools.partial(self.backend.set_slice_properties, name, value),
                f"set {name}", changed=changed,
                in_place=functools.partial(_slice_in_force, name=name, value=value))
            changed = True
        # A call that reports success is not evidence (found by the fault campaigns: a
        # set-property that changed nothing let studio-local be left with its weights).
        slices = self.backend.observe().slice_settings()
        if isinstance(slices, Unavailable):
            raise StepFailed(f"cannot verify the slice settings: {slices.reason}",
                             changed=changed)
        for name, value in settings.items():
            seen = slices.get(name)
            wrong = [field for field, want in value.items()
                     if want is not None and getattr(seen, field, None) != want]
            if wrong:
                raise StepFailed(f"set {name}: {', '.join(wrong)} not in force after the call "
                                 f"(observed {seen})", changed=changed)
        return notes

    def _grace(self, ctx: StepContext, bound: float, every: float) -> StepDone:
        """Wait `bound` seconds for a `mode cancel`, with a countdown notification `every`.

        The cancel file is looked at every poll interval. When only this process writes
        the state (`StateStore.shared` False: the simulator's campaigns), the file can
        change only while the host changes (an in-process hook), so the polls before the
        host may next change (`Clock.quiet_until_ns`) are skipped: the next look is the
        first poll at or after that moment, as `poll_sleep` does for waits."""
        start = self.clock.monotonic_ns()
        deadline = start + int(bound * 1e9)
        every_ns = max(1, int(every * 1e9))
        next_notice = start + every_ns
        notices = []
        poll = self.policy.gpu_release.poll_interval_s
        shared = self.state.store.shared
        while True:
            request = self.state.cancel_request(ctx.attempt)
            if request is not None:
                raise Cancelled(request)
            now = self.clock.monotonic_ns()
            if now >= deadline:
                break
            if now >= next_notice:
                left = (deadline - now) / 1e9
                delivery = self.backend.notify_user(
                    f"Compute mode in {left:.0f} s",
                    "The desktop session will end then. To stop it: mode cancel")
                notices.append(delivery.describe())
                next_notice += every_ns
            skip = 0 if shared else _quiet_ns(self.clock, poll, min(deadline, next_notice) - now)
            self.clock.sleep(skip / 1e9 if skip else max(
                1e-3, min(poll, (deadline - now) / 1e9, (next_notice - now) / 1e9)))
        told = f"; {len(notices)} countdown notification(s)" if notices else ""
        return StepDone(f"no cancel within {bound:g} s{told}",
                        notes=tuple(f"countdown notification: {n}" for n in notices))

    def _terminate_sessions(self, bound: float) -> StepDone:
        facts = self.backend.observe()
        sessions = ev.graphical_sessions(facts)
        if isinstance(sessions, Unavailable):
            raise StepFailed(f"sessions unavailable: {sessions.reason}")
        notes = []
        for session in sessions:
            try:
                self.backend.terminate_session(session.id)
            except BackendError as exc:
                notes.append(f"terminate session {session.id}: {exc}")
        self.wait(lambda f: not has_graphical(f), bound, "graphical sessions to end",
                  changed=bool(sessions), left=_sessions_left)
        return StepDone(f"ended {len(sessions)} graphical session(s)",
                        changed=bool(sessions), notes=tuple(notes))

    def _await_release(self, ctx: StepContext, bound: float,
                       degraded_allowed: bool) -> StepDone:
        verdict = GUARDS[GuardId.GPU_DISPLAY_RELEASED]
        deadline = self.clock.monotonic_ns() + int(bound * 1e9)
        while True:
            facts = self.backend.observe()
            result = verdict(facts, self.policy, ctx.target)
            if result.status is Status.PASS:
                placement = self._place(facts, self.policy.hardware.compute_gpus, "compute",
                                        (result,))
                return StepDone(result.reason, verdicts=(result,), placement=placement)
            if self.clock.monotonic_ns() >= deadline:
                break
            poll_sleep(self.clock, self.policy.gpu_release.poll_interval_s, deadline)
        release = ev.display_release(facts, self.policy)
        others = self.policy.hardware.non_display_compute_gpus
        if degraded_allowed and release.status is ev.ReleaseStatus.RESIDUAL and others:
            placement = self._place(facts, others, "degraded", (result,))
            return StepDone(f"indeterminate after {bound:g} s ({release.reason}): degraded "
                            "profile", verdicts=(result,), placement=placement, degraded=True)
        raise StepFailed(f"display GPU not released within {bound:g} s: {result.reason}",
                         (result,))

    def _place(self, facts: HostFacts, gpus: tuple[int, ...], name: str,
               verdicts: tuple[Verdict, ...]) -> GpuPlacement:
        placement = place(facts, self.policy, gpus, name)
        if isinstance(placement, Unavailable):
            raise StepFailed(placement.reason, verdicts)
        return placement

    def _write_profiles(self, ctx: StepContext) -> StepDone:
        written = []
        placement = ctx.placement or GpuPlacement(None, None)
        changed = False
        for enabled, profile, write, what in (
            (self.policy.vllm.enable, placement.vllm, self.backend.write_vllm_profile, "vLLM"),
            (self.policy.exo.enable, placement.exo, self.backend.write_exo_profile, "EXO"),
        ):
            if not enabled:
                continue
            if profile is None:
                raise StepFailed(f"no {what} GPU profile decided", changed=changed)
            self.act(functools.partial(write, profile), f"write the {what} profile",
                     changed=changed)
            changed = True
            written.append(f"{what} {profile.name} on GPUs {list(profile.gpu_indices)}")
        return StepDone("; ".join(written) or "no GPU workload enabled", changed=changed)

    def _verify(self, ctx: StepContext, mode: Mode, bound: float) -> StepDone:
        workloads = self.policy.compute_workloads

        def done(facts: HostFacts) -> bool:
            state = self.classify(facts, self.policy, Markers()).state
            return state.mode is mode or (
                ctx.degraded and state is ObservedState.DEGRADED_COMPUTE
                and all(unit_active(facts, u) for u in workloads)
            )

        def hopeless(facts: HostFacts) -> bool:
            return mode is Mode.COMPUTE and (any(unit_failed(facts, u) for u in workloads)
                                             or has_graphical(facts))

        facts = self.wait(done, bound, f"the host to be {mode.value}", fail=hopeless,
                          why="a unit failed or a graphical session appeared",
                          left=_sessions_left if mode is Mode.COMPUTE else None)
        return StepDone(self.classify(facts, self.policy, Markers()).state.value)


def _left(left: Callable[[HostFacts], str] | None, facts: HostFacts) -> str:
    """A wait's failure detail: what was still in the way (built only when it fails)."""
    return f" ({left(facts)})" if left is not None else ""


def _sessions_left(facts: HostFacts) -> str:
    """The graphical sessions there are, by id, user and state (for failure messages)."""
    sessions = ev.graphical_sessions(facts)
    if isinstance(sessions, Unavailable):
        return f"sessions unreadable: {sessions.reason}"
    return "graphical: " + ct.describe_sessions(sessions)


def _slice_in_force(facts: HostFacts, name: str, value: SliceSettings) -> bool:
    slices = facts.slice_settings()
    if isinstance(slices, Unavailable):
        return False
    seen = slices.get(name)
    return all(want is None or getattr(seen, field, None) == want
               for field, want in value.items())


def _quiet_ns(clock: Clock, interval_s: float, left_ns: int) -> int:
    """Whole poll intervals (ns) that can pass without a look: up to the first poll at or
    after the moment the host may next change, within `left_ns`; 0 when that is one poll
    or none (the caller then sleeps one interval, or what is left, as always)."""
    step = max(1, round(interval_s * 1e9))
    until = clock.quiet_until_ns()
    polls = left_ns // step
    if until is not None:
        polls = min(polls, -(-(until - clock.monotonic_ns()) // step))
    return polls * step if polls > 1 else 0


def poll_sleep(clock: Clock, interval_s: float, deadline_ns: int) -> None:
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
