"""Fault plans as data: what goes wrong, when, drawn from a seed or written by hand.

Used by `simulator.campaign` (which runs a plan against a `Station` and checks it), by the
hypothesis state machine in `tests/stateful/` (whose fault rules call `inject` with the same
`Fault` values) and by `mode-sim campaign/replay`. A `FaultPlan` is JSON: the seed, the GPU
count, the fault kinds enabled for this seed (swarm testing: a random subset per seed, so rare
combinations are reached) and a list of operations (a user request, a fault, time passing).
Every fault kind is one `FaultKind`; `inject` applies one to a station through the world API
(or, for the controller's own runtime state, the `MemoryStore`), and `heal` undoes every fault
that can be undone, so that liveness can be checked afterwards.

Faults that happen *during* a transition (an audio stream starting in the middle, vLLM crash
looping, the controller being killed at a step) are armed by `inject` and fire from the
station's hooks: `Triggers.observed` (the k-th observation of the host from now) and
`Triggers.step_started` (the k-th step from now, where a `ControllerKilled` is raised: a
BaseException, so the reconciler does not release its lock, exactly as after a real kill).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import attrs

from dubnium.facts import ActiveState, GpuProcessKind, SliceSettings
from dubnium.modes import Mode
from dubnium.policy import Policy
from dubnium.state import LOCK, MemoryStore
from simulator import gui_faults, iofaults
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.harness import Station
from simulator.logind import SessionBehaviour
from simulator.rng import SplitMix64, derive
from simulator.systemd import UnitBehaviour
from simulator.world import World

PLAN_SCHEMA_VERSION = 1


class FaultKind(StrEnum):
    """Every kind of fault a plan can hold (issue 3's list, one value each)."""

    UNIT_START_FAILS = "unit_start_fails"
    UNIT_START_SLOW = "unit_start_slow"
    UNIT_JOB_HANGS = "unit_job_hangs"
    ACTION_TIMEOUT = "action_timeout"  # a systemd call times out although it took effect
    ACTION_IGNORED = "action_ignored"  # a call reports success although nothing changed
    SESSION_NEVER_EXITS = "session_never_exits"
    SECOND_SESSION = "second_session"
    LOGIND_ERROR = "logind_error"
    GPU_RELEASE_LATE = "gpu_release_late"
    GPU_RELEASE_PARTIAL = "gpu_release_partial"
    GPU_RELEASE_NEVER = "gpu_release_never"
    GPU_HIDDEN_MEMORY = "gpu_hidden_memory"  # memory held with no visible process
    AUDIO_MID_TRANSITION = "audio_mid_transition"
    JACK_MID_TRANSITION = "jack_mid_transition"
    VLLM_OOM = "vllm_oom"
    VLLM_CRASH_LOOP = "vllm_crash_loop"
    CONTROLLER_KILLED = "controller_killed"
    SLICE_WEIGHTS_CHANGED = "slice_weights_changed"
    STATE_FILE_CORRUPT = "state_file_corrupt"
    CLOCK_JUMP = "clock_jump"
    EVIDENCE_UNAVAILABLE = "evidence_unavailable"
    STORAGE_FAULT = "storage_fault"  # the state/audit disk: full, EIO on write/fsync, read-only
    # the graphical stack (issue 9; drawn from their own stream, see `draw_plan`)
    DISPLAY_MANAGER_FAILS = "display_manager_fails"
    COMPOSITOR_CRASHES = "compositor_crashes"
    GREETER_RETAKES_GPU = "greeter_retakes_gpu"
    SESSION_STUCK_CLOSING = "session_stuck_closing"


GUI_KINDS = (FaultKind.DISPLAY_MANAGER_FAILS, FaultKind.COMPOSITOR_CRASHES,
             FaultKind.GREETER_RETAKES_GPU, FaultKind.SESSION_STUCK_CLOSING)
# Kinds added after the 100,000-seed campaign of issue 3 are drawn from a stream of their
# own (`draw_plan`), so every seed keeps the operations it had then.
LATER_KINDS = (FaultKind.STORAGE_FAULT, *GUI_KINDS)
_FIRST_KINDS = tuple(k for k in FaultKind if k not in LATER_KINDS)


class OpKind(StrEnum):
    REQUEST = "request"
    FAULT = "fault"
    ADVANCE = "advance"


@attrs.frozen
class Fault:
    """One fault: its kind and its parameters (JSON scalars)."""

    kind: FaultKind
    params: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, **dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        params = {k: v for k, v in data.items() if k not in ("kind", "op")}
        return cls(FaultKind(data["kind"]), params)


@attrs.frozen
class Op:
    """One step of a plan: a user request, a fault, or time passing."""

    kind: OpKind
    mode: Mode | None = None  # request
    fault: Fault | None = None  # fault
    seconds: float = 0.0  # advance

    def to_json(self) -> dict[str, Any]:
        if self.kind is OpKind.REQUEST:
            assert self.mode is not None
            return {"op": "request", "mode": self.mode.value}
        if self.kind is OpKind.FAULT:
            assert self.fault is not None
            return {"op": "fault", **self.fault.to_json()}
        return {"op": "advance", "s": self.seconds}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Op:
        kind = OpKind(data["op"])
        if kind is OpKind.REQUEST:
            return cls(kind, mode=Mode(data["mode"]))
        if kind is OpKind.FAULT:
            return cls(kind, fault=Fault.from_json(data))
        return cls(kind, seconds=float(data["s"]))


def request(mode: Mode | str) -> Op:
    return Op(OpKind.REQUEST, mode=Mode(mode))


def fault(kind: FaultKind | str, **params: Any) -> Op:
    return Op(OpKind.FAULT, fault=Fault(FaultKind(kind), params))


def advance(seconds: float) -> Op:
    return Op(OpKind.ADVANCE, seconds=float(seconds))


@attrs.frozen
class FaultPlan:
    """A whole run: the workstation, the fault kinds this seed may use, the operations."""

    seed: int
    gpus: int = 2
    kinds: tuple[FaultKind, ...] = ()
    ops: tuple[Op, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": PLAN_SCHEMA_VERSION,
            "seed": self.seed,
            "gpus": self.gpus,
            "kinds": [k.value for k in self.kinds],
            "ops": [op.to_json() for op in self.ops],
        }

    @classmethod
    def from_json(cls, data: Any) -> FaultPlan:
        """A plan from its JSON; ValueError (naming what is wrong) on a bad shape."""
        try:
            if data.get("schema_version") != PLAN_SCHEMA_VERSION:
                raise ValueError(f"schema_version must be {PLAN_SCHEMA_VERSION}")
            seed = data["seed"]
            gpus = data.get("gpus", 2)
            if isinstance(seed, bool) or not isinstance(seed, int) or gpus not in (1, 2):
                raise ValueError("seed must be an integer and gpus 1 or 2")
            return cls(seed, gpus, tuple(FaultKind(k) for k in data.get("kinds", [])),
                       tuple(Op.from_json(op) for op in data["ops"]))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a fault plan: {exc}") from None

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))


