"""The simulated workstation: one `World` that every driver of the simulator uses.

Gherkin steps, the hypothesis state machine, the fault campaigns and `mode-sim` all change
the world through the methods here (the world API: users, the machine, faults); the
controller sees it only through a `simulator.backend.SimBackend(world)`. The world owns the
virtual clock and its event queue, the seeded streams, the models (systemd, logind,
processes, GPUs, PipeWire, vLLM, host numbers) and the one policy that both the models and
the controller read. Its neighbours, each in its own module:

- `simulator.wiring`: the glue between the models (the display manager's autologin
  session, a closing session's processes exiting, GPU memory released per the GPU's
  behaviour, vLLM loading onto the GPUs of its profile);
- `simulator.actionfaults`: the faults injected into backend actions;
- `simulator.worldjson`: the world as JSON and back, pending events included.

Behaviours and faults are data (attrs values) so a fault plan can carry them as JSON. This
module imports neither the backend nor the serializer: they import it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from dubnium.errors import DubniumError
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
from dubnium.policy import Hardware, Policy, default_policy
from simulator import jsonutil
from simulator.actionfaults import ActionFault
from simulator.clock import (
    DEFAULT_WALL_EPOCH_NS,
    NS_PER_S,
    Event,
    Scheduler,
    SimClock,
    seconds_to_ns,
)
from simulator.gpu import Gpu, GpuReleaseBehaviour, GpuSpec, ReleaseKind
from simulator.host import HostState
from simulator.logind import Logind, SessionBehaviour
from simulator.pipewire import Pipewire
from simulator.processes import ProcessRole, ProcessTable
from simulator.rng import Streams, derive
from simulator.seat import Seat
from simulator.studio import StudioModel
from simulator.systemd import Systemd, UnitBehaviour, boot_target
from simulator.trace import Recorder
from simulator.unitgraph import default_units
from simulator.vllm import Vllm
from simulator.wiring import Wiring

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


class World:
    """One simulated workstation. Build it with `World.create` (or
    `simulator.worldjson.load`)."""

    def __init__(self, seed: int, policy: Policy, recorder: Recorder | None = None) -> None:
        self.seed = seed
        self.policy = policy  # the one policy: the models' and the controller's
        self._recorder = recorder or Recorder()
        self.scheduler = Scheduler()
        self.streams = Streams(seed)
        self.wall_epoch_ns = DEFAULT_WALL_EPOCH_NS
        self.clock = SimClock(self.scheduler, self.run_until, lambda: self.wall_epoch_ns)
        self.wiring = Wiring(self)
        self.systemd = Systemd(self.scheduler, self.streams.stream("systemd.jobs"), self.wiring,
                               self._recorder)
        self.logind = Logind()
        self.processes = ProcessTable()
        self.gpus: dict[int, Gpu] = {}
        self.audio = Pipewire()
        self.vllm = Vllm()
        self.exo = Vllm("exo", ProcessRole.EXO)
        # vLLM's real memory need per GPU when it is not the policy's (the fault vllm_oom)
        self.vllm_need_mib: int | None = None
        self.studio = StudioModel()  # PipeWire clock, cpufreq, NVML reads (issue 15)
        self.host = HostState.for_policy(policy)
        self.display = DisplayBehaviour()
        self.session_behaviour = SessionBehaviour()
        self.boot_count = 0
        self.boot_id = ""
        self.notifications: list[dict[str, Any]] = []
        self.unavailable: dict[str, str] = {}
        self.action_faults: list[ActionFault] = []
        self.seat = Seat(self)  # idle hints, inhibitor locks, console keys (idle automation)

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
        self.change("reboot", {})
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

    def set_policy(self, policy: Policy) -> None:
        """The owner edits the configuration: the controller and the models read `policy`
        from now on (the units, GPUs and paths already built stay as they are)."""
        self.change("set_policy", {})
        self.policy = policy

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
        self.wiring.handlers[event.kind](event.args)

    # ================================================================= world API: users

    def change(self, what: str, args: Mapping[str, Any]) -> None:
        """Record a change made through the world API (the trace's `world_change`)."""
        self._recorder.world_change(self.now_ns, what, args)

    def start_audio_stream(self, name: str) -> int:
        """An application plays audio (in the owner's graphical session, if any): its pid."""
        if self.audio.find(name, jack=False) is not None:
            raise WorldError(f"an audio stream named {name!r} is already playing")
        self.change("start_audio_stream", {"name": name})
        process = self.processes.spawn(name, ProcessRole.AUDIO, self.now_ns,
                                       session_id=self.wiring.owner_session())
        self.audio.add_stream(name, process.pid)
        return process.pid

    def stop_audio_stream(self, name: str) -> None:
        node = self.audio.find(name, jack=False)
        if node is None:
            raise WorldError(f"no audio stream named {name!r}")
        self.change("stop_audio_stream", {"name": name})
        self.wiring.exit_pid(node.app_pid)
        self.audio.remove(node.id)

    def start_jack_client(self, name: str) -> int:
        if self.audio.find(name, jack=True) is not None:
            raise WorldError(f"a JACK client named {name!r} is already running")
        self.change("start_jack_client", {"name": name})
        process = self.processes.spawn(name, ProcessRole.JACK, self.now_ns,
                                       session_id=self.wiring.owner_session())
        self.audio.add_jack_client(name, process.pid)
        return process.pid

    def stop_jack_client(self, name: str) -> None:
        node = self.audio.find(name, jack=True)
        if node is None:
            raise WorldError(f"no JACK client named {name!r}")
        self.change("stop_jack_client", {"name": name})
        self.wiring.exit_pid(node.app_pid)
        self.audio.remove(node.id)

    def start_reaper(self) -> int:
        if self.processes.by_role(ProcessRole.REAPER):
            raise WorldError("REAPER is already running")
        self.change("start_reaper", {})
        return self.processes.spawn("reaper", ProcessRole.REAPER, self.now_ns,
                                    session_id=self.wiring.owner_session()).pid

    def stop_reaper(self) -> None:
        running = self.processes.by_role(ProcessRole.REAPER)
        if not running:
            raise WorldError("REAPER is not running")
        self.change("stop_reaper", {})
        for process in running:
            self.wiring.exit(process)

    def add_session(self, type: str = "tty", user: str = "owner",
                    class_: str = "user") -> str:
        """Someone logs in (a tty/ssh session, or a second graphical one): the session id."""
        if type not in ("wayland", "x11", "tty"):
            raise WorldError(f"session type must be wayland, x11 or tty, not {type!r}")
        if class_ not in ("user", "greeter"):
            raise WorldError(f"session class must be user or greeter, not {class_!r}")
        self.change("add_session", {"type": type, "user": user, "class": class_})
        return self.wiring.open_session(user, type, class_).id

    def remove_session(self, session_id: str) -> None:
        """The session ends at once (its user logged out); its processes exit."""
        if session_id not in self.logind.sessions:
            raise WorldError(f"no session {session_id!r}")
        self.change("remove_session", {"id": session_id})
        self.wiring.session_gone(session_id)

    def set_session_behaviour(self, behaviour: SessionBehaviour,
                              session_id: str | None = None) -> None:
        """How sessions end when terminated: one session's, or (no id) every new session's."""
        self.change("set_session_behaviour",
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
        self.change("add_user_job", {"comm": comm, "runtime_s": runtime_s})
        start = self.now_ns - seconds_to_ns(runtime_s)
        return self.processes.spawn(comm, ProcessRole.JOB, self.now_ns, start_ns=start).pid

    def remove_user_job(self, comm: str) -> None:
        """Every user job called `comm` ends."""
        jobs = [p for p in self.processes.by_role(ProcessRole.JOB) if p.comm == comm[:15]]
        if not jobs:
            raise WorldError(f"no user job called {comm!r}")
        self.change("remove_user_job", {"comm": comm})
        for process in jobs:
            self.wiring.exit(process)

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
        self.change("set_gpu_release", {"index": index, **jsonutil.to_json(value)})
        gpu.release = value
        return value

    def set_load(self, load1: float, load5: float | None = None, load15: float | None = None,
                 cpus: int | None = None) -> None:
        old = self.host.load
        if load1 < 0 or (cpus is not None and cpus < 1):
            raise WorldError("load must be >= 0 and cpus >= 1")
        self.change("set_load", {"load1": load1})
        self.host.load = LoadFact(float(load1), float(load1 if load5 is None else load5),
                                  float(load1 if load15 is None else load15),
                                  old.cpus if cpus is None else cpus)

    def fill_memory(self, mib: int) -> None:
        """Something takes `mib` of RAM (available memory drops, never below zero)."""
        if mib < 0:
            raise WorldError(f"fill_memory takes a positive amount, not {mib}")
        self.change("fill_memory", {"mib": mib})
        mem = self.host.memory
        self.host.memory = MemoryFact(mem.total_mib, max(0, mem.available_mib - mib))

    def set_memory(self, available_mib: int, total_mib: int | None = None) -> None:
        total = self.host.memory.total_mib if total_mib is None else total_mib
        if not 0 <= available_mib <= total:
            raise WorldError(f"available memory must be within 0..{total} MiB")
        self.change("set_memory", {"available_mib": available_mib, "total_mib": total})
        self.host.memory = MemoryFact(total, available_mib)

    def set_pressure(self, cpu: float | None = None, memory: float | None = None,
                     io: float | None = None) -> None:
        self.change("set_pressure", {"cpu": cpu, "memory": memory, "io": io})
        self.host.pressure = PressureFact(cpu, memory, io)

    def set_path(self, path: str, *, exists: bool = True, writable: bool = True,
                 free_mib: int | None = None) -> None:
        self.change("set_path", {"path": path, "exists": exists, "writable": writable,
                                  "free_mib": free_mib})
        self.host.set_path(path, exists=exists, writable=writable, free_mib=free_mib)

    def set_model(self, *, seeded: bool) -> None:
        """Whether the configured vLLM model is in the model store (vLLM, offline, fails to
        start without it)."""
        self.change("set_model", {"seeded": seeded})
        self.host.model_seeded = seeded

    def set_unit_behaviour(self, name: str, behaviour: UnitBehaviour) -> None:
        """How `name`'s future jobs go (durations, fails to start, hangs)."""
        if name not in self.systemd.units:
            raise WorldError(f"no unit {name!r}")
        self.change("set_unit_behaviour", {"unit": name, **jsonutil.to_json(behaviour)})
        self.systemd.set_behaviour(name, behaviour)

    def crash_unit(self, name: str) -> None:
        """`name`'s main process dies: the unit goes `failed`."""
        if name not in self.systemd.units:
            raise WorldError(f"no unit {name!r}")
        self.change("crash_unit", {"unit": name})
        self.systemd.fail(name)

    def set_display(self, behaviour: DisplayBehaviour) -> None:
        self.change("set_display", jsonutil.to_json(behaviour))
        self.display = behaviour

    def set_unavailable(self, group: str, reason: str) -> None:
        """Observation cannot read `group` (a HostFacts field) any more, because `reason`."""
        if group not in OBSERVABLE_GROUPS:
            raise WorldError(f"unknown evidence group {group!r}; one of "
                             f"{', '.join(OBSERVABLE_GROUPS)}")
        self.change("set_unavailable", {"group": group, "reason": reason})
        self.unavailable[group] = reason

    def set_available(self, group: str) -> None:
        self.change("set_available", {"group": group})
        self.unavailable.pop(group, None)

    def inject_action_fault(self, fault: ActionFault) -> None:
        """The next matching backend call(s) misbehave as `fault` says."""
        self.change("inject_action_fault", jsonutil.to_json(fault))
        self.action_faults.append(fault)

    def clear_action_faults(self) -> None:
        """Every injected action fault is dropped (no change recorded when there is none)."""
        if self.action_faults:
            self.change("clear_action_faults", {})
            self.action_faults.clear()

    # ================================================================= world API: reading

    def session_ids(self) -> list[str]:
        """The logind sessions there are now (closing ones included), oldest first."""
        return list(self.logind.sessions)

    def unit_behaviour(self, name: str) -> UnitBehaviour:
        """How `name`'s future jobs go (what `set_unit_behaviour` last set)."""
        unit = self.systemd.units.get(name)
        if unit is None:
            raise WorldError(f"no unit {name!r}")
        return unit.behaviour

    def unit_is_up(self, name: str) -> bool:
        """Whether `name` is up now (active, or reloading)."""
        return self.systemd.is_up(name)

    def slice_settings(self) -> dict[str, SliceSettings]:
        """Every slice's runtime settings now."""
        return {name: unit.settings for name, unit in self.systemd.units.items()
                if unit.settings is not None}

    def gpu_uuids(self) -> dict[int, str]:
        """The GPUs by index: their UUIDs."""
        return {index: gpu.spec.uuid for index, gpu in self.gpus.items()}

    def compute_on_gpu(self, index: int) -> bool:
        """Whether a compute process holds memory on GPU `index` now."""
        gpu = self.gpus.get(index)
        if gpu is None:
            raise WorldError(f"no GPU {index} (GPUs: {sorted(self.gpus)})")
        return any(a.kind is GpuProcessKind.COMPUTE for a in gpu.allocations.values())

    def notices(self, console: bool = False) -> list[str]:
        """The summaries of the notifications sent so far (with `console`: the console
        lines instead), oldest first."""
        return [n["summary"] for n in self.notifications if bool(n.get("console")) == console]

    # ================================================================= digest

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
