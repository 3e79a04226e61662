"""The simulated workstation: one `World` that every driver of the simulator uses.

Gherkin steps, the hypothesis state machine, the fault campaigns and `mode-sim` all change
the world through the methods here; the controller sees it only through `backend()` (a
`SimBackend`). The world owns the virtual clock and its event queue, the seeded streams, and
the models (systemd, logind, processes, GPUs, PipeWire, vLLM, host numbers), and it is the
glue between them: the display manager's autologin session, a closing session's processes
exiting, the compositor's GPU memory released per the GPU's behaviour, vLLM loading onto the
GPUs of its profile. Behaviours and faults are data (attrs values) so a fault plan can carry
them as JSON; `to_json`/`from_json` round-trip everything, pending events included.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import attrs

from dubnium.backend import BackendError, Delivery, DubniumError
from dubnium.facts import (
    ActiveState,
    GpuProcessKind,
    HostFacts,
    LoadFact,
    MemoryFact,
    PressureFact,
    SliceSettings,
)
from dubnium.modes import Mode
from dubnium.policy import ConfigError, Hardware, Policy, default_policy, load_policy_data
from simulator import jsonutil
from simulator.clock import (
    DEFAULT_WALL_EPOCH_NS,
    NS_PER_S,
    Event,
    Scheduler,
    SimClock,
    seconds_to_ns,
)
from simulator.gpu import GPU_RELEASE, Gpu, GpuReleaseBehaviour, GpuSpec, ReleaseKind
from simulator.host import HostState
from simulator.logind import SESSION_EXIT, Logind, Session, SessionBehaviour
from simulator.pipewire import Pipewire
from simulator.processes import OWNER_UID, Process, ProcessRole, ProcessTable
from simulator.rng import Streams, derive
from simulator.seat import Seat
from simulator.studio import StudioModel
from simulator.systemd import (
    JOB_DONE,
    JobType,
    Systemd,
    UnitBehaviour,
    boot_target,
)
from simulator.trace import Recorder
from simulator.unitgraph import default_units
from simulator.vllm import Vllm

if TYPE_CHECKING:
    from simulator.backend import SimBackend

WORLD_SCHEMA_VERSION = 1
WORLD_KIND = "dubnium-sim-world"
AUTOLOGIN = "autologin"  # the event kind of the display manager logging the owner in
OBSERVABLE_GROUPS = tuple(
    f.name for f in attrs.fields(HostFacts)
    if f.name not in ("observed_at_ns", "boot_id", "gpus_read_at_ns")
)


class WorldError(DubniumError):
    """A world API call that cannot be done (no such stream, no such GPU, a bad value)."""


@attrs.frozen
class DisplayBehaviour:
    """The display manager: whom it logs in, how soon, and what the compositor holds."""

    user: str = "owner"
    session_type: str = "wayland"
    autologin_delay_s: float = 2.0
    compositor: str = "Hyprland"
    compositor_mib: int = 600
    # Like greetd or gdm: while the display manager runs, a session of its that ends is
    # followed by a new one (the greeter, or here the autologin) on the display GPU.
    relogin: bool = True
    # The fault "the greeter retakes the GPU": a session of the display manager that ends
    # while the display manager is still stopping is followed by its greeter at once.
    greeter_on_logout: bool = False
    greeter: str = "gnome-shell"


class FaultEffect(StrEnum):
    ERROR = "error"  # the call fails and nothing happens
    TIMEOUT = "timeout"  # the call takes effect, then reports a (temporary) timeout
    IGNORED = "ignored"  # the call reports success and nothing happens


@attrs.frozen
class ActionFault:
    """An injected fault on a backend action: which action, on what, how, how many times."""

    action: str  # start_unit, stop_unit, isolate, set_slice_properties, terminate_session,
    #              write_vllm_profile
    effect: FaultEffect = FaultEffect.ERROR
    target: str = ""  # the unit, slice or session id; "" for any
    temporary: bool = True
    times: int = 1  # how many calls it hits; -1 for every call


class World:
    """One simulated workstation. Build it with `World.create` or `World.from_json`."""

    def __init__(self, seed: int, policy: Policy, recorder: Recorder | None = None) -> None:
        self.seed = seed
        self.policy = policy
        self._recorder = recorder or Recorder()
        self.scheduler = Scheduler()
        self.streams = Streams(seed)
        self.wall_epoch_ns = DEFAULT_WALL_EPOCH_NS
        self.clock = SimClock(self.scheduler, self.run_until, lambda: self.wall_epoch_ns)
        self.systemd = Systemd(self.scheduler, self.streams.stream("systemd.jobs"), self,
                               self._recorder)
        self.logind = Logind()
        self.processes = ProcessTable()
        self.gpus: dict[int, Gpu] = {}
        self.audio = Pipewire()
        self.vllm = Vllm()
        self.exo = Vllm("exo", ProcessRole.EXO)
        self.studio = StudioModel()  # PipeWire clock, cpufreq, NVML reads (issue 15)
        self.host = HostState.for_policy(policy)
        self.display = DisplayBehaviour()
        self.session_behaviour = SessionBehaviour()
        self.boot_count = 0
        self.boot_id = ""
        self.next_alloc_id = 1
        self.notifications: list[dict[str, Any]] = []
        self.unavailable: dict[str, str] = {}
        self.action_faults: list[ActionFault] = []
        self.seat = Seat(self)  # idle hints, inhibitor locks, console keys (idle automation)
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            JOB_DONE: lambda a: self.systemd.on_job_done(int(a["job"])),
            AUTOLOGIN: lambda a: self._autologin(),
            SESSION_EXIT: lambda a: self._session_gone(str(a["session"])),
            GPU_RELEASE: lambda a: self._gpu_release(int(a["gpu"]), int(a["alloc"])),
        }
        self._backend: SimBackend | None = None

    # ================================================================= creation

    @classmethod
    def create(cls, seed: int = 0, gpus: int | None = None, policy: Policy | None = None,
               recorder: Recorder | None = None) -> World:
        """A workstation booted to its boot target (desktop: the owner's session is up).

        `gpus` defaults to the policy's GPU count; without a policy, the default policy is
        adapted to `gpus` (one GPU: display and compute on GPU 0, a second one planned).
        """
        if policy is None:
            policy = default_policy()
            if gpus is not None and gpus != len(policy.hardware.present_gpus):
                present = tuple(range(gpus))
                policy = attrs.evolve(policy, hardware=Hardware(
                    present_gpus=present, display_gpu=0, compute_gpus=present,
                    planned_gpu_count=max(2, gpus)))
        count = len(policy.hardware.present_gpus) if gpus is None else gpus
        if count not in (1, 2):
            raise WorldError(f"a simulated workstation has 1 or 2 GPUs, not {count}")
        world = cls(seed, policy, recorder)
        world.processes.next_pid = world.streams.stream("pids").randrange(1500, 4000)
        indices = (policy.hardware.present_gpus if len(policy.hardware.present_gpus) == count
                   else tuple(range(count)))
        for index in indices:
            world.gpus[index] = Gpu(GpuSpec(index, world._uuid(f"gpu:{index}", "GPU-")))
        for spec, behaviour in default_units(policy):
            world.systemd.add(spec, behaviour)
        world.systemd.index()
        world._boot()
        return world

    def _uuid(self, name: str, prefix: str = "") -> str:
        value = (derive(self.seed, name + ":hi") << 64) | derive(self.seed, name + ":lo")
        return prefix + str(uuid.UUID(int=value))

    def _boot(self) -> None:
        """Power on: a fresh boot id, slices at the policy's boot values, boot target started."""
        self.boot_id = self._uuid(f"boot:{self.boot_count}")
        desktop = self.policy.slices.get(Mode.DESKTOP, {})
        for name, unit in self.systemd.units.items():
            if unit.settings is not None:
                self.systemd.reset_slice(name, desktop.get(name, SliceSettings()))
        self.systemd.start(boot_target(self.policy))
        self.settle()

    def reboot(self) -> None:
        """Power off and boot again: /run and every process are gone; the boot target starts.

        The controller's runtime state is its own business; what survives here is the
        hardware, the behaviours (faults included) and the host numbers.
        """
        self._change("reboot", {})
        self.scheduler.clear()
        self.systemd.reset()
        self.logind.sessions.clear()
        self.logind.changed()
        self.processes.clear()
        self.seat.clear()
        self.audio.clear()
        for gpu in self.gpus.values():
            gpu.clear()
        self.vllm = Vllm()
        self.exo = Vllm("exo", ProcessRole.EXO)
        self.boot_count += 1
        self._boot()

    # ================================================================= time

    @property
    def now_ns(self) -> int:
        return self.scheduler.now_ns

    @property
    def recorder(self) -> Recorder:
        return self._recorder

    @recorder.setter
    def recorder(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self.systemd.recorder = recorder

    def run_until(self, t_ns: int) -> int:
        """Run every event due by `t_ns`; the clock then stands at `t_ns`."""
        return self.scheduler.run_until(t_ns, self._dispatch)

    def advance(self, seconds: float) -> int:
        """Let `seconds` of virtual time pass; returns the number of events run."""
        return self.run_until(self.now_ns + seconds_to_ns(seconds))

    def settle(self, max_s: float = 600.0) -> int:
        """Run events until none is pending (or `max_s` passed); the clock stops at the last."""
        deadline = self.now_ns + seconds_to_ns(max_s)
        count = 0
        while (at := self.scheduler.next_at()) is not None and at <= deadline:
            count += self.run_until(at)
        return count

    def _dispatch(self, event: Event) -> None:
        self._recorder.event(event.at_ns, event.kind, event.args)
        self._handlers[event.kind](event.args)

    # ================================================================= unit hooks

    def job_started(self, unit: str, job_type: JobType) -> None:
        names = self.policy.units
        if unit == names.display_manager and job_type is JobType.STOP:
            self._close_sessions_of(unit)
        elif job_type is JobType.START and (workload := self._workload(unit)) is not None:
            workload.spawn(self.processes, self.now_ns)

    def _workload(self, unit: str) -> Vllm | None:
        names = self.policy.units
        return {names.vllm: self.vllm, names.exo: self.exo}.get(unit)

    def start_succeeds(self, unit: str) -> bool:
        workload = self._workload(unit)
        if workload is None:
            return True
        model = self.host.model_fact()
        if workload is self.vllm and model is not None and not model.present:
            return False  # offline (HF_HUB_OFFLINE) with no local model: vLLM exits
        need = (self.policy.vllm.memory_per_gpu_mib if workload is self.vllm
                else self.policy.exo.memory_per_gpu_mib)
        ids = list(range(self.next_alloc_id, self.next_alloc_id + len(self.gpus)))
        before = len(ids)
        ok = workload.load(self.gpus, need, ids)
        self.next_alloc_id += before - len(ids)
        if ok:
            for index, _ in workload.allocations:
                self._gpu_changed(index, f"{workload.comm} loaded")
        else:
            workload.unload(self.gpus, self.processes)
        return ok

    def state_changed(self, unit: str, old: ActiveState, new: ActiveState) -> None:
        names = self.policy.units
        if unit == names.display_manager:
            if new is ActiveState.ACTIVE:
                delay = seconds_to_ns(self.display.autologin_delay_s)
                self.scheduler.schedule(delay, AUTOLOGIN, {"unit": unit})
            elif new in (ActiveState.INACTIVE, ActiveState.FAILED):
                self._close_sessions_of(unit)
        elif new in (ActiveState.INACTIVE, ActiveState.FAILED) and (
                workload := self._workload(unit)) is not None:
            held = [index for index, _ in workload.allocations]
            workload.unload(self.gpus, self.processes)
            for index in held:
                self._gpu_changed(index, f"{workload.comm} stopped")

    # ================================================================= logind glue

    def _autologin(self) -> None:
        dm = self.policy.units.display_manager
        if not self.systemd.is_up(dm):
            return
        if any(s.owner_unit == dm and s.state != "closing" for s in self.logind.sessions.values()):
            return
        d = self.display
        self._open_session(d.user, d.session_type, "user", owner_unit=dm)

    def _open_session(self, user: str, session_type: str, class_: str, *,
                      owner_unit: str = "", comm: str = "") -> Session:
        session_id = self.logind.new_id()
        uid = OWNER_UID if user == self.display.user else 1001
        if session_type in ("wayland", "x11"):
            comm = comm or (self.display.compositor if session_type == "wayland" else "Xorg")
            leader = self.processes.spawn(comm, ProcessRole.COMPOSITOR, self.now_ns, uid=uid,
                                          session_id=session_id).pid
            gpu = self.display_gpu
            if gpu is not None:
                mib = min(self.display.compositor_mib, gpu.free_mib)
                if mib > 0:
                    gpu.allocate(self._alloc_id(), leader, comm, GpuProcessKind.GRAPHICS, mib)
                    self._gpu_changed(gpu.spec.index, f"{comm} started")
        else:
            leader = self.processes.next_pid  # a login shell: not a process of interest
            self.processes.next_pid += 1
        session = Session(session_id, user, uid, session_type, class_, "active", leader, True,
                          owner_unit, self.session_behaviour)
        self.logind.add(session)
        self._recorder.session(self.now_ns, session_id, "active")
        return session

    def _close_sessions_of(self, unit: str) -> None:
        for session in list(self.logind.sessions.values()):
            if session.owner_unit == unit:
                self._close(session)

    def _close(self, session: Session) -> None:
        if session.state == "closing":
            return
        session.state = "closing"
        session.active = False
        self.logind.changed()
        self._recorder.session(self.now_ns, session.id, "closing")
        if not session.behaviour.never_exits:
            delay = seconds_to_ns(session.behaviour.exit_delay_s)
            self.scheduler.schedule(delay, SESSION_EXIT, {"session": session.id})

    def _session_gone(self, session_id: str) -> None:
        session = self.logind.remove(session_id)
        if session is None:
            return
        for process in self.processes.in_session(session_id):
            self._exit(process)
        self._recorder.session(self.now_ns, session_id, "gone")
        dm = self.policy.units.display_manager
        if session.owner_unit == dm and self.display.relogin and self.systemd.is_up(dm):
            delay = seconds_to_ns(self.display.autologin_delay_s)
            self.scheduler.schedule(delay, AUTOLOGIN, {"unit": dm})
        elif session.owner_unit == dm and self.display.greeter_on_logout and \
                self.systemd.state(dm) is ActiveState.DEACTIVATING and session.class_ != "greeter":
            greeter = self._open_session("greeter", "wayland", "greeter", owner_unit=dm,
                                         comm=self.display.greeter)
            self._recorder.world_change(self.now_ns, "greeter", {"session": greeter.id})

    def terminate_session(self, session_id: str) -> None:
        """logind's TerminateSession: `closing` now, gone after the session's exit delay."""
        self._close(self.logind.get(session_id))

    # ================================================================= processes and GPUs

    @property
    def display_gpu(self) -> Gpu | None:
        gpu = self.gpus.get(self.policy.hardware.display_gpu)
        if gpu is None and self.gpus:
            gpu = next(iter(self.gpus.values()))
        return gpu

    def _alloc_id(self) -> int:
        self.next_alloc_id += 1
        return self.next_alloc_id - 1

    def _exit(self, process: Process) -> None:
        """A process exits: its audio nodes go, its GPU memory follows each GPU's behaviour."""
        self.processes.kill(process.pid)
        self.audio.remove_for_pid(process.pid)
        for gpu in self.gpus.values():
            if not any(a.pid == process.pid for a in gpu.allocations.values()):
                continue
            for alloc_id in gpu.process_exited(process.pid):
                delay = seconds_to_ns(gpu.release.delay_s)
                self.scheduler.schedule(delay, GPU_RELEASE,
                                        {"gpu": gpu.spec.index, "alloc": alloc_id})
            self._gpu_changed(gpu.spec.index, f"{process.comm} exited")

    def _gpu_release(self, index: int, alloc_id: int) -> None:
        gpu = self.gpus.get(index)
        if gpu is not None and alloc_id in gpu.allocations:
            gpu.free(alloc_id)
            self._gpu_changed(index, "delayed release")

    def _gpu_changed(self, index: int, why: str) -> None:
        self._recorder.gpu_memory(self.now_ns, index, self.gpus[index].used_mib, why)

    # ================================================================= world API: users

    def _change(self, what: str, args: Mapping[str, Any]) -> None:
        self._recorder.world_change(self.now_ns, what, args)

    def _owner_session(self) -> str:
        for session in self.logind.sessions.values():
            if session.user == self.display.user and session.type in ("wayland", "x11") \
                    and session.state != "closing":
                return session.id
        return ""

    def start_audio_stream(self, name: str) -> int:
        """An application plays audio (in the owner's graphical session, if any): its pid."""
        if self.audio.find(name, jack=False) is not None:
            raise WorldError(f"an audio stream named {name!r} is already playing")
        self._change("start_audio_stream", {"name": name})
        process = self.processes.spawn(name, ProcessRole.AUDIO, self.now_ns,
                                       session_id=self._owner_session())
        self.audio.add_stream(name, process.pid)
        return process.pid

    def stop_audio_stream(self, name: str) -> None:
        node = self.audio.find(name, jack=False)
        if node is None:
            raise WorldError(f"no audio stream named {name!r}")
        self._change("stop_audio_stream", {"name": name})
        self._exit_pid(node.app_pid)
        self.audio.remove(node.id)

    def start_jack_client(self, name: str) -> int:
        if self.audio.find(name, jack=True) is not None:
            raise WorldError(f"a JACK client named {name!r} is already running")
        self._change("start_jack_client", {"name": name})
        process = self.processes.spawn(name, ProcessRole.JACK, self.now_ns,
                                       session_id=self._owner_session())
        self.audio.add_jack_client(name, process.pid)
        return process.pid

    def stop_jack_client(self, name: str) -> None:
        node = self.audio.find(name, jack=True)
        if node is None:
            raise WorldError(f"no JACK client named {name!r}")
        self._change("stop_jack_client", {"name": name})
        self._exit_pid(node.app_pid)
        self.audio.remove(node.id)

    def start_reaper(self) -> int:
        if self.processes.by_role(ProcessRole.REAPER):
            raise WorldError("REAPER is already running")
        self._change("start_reaper", {})
        return self.processes.spawn("reaper", ProcessRole.REAPER, self.now_ns,
                                    session_id=self._owner_session()).pid

    def stop_reaper(self) -> None:
        running = self.processes.by_role(ProcessRole.REAPER)
        if not running:
            raise WorldError("REAPER is not running")
        self._change("stop_reaper", {})
        for process in running:
            self._exit(process)

    def _exit_pid(self, pid: int) -> None:
        process = self.processes.procs.get(pid)
        if process is not None:
            self._exit(process)

    def add_session(self, type: str = "tty", user: str = "owner",
                    class_: str = "user") -> str:
        """Someone logs in (a tty/ssh session, or a second graphical one): the session id."""
        if type not in ("wayland", "x11", "tty"):
            raise WorldError(f"session type must be wayland, x11 or tty, not {type!r}")
        if class_ not in ("user", "greeter"):
            raise WorldError(f"session class must be user or greeter, not {class_!r}")
        self._change("add_session", {"type": type, "user": user, "class": class_})
        return self._open_session(user, type, class_).id

    def remove_session(self, session_id: str) -> None:
        """The session ends at once (its user logged out); its processes exit."""
        if session_id not in self.logind.sessions:
            raise WorldError(f"no session {session_id!r}")
        self._change("remove_session", {"id": session_id})
        self._session_gone(session_id)

    def set_session_behaviour(self, behaviour: SessionBehaviour,
                              session_id: str | None = None) -> None:
        """How sessions end when terminated: one session's, or (no id) every new session's."""
        self._change("set_session_behaviour",
                     {"id": session_id or "", **jsonutil.to_json(behaviour)})
        if session_id is None:
            self.session_behaviour = behaviour
            return
        session = self.logind.sessions.get(session_id)
        if session is None:
            raise WorldError(f"no session {session_id!r}")
        session.behaviour = behaviour

    def add_user_job(self, comm: str, runtime_s: float = 3600.0) -> int:
        """A long-running user job (a build) that started `runtime_s` ago: its pid."""
        if runtime_s < 0:
            raise WorldError(f"runtime_s must be >= 0, got {runtime_s}")
        self._change("add_user_job", {"comm": comm, "runtime_s": runtime_s})
        start = self.now_ns - seconds_to_ns(runtime_s)
        return self.processes.spawn(comm, ProcessRole.JOB, self.now_ns, start_ns=start).pid

    def remove_user_job(self, comm: str) -> None:
        """Every user job called `comm` ends."""
        jobs = [p for p in self.processes.by_role(ProcessRole.JOB) if p.comm == comm[:15]]
        if not jobs:
            raise WorldError(f"no user job called {comm!r}")
        self._change("remove_user_job", {"comm": comm})
        for process in jobs:
            self._exit(process)

    # ================================================================= world API: the machine

    def set_gpu_release(self, index: int, behaviour: ReleaseKind | str, *, delay_s: float = 0.0,
                        residual_mib: int = 0) -> GpuReleaseBehaviour:
        """How GPU `index` releases a graphics process's memory when that process exits."""
        gpu = self.gpus.get(index)
        if gpu is None:
            raise WorldError(f"no GPU {index} (GPUs: {sorted(self.gpus)})")
        try:
            value = GpuReleaseBehaviour(ReleaseKind(behaviour), delay_s, residual_mib)
        except ValueError as exc:
            raise WorldError(f"GPU release: {exc}") from None
        self._change("set_gpu_release", {"index": index, **jsonutil.to_json(value)})
        gpu.release = value
        return value

    def set_load(self, load1: float, load5: float | None = None, load15: float | None = None,
                 cpus: int | None = None) -> None:
        old = self.host.load
        if load1 < 0 or (cpus is not None and cpus < 1):
            raise WorldError("load must be >= 0 and cpus >= 1")
        self._change("set_load", {"load1": load1})
        self.host.load = LoadFact(float(load1), float(load1 if load5 is None else load5),
                                  float(load1 if load15 is None else load15),
                                  old.cpus if cpus is None else cpus)

    def fill_memory(self, mib: int) -> None:
        """Something takes `mib` of RAM (available memory drops, never below zero)."""
        if mib < 0:
            raise WorldError(f"fill_memory takes a positive amount, not {mib}")
        self._change("fill_memory", {"mib": mib})
        mem = self.host.memory
        self.host.memory = MemoryFact(mem.total_mib, max(0, mem.available_mib - mib))

    def set_memory(self, available_mib: int, total_mib: int | None = None) -> None:
        total = self.host.memory.total_mib if total_mib is None else total_mib
        if not 0 <= available_mib <= total:
            raise WorldError(f"available memory must be within 0..{total} MiB")
        self._change("set_memory", {"available_mib": available_mib, "total_mib": total})
        self.host.memory = MemoryFact(total, available_mib)

    def set_pressure(self, cpu: float | None = None, memory: float | None = None,
                     io: float | None = None) -> None:
        self._change("set_pressure", {"cpu": cpu, "memory": memory, "io": io})
        self.host.pressure = PressureFact(cpu, memory, io)

    def set_path(self, path: str, *, exists: bool = True, writable: bool = True,
                 free_mib: int | None = None) -> None:
        self._change("set_path", {"path": path, "exists": exists, "writable": writable,
                                  "free_mib": free_mib})
        self.host.set_path(path, exists=exists, writable=writable, free_mib=free_mib)

    def set_model(self, *, seeded: bool) -> None:
        """Whether the configured vLLM model is in the model store (vLLM, offline, fails to
        start without it)."""
        self._change("set_model", {"seeded": seeded})
        self.host.model_seeded = seeded

    def set_unit_behaviour(self, name: str, behaviour: UnitBehaviour) -> None:
        """How `name`'s future jobs go (durations, fails to start, hangs)."""
        if name not in self.systemd.units:
            raise WorldError(f"no unit {name!r}")
        self._change("set_unit_behaviour", {"unit": name, **jsonutil.to_json(behaviour)})
        self.systemd.set_behaviour(name, behaviour)

    def crash_unit(self, name: str) -> None:
        """`name`'s main process dies: the unit goes `failed`."""
        if name not in self.systemd.units:
            raise WorldError(f"no unit {name!r}")
        self._change("crash_unit", {"unit": name})
        self.systemd.fail(name)

    def set_display(self, behaviour: DisplayBehaviour) -> None:
        self._change("set_display", jsonutil.to_json(behaviour))
        self.display = behaviour

    def set_unavailable(self, group: str, reason: str) -> None:
        """Observation cannot read `group` (a HostFacts field) any more, because `reason`."""
        if group not in OBSERVABLE_GROUPS:
            raise WorldError(f"unknown evidence group {group!r}; one of "
                             f"{', '.join(OBSERVABLE_GROUPS)}")
        self._change("set_unavailable", {"group": group, "reason": reason})
        self.unavailable[group] = reason

    def set_available(self, group: str) -> None:
        self._change("set_available", {"group": group})
        self.unavailable.pop(group, None)

    def inject_action_fault(self, fault: ActionFault) -> None:
        """The next matching backend call(s) misbehave as `fault` says."""
        self._change("inject_action_fault", jsonutil.to_json(fault))
        self.action_faults.append(fault)

    def take_action_fault(self, action: str, target: str) -> ActionFault | None:
        """The fault that hits this call, if any (consuming one of its `times`)."""
        for i, fault in enumerate(self.action_faults):
            if fault.action == action and fault.target in ("", target):
                if fault.times > 0:
                    if fault.times == 1:
                        del self.action_faults[i]
                    else:
                        self.action_faults[i] = attrs.evolve(fault, times=fault.times - 1)
                return fault
        return None

    def kill_unit(self, name: str) -> None:
        """KillUnit SIGKILL: every process of a running unit dies, even in a hung job; the
        unit goes `failed` (nothing happens to a unit that is already down)."""
        unit = self.systemd.units.get(name)
        if unit is None:
            raise BackendError(f"Unit {name} not found.")
        if unit.active not in (ActiveState.INACTIVE, ActiveState.FAILED) or unit.job:
            self.systemd.fail(name)

    def console(self, text: str) -> None:
        """A line on the system console (kept with the notifications, marked as such)."""
        self.notifications.append({"at_ns": self.now_ns, "summary": text, "body": "",
                                   "console": True})
        self._recorder.notification(self.now_ns, text, "")

    def notify(self, summary: str, body: str) -> Delivery:
        """A notification reaches each graphical session's notification daemon (one a session)."""
        self.notifications.append({"at_ns": self.now_ns, "summary": summary, "body": body})
        self._recorder.notification(self.now_ns, summary, body)
        sessions = [s for s in self.logind.facts() if s.graphical]
        return Delivery(len(sessions), len(sessions))

    # ================================================================= the controller's view

    def backend(self) -> SimBackend:
        """The controller's view of this world (one per world)."""
        if self._backend is None:
            from simulator.backend import SimBackend

            self._backend = SimBackend(self)
        return self._backend

    def observe(self) -> HostFacts:
        return self.backend().observe()

    def summary(self) -> dict[str, Any]:
        """A short human-oriented digest (what `mode-sim show` prints)."""
        return {
            "seed": self.seed,
            "time_s": self.now_ns / NS_PER_S,
            "boot": self.boot_count,
            "active_units": [n for n, u in self.systemd.units.items()
                             if u.active is not ActiveState.INACTIVE and
                             not n.endswith(".slice")],
            "sessions": [f"{s.id} {s.type} {s.user} {s.state}"
                         for s in self.logind.sessions.values()],
            "gpus": [f"{g.spec.index}: {g.used_mib}/{g.spec.total_mib} MiB, release "
                     f"{g.release.kind.value}" for g in self.gpus.values()],
            "audio": [n.name for n in self.audio.nodes.values()],
            "processes": [f"{p.pid} {p.comm}" for p in self.processes.procs.values()],
            "pending_events": len(self.scheduler.pending()),
        }

    # ================================================================= persistence

    def to_json(self) -> dict[str, Any]:
        """Everything: the policy, time and pending events, every model, every behaviour."""
        return {
            "kind": WORLD_KIND,
            "schema_version": WORLD_SCHEMA_VERSION,
            "seed": self.seed,
            "policy": self.policy.to_json(),
            "time": {"now_ns": self.now_ns, "next_seq": self.scheduler.next_seq,
                     "wall_epoch_ns": self.wall_epoch_ns},
            "events": [e.to_json() for e in self.scheduler.pending()],
            "rng": self.streams.to_json(),
            "boot": {"count": self.boot_count, "id": self.boot_id},
            "display": jsonutil.to_json(self.display),
            "session_behaviour": jsonutil.to_json(self.session_behaviour),
            "systemd": self.systemd.to_json(),
            "logind": self.logind.to_json(),
            "processes": self.processes.to_json(),
            "gpus": [g.to_json() for g in self.gpus.values()],
            "next_alloc_id": self.next_alloc_id,
            "audio": self.audio.to_json(),
            "vllm": self.vllm.to_json(),
            "exo": self.exo.to_json(),
            "studio": self.studio.to_json(),
            "host": self.host.to_json(),
            "notifications": list(self.notifications),
            "unavailable": dict(self.unavailable),
            "action_faults": [jsonutil.to_json(f) for f in self.action_faults],
            "seat": self.seat.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any, recorder: Recorder | None = None) -> World:
        """The world `to_json` wrote. ValueError (or KeyError/TypeError) on a wrong shape."""
        if not isinstance(data, dict) or data.get("kind") != WORLD_KIND:
            raise ValueError("not a simulated world")
        version = data.get("schema_version")
        if version != WORLD_SCHEMA_VERSION:
            raise ValueError(f"world schema_version {version!r}, expected "
                             f"{WORLD_SCHEMA_VERSION}")
        try:
            policy = load_policy_data(data["policy"])
        except ConfigError as exc:
            raise ValueError(f"policy: {exc}") from None
        seed = data["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed: expected an integer")
        world = cls(seed, policy, recorder)
        time = data["time"]
        world.scheduler.now_ns = int(time["now_ns"])
        world.scheduler.next_seq = int(time["next_seq"])
        world.wall_epoch_ns = int(time["wall_epoch_ns"])
        for raw in data["events"]:
            event = Event.from_json(raw)
            if event.kind not in world._handlers:
                raise ValueError(f"unknown event kind {event.kind!r}")
            if event.at_ns < world.scheduler.now_ns:
                raise ValueError(f"event {event.kind} is in the past")
            world.scheduler.push(event)
        world.streams = Streams.from_json(data["rng"])
        world.systemd = Systemd(world.scheduler, world.streams.stream("systemd.jobs"), world,
                                world._recorder)
        world.systemd.load_json(data["systemd"])
        world.boot_count = int(data["boot"]["count"])
        world.boot_id = str(data["boot"]["id"])
        world.display = jsonutil.from_json(DisplayBehaviour, data["display"])
        world.session_behaviour = jsonutil.from_json(SessionBehaviour, data["session_behaviour"])
        world.logind = Logind.from_json(data["logind"])
        world.processes = ProcessTable.from_json(data["processes"])
        for raw in data["gpus"]:
            gpu = Gpu.from_json(raw)
            world.gpus[gpu.spec.index] = gpu
        world.next_alloc_id = int(data["next_alloc_id"])
        world.audio = Pipewire.from_json(data["audio"])
        world.vllm = Vllm.from_json(data["vllm"])
        world.exo = Vllm.from_json(data["exo"])
        if "studio" in data:  # worlds saved before issue 15 start with the defaults
            world.studio = StudioModel.from_json(data["studio"])
        world.host = HostState.from_json(data["host"])
        world.notifications = [dict(n) for n in data["notifications"]]
        unavailable = data["unavailable"]
        if not isinstance(unavailable, dict) or set(unavailable) - set(OBSERVABLE_GROUPS):
            raise ValueError("unavailable: unknown evidence group")
        world.unavailable = {str(k): str(v) for k, v in unavailable.items()}
        world.action_faults = [jsonutil.from_json(ActionFault, f) for f in data["action_faults"]]
        if "seat" in data:  # absent in worlds saved before idle automation
            world.seat.load_json(data["seat"])
        return world