# ------------------------------------------------------------------ drawing plans from a seed

_MODES = (Mode.DESKTOP, Mode.STUDIO_LOCAL, Mode.COMPUTE)
_SERVICES = ("vllm", "studio_policy", "audio_priority", "display_manager")
_ACTIONS = ("start_unit", "stop_unit", "isolate", "set_slice_properties", "write_vllm_profile",
            "terminate_session", "set_audio_clock", "set_cpu_policy")
_STATE_FILES = ("desired", "desired.json", "current", "current.json", "last-transition.json",
                "last-guards.json", "studio-saved-slices.json", LOCK)
_SLICES = ("interactive.slice", "ai.slice", "platform.slice")
_GROUPS = ("sessions", "gpus", "audio", "processes", "units", "slices")


def draw_plan(seed: int, *, steps: tuple[int, int] = (4, 12)) -> FaultPlan:
    """The plan for `seed`: a random subset of fault kinds (swarm), then random operations.

    The kinds added later (storage, the graphical stack) come from a stream of their own and
    are inserted among the operations, so the operations drawn before they existed stay the
    same for every seed (a seed found failing then, such as 43522, keeps its operations in
    the same order).
    """
    rng = SplitMix64(derive(seed, "campaign.plan"))
    gpus = 1 if rng.random() < 0.15 else 2
    kinds = tuple(k for k in _FIRST_KINDS if rng.random() < 0.4)
    if not kinds:
        kinds = (rng.choice(list(_FIRST_KINDS)),)
    ops: list[Op] = []
    for _ in range(rng.randint(*steps)):
        roll = rng.random()
        if roll < 0.45:
            ops.append(request(rng.choice(_MODES)))
        elif roll < 0.85:
            ops.append(Op(OpKind.FAULT, fault=draw_fault(rng.choice(kinds), rng)))
        else:
            ops.append(advance(rng.choice((0.5, 2.0, 10.0, 45.0, 120.0))))
    if not any(op.kind is OpKind.REQUEST for op in ops):
        ops.append(request(rng.choice(_MODES)))
    later_rng = SplitMix64(derive(seed, "campaign.plan.later"))
    later = tuple(k for k in LATER_KINDS if later_rng.random() < 0.25)
    for kind in later:
        for _ in range(later_rng.randint(1, 2)):
            ops.insert(later_rng.randint(0, len(ops)),
                       Op(OpKind.FAULT, fault=draw_fault(kind, later_rng)))
    return FaultPlan(seed, gpus, kinds + later, tuple(ops))


