"""The planner: `plan(current, target, policy)` is an ordered list of legs and steps.

Called by the reconciler (which executes the plan), and by the CLI: `mode dry-run` prints the
plan, `mode explain` prints it with live guard verdicts. A plan is a value: dry-run is not a
flag threaded through the actions. The legs are the transitions T1-T4 of seed 003; T5
(studio-local -> compute) is planned as T2 then T3, two guarded legs via desktop; any
non-resting state is first recovered to desktop (leg R).
"""

from __future__ import annotations

from typing import Any

import attrs

from dubnium.codes import GuardId
from dubnium.modes import Mode, ObservedState
from dubnium.policy import Policy

SCHEMA_VERSION = 1


@attrs.frozen
class CheckGuards:
    guards: tuple[GuardId, ...]

    def describe(self) -> str:
        return "check guards: " + ", ".join(g.value for g in self.guards)


@attrs.frozen
class StartUnit:
    unit: str
    bound_s: float

    def describe(self) -> str:
        return f"start {self.unit} (wait up to {self.bound_s:g} s)"


@attrs.frozen
class StopUnit:
    unit: str
    bound_s: float

    def describe(self) -> str:
        return f"stop {self.unit} (wait up to {self.bound_s:g} s)"


@attrs.frozen
class Isolate:
    target: str
    bound_s: float

    def describe(self) -> str:
        return f"isolate {self.target} (wait up to {self.bound_s:g} s)"


@attrs.frozen
class SaveSlices:
    """Remember the slice settings in force, so leaving the overlay restores them exactly."""

    def describe(self) -> str:
        return "save the current slice settings"


@attrs.frozen
class ApplySlices:
    mode: Mode

    def describe(self) -> str:
        return f"apply the {self.mode.value} slice settings"


@attrs.frozen
class RestoreSlices:
    """Restore the settings saved on overlay entry; the desktop policy values if none saved."""

    def describe(self) -> str:
        return "restore the slice settings saved on studio-local entry (else desktop policy)"


@attrs.frozen
class SaveStudioTuning:
    """Remember PipeWire's forced clock, the governors and the xrun count (issue 15)."""

    def describe(self) -> str:
        return "save PipeWire's clock settings, the cpufreq governors and the xrun count"


@attrs.frozen
class ApplyStudioTuning:
    """Force the PipeWire quantum/rate and the governor; verified by reading them back."""

    quantum: int | None
    rate: int | None
    governor: str | None

    def describe(self) -> str:
        parts = []
        if self.quantum is not None:
            parts.append(f"force PipeWire quantum {self.quantum}")
        if self.rate is not None:
            parts.append(f"force PipeWire rate {self.rate}")
        if self.governor is not None:
            parts.append(f"cpufreq governor {self.governor}")
        return (", ".join(parts) or "no studio tuning in policy") + " (verified by reading back)"


@attrs.frozen
class RestoreStudioTuning:
    """Restore the clock settings and governors saved on entry; record the xruns."""

    def describe(self) -> str:
        return ("restore PipeWire's clock settings and the governors saved on studio-local "
                "entry; record the xruns")


@attrs.frozen
class NotifyUser:
    summary: str
    body: str

    def describe(self) -> str:
        return f"notify the interactive user: {self.summary}"


@attrs.frozen
class Grace:
    """Wait before the GUI goes, with countdown notifications; `mode cancel` ends the attempt
    here with the host untouched."""

    bound_s: float
    countdown_every_s: float

    def describe(self) -> str:
        return f"grace period: {self.bound_s:g} s to save work or `mode cancel`"


@attrs.frozen
class TerminateSessions:
    bound_s: float

    def describe(self) -> str:
        return f"terminate graphical sessions (wait up to {self.bound_s:g} s for them to end)"


@attrs.frozen
class AwaitDisplayRelease:
    """Poll the release predicate; decide the vLLM profile (full, degraded) or abort."""

    bound_s: float
    degraded_allowed: bool

    def describe(self) -> str:
        tail = (
            "; if only a residual stays, continue degraded on the other GPU(s)"
            if self.degraded_allowed else "; otherwise abort and restore"
        )
        return f"wait up to {self.bound_s:g} s for the display GPU to be released{tail}"