def draw_fault(kind: FaultKind, rng: SplitMix64) -> Fault:
    """Parameters for one fault of `kind`, drawn from `rng`."""
    k = FaultKind
    p: dict[str, Any]
    match kind:
        case k.UNIT_START_FAILS:
            p = {"unit": rng.choice(_SERVICES)}
        case k.UNIT_START_SLOW:
            p = {"unit": rng.choice(_SERVICES), "start_s": rng.choice((5.0, 40.0, 120.0, 400.0))}
        case k.UNIT_JOB_HANGS:
            p = {"unit": rng.choice(_SERVICES), "job": rng.choice(("start", "stop"))}
        case k.ACTION_TIMEOUT | k.ACTION_IGNORED:
            p = {"action": rng.choice(_ACTIONS), "times": rng.choice((1, 1, 2, 5))}
        case k.SESSION_NEVER_EXITS:
            p = {}
        case k.SECOND_SESSION:
            p = {"type": rng.choice(("tty", "x11", "wayland")),
                 "user": rng.choice(("owner", "guest")),
                 "when": rng.choice(("now", "mid_transition")),
                 "after_observations": rng.randint(1, 12)}
        case k.LOGIND_ERROR:
            p = {"how": rng.choice(("error", "unavailable")), "temporary": rng.random() < 0.5,
                 "times": rng.choice((1, 3))}
        case k.GPU_RELEASE_LATE:
            p = {"delay_s": rng.choice((1.0, 8.0, 25.0, 45.0, 200.0))}
        case k.GPU_RELEASE_PARTIAL:
            p = {"residual_mib": rng.choice((100, 200, 300, 600, 1000, 2000))}
        case k.GPU_RELEASE_NEVER:
            p = {}
        case k.GPU_HIDDEN_MEMORY:
            p = {"gpu": rng.choice((0, 0, 1)), "mib": rng.choice((100, 400, 900, 1500, 4000))}
        case k.AUDIO_MID_TRANSITION | k.JACK_MID_TRANSITION:
            p = {"name": rng.choice(("firefox", "ardour", "mpv")),
                 "after_observations": rng.randint(1, 15)}
        case k.VLLM_OOM:
            p = {"need_mib": rng.choice((23000, 30000))}
        case k.VLLM_CRASH_LOOP:
            p = {"times": rng.choice((1, 2, 5))}
        case k.CONTROLLER_KILLED:
            p = {"after_steps": rng.randint(0, 12), "torn_record": rng.random() < 0.5}
        case k.SLICE_WEIGHTS_CHANGED:
            p = {"slice": rng.choice(_SLICES), "cpu_weight": rng.choice((1, 333, 5000)),
                 "when": rng.choice(("now", "mid_transition")),
                 "after_observations": rng.randint(1, 12)}
        case k.STATE_FILE_CORRUPT:
            p = {"file": rng.choice(_STATE_FILES), "how": rng.choice(("truncate", "garbage"))}
        case k.CLOCK_JUMP:
            p = {"by_s": rng.choice((-86400.0 * 30, -3600.0, -1.0, 0.5, 3600.0, 86400.0 * 365))}
        case k.EVIDENCE_UNAVAILABLE:
            p = {"group": rng.choice(_GROUPS), "for_observations": rng.randint(1, 12)}
        case k.STORAGE_FAULT:
            p = {"how": rng.choice(iofaults.HOWS), "free_bytes": rng.choice((0, 300, 3000)),
                 "times": rng.choice((1, 3))}
        case k.DISPLAY_MANAGER_FAILS:
            p = {"crash_now": rng.random() < 0.5}
        case k.COMPOSITOR_CRASHES | k.SESSION_STUCK_CLOSING:
            p = {"when": rng.choice(("now", "mid_transition")),
                 "after_observations": rng.randint(1, 12)}
        case k.GREETER_RETAKES_GPU:
            p = {"stop_s": rng.choice((2.0, 5.0, 20.0))}
    return Fault(kind, p)


# ------------------------------------------------------------------ injecting and healing


class ControllerKilled(BaseException):
    """The controller process was killed at a step (raised from the step hook)."""


@attrs.define
class _Armed:
    """A fault waiting for its moment: the n-th observation or step from now."""

    fault: Fault
    countdown: int
    on: str  # "observation" or "step"


class Triggers:
    """Armed mid-transition faults; the station's hooks call `observed` and `step_started`."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.armed: list[_Armed] = []
        self.fired: list[Fault] = []
        self.fired_kinds: list[str] = []  # every armed fault that fired, crashes included
        self.crash_vllm = 0  # crashes still to come while vllm.service is active
        self.unavailable_for: dict[str, int] = {}  # group -> observations left
        self.busy = False

    def observed(self) -> None:
        """Called as the controller is about to observe the host (from Recorder.observed)."""
        if self.busy:
            return
        self.busy = True
        try:
            world = self.station.world
            if self.crash_vllm and world.systemd.units[world.policy.units.vllm].active \
                    is ActiveState.ACTIVE:
                self.crash_vllm -= 1
                self.fired_kinds.append(FaultKind.VLLM_CRASH_LOOP.value)
                world.crash_unit(world.policy.units.vllm)
            for group in list(self.unavailable_for):
                self.unavailable_for[group] -= 1
                if self.unavailable_for[group] < 0:
                    del self.unavailable_for[group]
                    world.set_available(group)
            self._tick("observation")
        finally:
            self.busy = False

    def step_started(self) -> None:
        """Called before each step of a transition; raises ControllerKilled when armed."""
        self._tick("step")

    def _tick(self, on: str) -> None:
        due = []
        for armed in self.armed:
            if armed.on == on:
                armed.countdown -= 1
                if armed.countdown < 0:
                    due.append(armed)
        for armed in due:
            self.armed.remove(armed)
            self.fired.append(armed.fault)
            self.fired_kinds.append(armed.fault.kind.value)
            _fire(self.station, armed.fault, self)

    def disarm(self) -> None:
        self.armed.clear()
        self.crash_vllm = 0
        for group in list(self.unavailable_for):
            self.station.world.set_available(group)
        self.unavailable_for.clear()


def unit_name(policy: Policy, short: str) -> str:
    """A unit named by its policy role (vllm, studio_policy, ...) or by its unit name."""
    units = policy.units
    return str(getattr(units, short)) if hasattr(units, short) else short


def is_armed(the_fault: Fault) -> bool:
    """Whether `inject` only arms this fault (it takes effect later, from a hook)."""
    return the_fault.kind in (FaultKind.CONTROLLER_KILLED, FaultKind.AUDIO_MID_TRANSITION,
                              FaultKind.JACK_MID_TRANSITION, FaultKind.VLLM_CRASH_LOOP) or (
        the_fault.kind in (FaultKind.SLICE_WEIGHTS_CHANGED, FaultKind.SECOND_SESSION,
                           FaultKind.COMPOSITOR_CRASHES, FaultKind.SESSION_STUCK_CLOSING)
        and the_fault.params.get("when") == "mid_transition")


def inject(station: Station, the_fault: Fault, triggers: Triggers) -> bool:
    """Apply (or arm) one fault. False when it cannot apply now (recorded as skipped)."""
    world, policy, p = station.world, station.policy, the_fault.params
    k = FaultKind
    match the_fault.kind:
        case k.UNIT_START_FAILS | k.UNIT_START_SLOW | k.UNIT_JOB_HANGS:
            name = unit_name(policy, str(p["unit"]))
            old = world.systemd.units[name].behaviour
            if the_fault.kind is k.UNIT_START_FAILS:
                new = attrs.evolve(old, start_fails=True)
            elif the_fault.kind is k.UNIT_START_SLOW:
                new = attrs.evolve(old, start_s=float(p["start_s"]))
            elif p["job"] == "start":
                new = attrs.evolve(old, start_hangs=True)
            else:
                new = attrs.evolve(old, stop_hangs=True)
            world.set_unit_behaviour(name, new)
        case k.ACTION_TIMEOUT | k.ACTION_IGNORED:
            effect = (FaultEffect.TIMEOUT if the_fault.kind is k.ACTION_TIMEOUT
                      else FaultEffect.IGNORED)
            world.inject_action_fault(ActionFault(str(p["action"]), effect,
                                                  times=int(p.get("times", 1))))
        case k.SESSION_NEVER_EXITS:
            stuck = SessionBehaviour(never_exits=True)
            world.set_session_behaviour(stuck)
            for session_id in list(world.logind.sessions):
                world.set_session_behaviour(stuck, session_id)
        case k.SECOND_SESSION:
            if p.get("when") == "mid_transition":
                triggers.armed.append(
                    _Armed(the_fault, int(p["after_observations"]), "observation"))
            else:
                world.add_session(str(p["type"]), str(p["user"]))
        case k.LOGIND_ERROR:
            if p["how"] == "unavailable":
                world.set_unavailable("sessions", "org.freedesktop.login1: Connection timed out")
                triggers.unavailable_for["sessions"] = int(p.get("times", 1)) * 4
            else:
                world.inject_action_fault(ActionFault(
                    "terminate_session", FaultEffect.ERROR, temporary=bool(p["temporary"]),
                    times=int(p.get("times", 1))))
        case k.GPU_RELEASE_LATE:
            world.set_gpu_release(policy.hardware.display_gpu, "delayed",
                                  delay_s=float(p["delay_s"]))
        case k.GPU_RELEASE_PARTIAL:
            world.set_gpu_release(policy.hardware.display_gpu, "partial",
                                  residual_mib=int(p["residual_mib"]))
        case k.GPU_RELEASE_NEVER:
            world.set_gpu_release(policy.hardware.display_gpu, "never")
        case k.GPU_HIDDEN_MEMORY:
            return hide_gpu_memory(world, int(p["gpu"]), int(p["mib"]))
        case k.VLLM_OOM:
            world.vllm_need_mib = int(p["need_mib"])  # the policy stays; vLLM needs more
        case k.VLLM_CRASH_LOOP:
            triggers.crash_vllm += int(p["times"])
        case k.CONTROLLER_KILLED:
            triggers.armed.append(_Armed(the_fault, int(p["after_steps"]), "step"))
        case k.AUDIO_MID_TRANSITION | k.JACK_MID_TRANSITION:
            triggers.armed.append(_Armed(the_fault, int(p["after_observations"]), "observation"))
        case k.SLICE_WEIGHTS_CHANGED:
            if p.get("when") == "mid_transition":
                triggers.armed.append(
                    _Armed(the_fault, int(p["after_observations"]), "observation"))
            else:
                return change_slice(station, str(p["slice"]), int(p["cpu_weight"]))
        case k.STATE_FILE_CORRUPT:
            return corrupt_state_file(station.store, str(p["file"]), str(p["how"]))
        case k.CLOCK_JUMP:
            jump = round(float(p["by_s"]) * 1e9)
            world.wall_epoch_ns = max(0, world.wall_epoch_ns + jump)
            world.recorder.world_change(world.now_ns, "clock_jump", {"by_s": p["by_s"]})
        case k.EVIDENCE_UNAVAILABLE:
            group = str(p["group"])
            world.set_unavailable(group, f"{group}: injected read failure")
            triggers.unavailable_for[group] = int(p["for_observations"])
        case k.STORAGE_FAULT:
            return iofaults.inject(station, p)
        case k.DISPLAY_MANAGER_FAILS:
            return gui_faults.display_manager_fails(world, bool(p.get("crash_now")))
        case k.GREETER_RETAKES_GPU:
            return gui_faults.greeter_retakes_gpu(world, float(p["stop_s"]))
        case k.COMPOSITOR_CRASHES | k.SESSION_STUCK_CLOSING:
            if p.get("when") == "mid_transition":
                triggers.armed.append(
                    _Armed(the_fault, int(p["after_observations"]), "observation"))
            else:
                return _gui_now(world, the_fault.kind)
    return True


def _gui_now(world: World, kind: FaultKind) -> bool:
    if kind is FaultKind.COMPOSITOR_CRASHES:
        return gui_faults.compositor_crashes(world)
    return gui_faults.session_stuck_closing(world)


def _fire(station: Station, the_fault: Fault, triggers: Triggers) -> None:
    """An armed fault's moment has come."""
    world, p = station.world, the_fault.params
    match the_fault.kind:
        case FaultKind.CONTROLLER_KILLED:
            raise ControllerKilled(f"killed before step {p['after_steps']}")
        case FaultKind.AUDIO_MID_TRANSITION:
            if world.audio.find(str(p["name"]), jack=False) is None:
                world.start_audio_stream(str(p["name"]))
        case FaultKind.JACK_MID_TRANSITION:
            if world.audio.find(str(p["name"]), jack=True) is None:
                world.start_jack_client(str(p["name"]))
        case FaultKind.SLICE_WEIGHTS_CHANGED:
            change_slice(station, str(p["slice"]), int(p["cpu_weight"]))
        case FaultKind.SECOND_SESSION:
            world.add_session(str(p["type"]), str(p["user"]))
        case FaultKind.COMPOSITOR_CRASHES | FaultKind.SESSION_STUCK_CLOSING:
            _gui_now(world, the_fault.kind)
        case _:  # pragma: no cover - only the kinds above are armed
            raise AssertionError(f"{the_fault.kind} is not armed")
    del triggers