@attrs.frozen
class WriteGpuProfiles:
    """The GPU placement decided by the release step, for vLLM (and EXO where enabled)."""

    def describe(self) -> str:
        return "write the GPU profiles (CUDA_VISIBLE_DEVICES by UUID, tensor parallel size)"


@attrs.frozen
class AwaitGraphical:
    bound_s: float

    def describe(self) -> str:
        return (f"wait up to {self.bound_s:g} s for the graphical stack (a display manager "
                "up with nobody logged in is restarted once)")


@attrs.frozen
class Verify:
    mode: Mode
    bound_s: float

    def describe(self) -> str:
        return f"re-observe until the host is {self.mode.value} (up to {self.bound_s:g} s)"


Step = (
    CheckGuards | StartUnit | StopUnit | Isolate | SaveSlices | ApplySlices | RestoreSlices
    | NotifyUser | Grace | TerminateSessions | AwaitDisplayRelease | WriteGpuProfiles
    | AwaitGraphical | Verify | SaveStudioTuning | ApplyStudioTuning | RestoreStudioTuning
)


@attrs.frozen
class Leg:
    name: str  # T1..T4 of seed 003, or R (recover to desktop)
    source: str
    target: Mode
    steps: tuple[Step, ...]

    @property
    def guards(self) -> tuple[GuardId, ...]:
        return tuple(g for s in self.steps if isinstance(s, CheckGuards) for g in s.guards)

    def to_json(self) -> dict[str, Any]:
        return {
            "leg": self.name,
            "from": self.source,
            "to": self.target.value,
            "steps": [s.describe() for s in self.steps],
        }


@attrs.frozen
class Plan:
    current: ObservedState
    target: Mode
    legs: tuple[Leg, ...]

    @property
    def noop(self) -> bool:
        return not self.legs

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "from": self.current.value,
            "to": self.target.value,
            "noop": self.noop,
            "legs": [leg.to_json() for leg in self.legs],
        }


PRE_COMPUTE = (
    GuardId.TARGET_REACHABLE,
    GuardId.CAPABILITY_LOCAL,
    GuardId.AUDIO_IDLE,
    GuardId.GRAPHICAL_SESSION_TERMINABLE,
    GuardId.CPU_LOAD_SAFE,
    GuardId.USER_JOBS_SAFE,
    GuardId.MEMORY_HEADROOM,
    GuardId.PERSISTENCE_PATHS_READY,
    GuardId.MODEL_PRESENT,
)


def _enter_studio(policy: Policy, guarded: bool) -> Leg:
    """T1: desktop -> studio-local."""
    t, u = policy.timeouts, policy.units
    steps: list[Step] = []
    if guarded:
        steps.append(CheckGuards((GuardId.TARGET_REACHABLE, GuardId.CAPABILITY_LOCAL,
                                  GuardId.VLLM_DRAINABLE)))
    steps += [StopUnit(unit, t.unit_stop_s) for unit in policy.compute_workloads or (u.vllm,)]
    steps += [
        SaveSlices(),
        SaveStudioTuning(),
        ApplySlices(Mode.STUDIO_LOCAL),
        ApplyStudioTuning(policy.studio.quantum, policy.studio.rate, policy.studio.governor),
        StartUnit(u.studio_policy, t.unit_start_s),
        StartUnit(u.audio_priority, t.unit_start_s),
        Verify(Mode.STUDIO_LOCAL, t.unit_start_s),
    ]
    return Leg("T1", "desktop", Mode.STUDIO_LOCAL, tuple(steps))


def _leave_studio(policy: Policy, guarded: bool) -> Leg:
    """T2: studio-local -> desktop (no guards in seed 003 beyond reachability)."""
    t, u = policy.timeouts, policy.units
    steps: list[Step] = [CheckGuards((GuardId.TARGET_REACHABLE,))] if guarded else []
    steps += [
        StopUnit(u.audio_priority, t.unit_stop_s),
        StopUnit(u.studio_policy, t.unit_stop_s),
        RestoreSlices(),
        RestoreStudioTuning(),
        Verify(Mode.DESKTOP, t.unit_start_s),
    ]
    return Leg("T2", "studio-local", Mode.DESKTOP, tuple(steps))