def hide_gpu_memory(world: World, index: int, mib: int) -> bool:
    """Memory on GPU `index` held by no visible process (a leaked context, a driver quirk)."""
    gpu = world.gpus.get(index)
    if gpu is None or gpu.free_mib < mib:
        return False
    alloc_id = world.wiring.alloc_id()
    world.recorder.world_change(world.now_ns, "hide_gpu_memory", {"gpu": index, "mib": mib})
    gpu.allocate(alloc_id, 0, "", GpuProcessKind.GRAPHICS, mib)
    world.recorder.gpu_memory(world.now_ns, index, gpu.used_mib, "hidden allocation")
    return True


def change_slice(station: Station, name: str, cpu_weight: int) -> bool:
    """Someone else (an admin, another tool) changes a slice's CPU weight at run time."""
    world = station.world
    unit = world.systemd.units.get(name)
    if unit is None or unit.settings is None:
        return False
    world.recorder.world_change(world.now_ns, "foreign_slice_change",
                                {"slice": name, "cpu_weight": cpu_weight})
    world.systemd.set_slice(name, attrs.evolve(unit.settings, cpu_weight=cpu_weight))
    return True


def corrupt_state_file(store: MemoryStore, name: str, how: str) -> bool:
    """Truncate a runtime state file, or replace it with garbage (no-op if it does not exist)."""
    data = store.files.get(name)
    if data is None:
        return False
    store.files[name] = data[: len(data) // 2] if how == "truncate" else b"\x00\xffgarbage{"
    mark = getattr(store, "mark_corrupt", None)
    if mark is not None:
        mark(name)
    return True


def heal(station: Station, triggers: Triggers, defaults: Mapping[str, UnitBehaviour]) -> None:
    """Undo every fault that can be undone; what is physically stuck stays stuck.

    Unit behaviours go back to `defaults`, injected action faults are dropped, evidence is
    readable again, sessions exit when asked (a session stuck closing finally goes), GPUs
    release at once from now on, vLLM's memory need is the policy's again. Hidden GPU memory,
    residuals already left, extra sessions, audio, corrupt files and clock jumps stay: the
    controller must cope with them.
    """
    world = station.world
    triggers.disarm()
    iofaults.heal(station)
    if world.display.greeter_on_logout:
        world.set_display(attrs.evolve(world.display, greeter_on_logout=False))
    for name, behaviour in defaults.items():
        if world.systemd.units[name].behaviour != behaviour:
            world.set_unit_behaviour(name, behaviour)
    world.clear_action_faults()
    for group in list(world.unavailable):
        world.set_available(group)
    if world.session_behaviour != SessionBehaviour():
        world.set_session_behaviour(SessionBehaviour())
    for session in list(world.logind.sessions.values()):
        if session.behaviour != SessionBehaviour():
            world.set_session_behaviour(SessionBehaviour(), session.id)
    for session in list(world.logind.sessions.values()):
        if session.state == "closing":
            world.remove_session(session.id)  # stuck closing: its processes finally exit
    for index, gpu in world.gpus.items():
        if gpu.release.kind.value != "immediate":
            world.set_gpu_release(index, "immediate")
    if world.vllm_need_mib is not None:
        if world.vllm_need_mib != world.policy.vllm.memory_per_gpu_mib:
            world.recorder.world_change(world.now_ns, "restore_world_policy", {})
        world.vllm_need_mib = None
    end_hung_jobs(world)


def end_hung_jobs(world: World, rounds: int = 10) -> None:
    """A job that hangs is ended the way systemd's job timeout ends it: the unit is killed
    (`failed`). Run after the behaviours are healed; other jobs then run to completion."""
    for _ in range(rounds):
        world.settle()
        hung = [job.unit for job in world.systemd.jobs.values() if job.running]
        if not hung:
            return
        for unit in hung:
            world.crash_unit(unit)


def slice_values(world: World) -> dict[str, SliceSettings]:
    """The slices' runtime settings now (for the restore invariant)."""
    return {name: unit.settings for name, unit in world.systemd.units.items()
            if unit.settings is not None}