def _enter_compute(policy: Policy, guarded: bool) -> Leg:
    """T3: desktop -> compute."""
    t, u = policy.timeouts, policy.units
    steps: list[Step] = [CheckGuards(PRE_COMPUTE)] if guarded else []
    if guarded and t.grace_s > 0:  # a rollback never waits
        steps += [
            NotifyUser(f"Compute mode in {t.grace_s:g} s",
                       f"The desktop session will end in {t.grace_s:g} s: save your work. "
                       "To stop it: mode cancel"),
            Grace(t.grace_s, t.countdown_every_s),
        ]
    steps += [
        NotifyUser("Switching to compute mode",
                   "The desktop session will end now; save your work."),
        # The display manager goes first: left running, it would log in (or show its
        # greeter) again and take the display GPU back before the release is verified.
        StopUnit(u.display_manager, t.unit_stop_s),
        TerminateSessions(t.session_exit_s),
        AwaitDisplayRelease(policy.gpu_release.timeout_s,
                            degraded_allowed=policy.two_gpu and bool(policy.compute_workloads)),
        WriteGpuProfiles(),
        ApplySlices(Mode.COMPUTE),
        Isolate(u.compute_target, t.unit_start_s),
        Verify(Mode.COMPUTE, t.vllm_ready_s),
    ]
    return Leg("T3", "desktop", Mode.COMPUTE, tuple(steps))


def _leave_compute(policy: Policy, guarded: bool, source: str = "compute") -> Leg:
    """T4: compute -> desktop (also R, the recovery of any other state to desktop)."""
    t, u = policy.timeouts, policy.units
    steps: list[Step] = []
    if guarded:
        steps.append(CheckGuards((GuardId.TARGET_REACHABLE, GuardId.VLLM_DRAINABLE)))
    steps += [StopUnit(unit, t.unit_stop_s) for unit in policy.compute_workloads or (u.vllm,)]
    steps += [
        StopUnit(u.audio_priority, t.unit_stop_s),
        StopUnit(u.studio_policy, t.unit_stop_s),
        RestoreSlices(),
        RestoreStudioTuning(),
        Isolate(u.desktop_target, t.unit_start_s),
        # The repair of a desktop short of its contract: the display manager (isolate
        # pulls it in; a failed one is started again here, named in the record), then a
        # live graphical session, each within its bound.
        StartUnit(u.display_manager, t.unit_start_s),
        AwaitGraphical(t.graphical_ready_s),
        Verify(Mode.DESKTOP, t.graphical_ready_s),
    ]
    name = "T4" if source in ("compute", "degraded-compute") else "R"
    return Leg(name, source, Mode.DESKTOP, tuple(steps))


def _finish_overlay_exit(policy: Policy) -> Leg:
    """On desktop with the overlay's saved settings still unrestored (an exit that did not
    finish): restore them. Desktop is not "already" reached while this is pending."""
    return Leg("restore", "desktop", Mode.DESKTOP,
               (RestoreSlices(), Verify(Mode.DESKTOP, policy.timeouts.unit_start_s)))


def plan(current: ObservedState, target: Mode, policy: Policy, *, guarded: bool = True,
         pending_restore: bool = False) -> Plan:
    """The legs from `current` to `target`. `guarded=False` plans a rollback (no guards);
    `pending_restore`: settings saved on studio-local entry were never restored."""
    if current.mode is target:
        if target is Mode.DESKTOP and pending_restore:
            return Plan(current, target, (_finish_overlay_exit(policy),))
        return Plan(current, target, ())
    legs: list[Leg] = []
    here = current
    if here in (ObservedState.COMPUTE, ObservedState.DEGRADED_COMPUTE):
        legs.append(_leave_compute(policy, guarded, here.value))
        here = ObservedState.DESKTOP
    elif here is ObservedState.STUDIO_LOCAL:
        legs.append(_leave_studio(policy, guarded))
        here = ObservedState.DESKTOP
    elif here is not ObservedState.DESKTOP:
        legs.append(_leave_compute(policy, guarded, here.value))
        here = ObservedState.DESKTOP
    if target is Mode.STUDIO_LOCAL:
        legs.append(_enter_studio(policy, guarded))
    elif target is Mode.COMPUTE:
        legs.append(_enter_compute(policy, guarded))
    return Plan(current, target, tuple(legs))
