"""The glue between the simulated workstation's models: units, logind, processes and GPUs.

`World` owns one `Wiring` and hands it to `Systemd` as its `UnitHooks`, and the scheduler's
events (a job done, the display manager's autologin, a closing session's exit, a GPU's
delayed release) are dispatched through `handlers`. What it wires:

- the display manager: when it is up it logs the owner in (after the autologin delay), when
  it stops its sessions close; like greetd or gdm it logs in again when its session ends,
  and with the fault `greeter_on_logout` its greeter retakes the display GPU at once;
- sessions: a graphical one starts a compositor holding memory on the display GPU; a closing
  one goes after its exit delay (unless stuck) and its processes exit;
- processes: one that exits drops its audio nodes and releases its GPU memory as each GPU's
  release behaviour says (at once, late, partly or never);
- vLLM and EXO: their unit starting spawns the process and loads onto the GPUs of the
  profile, failing like an out-of-memory or offline-without-model start; stopping unloads.

It reads the world through `Parts` (the models, the policy, the recorder), never through
`World` itself, so the world module imports this one and not the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from dubnium.backend import Delivery
from dubnium.errors import BackendError
from dubnium.facts import ActiveState, GpuProcessKind
from dubnium.policy import Policy
from simulator.clock import Scheduler, seconds_to_ns
from simulator.gpu import GPU_RELEASE, Gpu
from simulator.host import HostState
from simulator.logind import SESSION_EXIT, Logind, Session, SessionBehaviour
from simulator.pipewire import Pipewire
from simulator.processes import OWNER_UID, Process, ProcessRole, ProcessTable
from simulator.systemd import JOB_DONE, JobType, Systemd
from simulator.trace import Recorder
from simulator.vllm import Vllm

AUTOLOGIN = "autologin"  # the event kind of the display manager logging the owner in


class Display(Protocol):
    """The display manager's behaviour (`simulator.world.DisplayBehaviour`)."""

    @property
    def user(self) -> str: ...
    @property
    def session_type(self) -> str: ...
    @property
    def autologin_delay_s(self) -> float: ...
    @property
    def compositor(self) -> str: ...
    @property
    def compositor_mib(self) -> int: ...
    @property
    def relogin(self) -> bool: ...
    @property
    def greeter_on_logout(self) -> bool: ...
    @property
    def greeter(self) -> str: ...


class Parts(Protocol):
    """What the wiring reads of the world (each looked up at call time: a reboot or a
    setter replaces some of them)."""

    @property
    def policy(self) -> Policy: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def systemd(self) -> Systemd: ...
    @property
    def logind(self) -> Logind: ...
    @property
    def processes(self) -> ProcessTable: ...
    @property
    def gpus(self) -> dict[int, Gpu]: ...
    @property
    def audio(self) -> Pipewire: ...
    @property
    def vllm(self) -> Vllm: ...
    @property
    def exo(self) -> Vllm: ...
    @property
    def host(self) -> HostState: ...
    @property
    def display(self) -> Display: ...
    @property
    def session_behaviour(self) -> SessionBehaviour: ...
    @property
    def vllm_need_mib(self) -> int | None: ...
    @property
    def recorder(self) -> Recorder: ...
    @property
    def now_ns(self) -> int: ...
    @property
    def notifications(self) -> list[dict[str, Any]]: ...


class Wiring:
    """The models' glue for one world (`Systemd`'s `UnitHooks`, the scheduler's handlers)."""

    def __init__(self, world: Parts) -> None:
        self.w = world
        self.next_alloc_id = 1
        self.handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            JOB_DONE: lambda a: self.w.systemd.on_job_done(int(a["job"])),
            AUTOLOGIN: lambda a: self.autologin(),
            SESSION_EXIT: lambda a: self.session_gone(str(a["session"])),
            GPU_RELEASE: lambda a: self.gpu_release(int(a["gpu"]), int(a["alloc"])),
        }

    # ================================================================= unit hooks

    def job_started(self, unit: str, job_type: JobType) -> None:
        w = self.w
        if unit == w.policy.units.display_manager and job_type is JobType.STOP:
            self.close_sessions_of(unit)
        elif job_type is JobType.START and (workload := self.workload(unit)) is not None:
            workload.spawn(w.processes, w.now_ns)

    def workload(self, unit: str) -> Vllm | None:
        names = self.w.policy.units
        return {names.vllm: self.w.vllm, names.exo: self.w.exo}.get(unit)

    def start_succeeds(self, unit: str) -> bool:
        w = self.w
        workload = self.workload(unit)
        if workload is None:
            return True
        model = w.host.model_fact()
        if workload is w.vllm and model is not None and not model.present:
            return False  # offline (HF_HUB_OFFLINE) with no local model: vLLM exits
        if workload is w.vllm:
            need = (w.policy.vllm.memory_per_gpu_mib if w.vllm_need_mib is None
                    else w.vllm_need_mib)
        else:
            need = w.policy.exo.memory_per_gpu_mib
        ids = list(range(self.next_alloc_id, self.next_alloc_id + len(w.gpus)))
        before = len(ids)
        ok = workload.load(w.gpus, need, ids)
        self.next_alloc_id += before - len(ids)
        if ok:
            for index, _ in workload.allocations:
                self.gpu_changed(index, f"{workload.comm} loaded")
        else:
            workload.unload(w.gpus, w.processes)
        return ok

    def state_changed(self, unit: str, old: ActiveState, new: ActiveState) -> None:
        w = self.w
        if unit == w.policy.units.display_manager:
            if new is ActiveState.ACTIVE:
                delay = seconds_to_ns(w.display.autologin_delay_s)
                w.scheduler.schedule(delay, AUTOLOGIN, {"unit": unit})
            elif new in (ActiveState.INACTIVE, ActiveState.FAILED):
                self.close_sessions_of(unit)
        elif new in (ActiveState.INACTIVE, ActiveState.FAILED) and (
                workload := self.workload(unit)) is not None:
            held = [index for index, _ in workload.allocations]
            workload.unload(w.gpus, w.processes)
            for index in held:
                self.gpu_changed(index, f"{workload.comm} stopped")

    def kill_unit(self, name: str) -> None:
        """KillUnit SIGKILL: every process of a running unit dies, even in a hung job; the
        unit goes `failed` (nothing happens to a unit that is already down)."""
        systemd = self.w.systemd
        unit = systemd.units.get(name)
        if unit is None:
            raise BackendError(f"Unit {name} not found.")
        if unit.active not in (ActiveState.INACTIVE, ActiveState.FAILED) or unit.job:
            systemd.fail(name)

    # ================================================================= logind

    def autologin(self) -> None:
        w = self.w
        dm = w.policy.units.display_manager
        if not w.systemd.is_up(dm):
            return
        if any(s.owner_unit == dm and s.state != "closing" for s in w.logind.sessions.values()):
            return
        d = w.display
        self.open_session(d.user, d.session_type, "user", owner_unit=dm)

    def open_session(self, user: str, session_type: str, class_: str, *,
                     owner_unit: str = "", comm: str = "") -> Session:
        w = self.w
        session_id = w.logind.new_id()
        uid = OWNER_UID if user == w.display.user else 1001
        if session_type in ("wayland", "x11"):
            comm = comm or (w.display.compositor if session_type == "wayland" else "Xorg")
            leader = w.processes.spawn(comm, ProcessRole.COMPOSITOR, w.now_ns, uid=uid,
                                       session_id=session_id).pid
            gpu = self.display_gpu
            if gpu is not None:
                mib = min(w.display.compositor_mib, gpu.free_mib)
                if mib > 0:
                    gpu.allocate(self.alloc_id(), leader, comm, GpuProcessKind.GRAPHICS, mib)
                    self.gpu_changed(gpu.spec.index, f"{comm} started")
        else:
            leader = w.processes.next_pid  # a login shell: not a process of interest
            w.processes.next_pid += 1
        session = Session(session_id, user, uid, session_type, class_, "active", leader, True,
                          owner_unit, w.session_behaviour)
        w.logind.add(session)
        w.recorder.session(w.now_ns, session_id, "active")
        return session

    def close_sessions_of(self, unit: str) -> None:
        for session in list(self.w.logind.sessions.values()):
            if session.owner_unit == unit:
                self.close(session)

    def close(self, session: Session) -> None:
        w = self.w
        if session.state == "closing":
            return
        session.state = "closing"
        session.active = False
        w.logind.changed()
        w.recorder.session(w.now_ns, session.id, "closing")
        if not session.behaviour.never_exits:
            delay = seconds_to_ns(session.behaviour.exit_delay_s)
            w.scheduler.schedule(delay, SESSION_EXIT, {"session": session.id})

    def session_gone(self, session_id: str) -> None:
        w = self.w
        session = w.logind.remove(session_id)
        if session is None:
            return
        for process in w.processes.in_session(session_id):
            self.exit(process)
        w.recorder.session(w.now_ns, session_id, "gone")
        dm = w.policy.units.display_manager
        if session.owner_unit == dm and w.display.relogin and w.systemd.is_up(dm):
            delay = seconds_to_ns(w.display.autologin_delay_s)
            w.scheduler.schedule(delay, AUTOLOGIN, {"unit": dm})
        elif session.owner_unit == dm and w.display.greeter_on_logout and \
                w.systemd.state(dm) is ActiveState.DEACTIVATING and session.class_ != "greeter":
            greeter = self.open_session("greeter", "wayland", "greeter", owner_unit=dm,
                                        comm=w.display.greeter)
            w.recorder.world_change(w.now_ns, "greeter", {"session": greeter.id})

    def terminate_session(self, session_id: str) -> None:
        """logind's TerminateSession: `closing` now, gone after the session's exit delay."""
        self.close(self.w.logind.get(session_id))

    def owner_session(self) -> str:
        """The owner's graphical session that is not closing ("" when there is none)."""
        w = self.w
        for session in w.logind.sessions.values():
            if session.user == w.display.user and session.type in ("wayland", "x11") \
                    and session.state != "closing":
                return session.id
        return ""

    def console(self, text: str) -> None:
        """A line on the system console (kept with the notifications, marked as such)."""
        w = self.w
        w.notifications.append({"at_ns": w.now_ns, "summary": text, "body": "",
                                "console": True})
        w.recorder.notification(w.now_ns, text, "")

    def notify(self, summary: str, body: str) -> Delivery:
        """A notification reaches each graphical session's notification daemon (one a session)."""
        w = self.w
        w.notifications.append({"at_ns": w.now_ns, "summary": summary, "body": body})
        w.recorder.notification(w.now_ns, summary, body)
        sessions = [s for s in w.logind.facts() if s.graphical]
        return Delivery(len(sessions), len(sessions))

    # ================================================================= processes and GPUs

    @property
    def display_gpu(self) -> Gpu | None:
        gpus = self.w.gpus
        gpu = gpus.get(self.w.policy.hardware.display_gpu)
        if gpu is None and gpus:
            gpu = next(iter(gpus.values()))
        return gpu

    def alloc_id(self) -> int:
        """A fresh GPU allocation id."""
        self.next_alloc_id += 1
        return self.next_alloc_id - 1

    def exit(self, process: Process) -> None:
        """A process exits: its audio nodes go, its GPU memory follows each GPU's behaviour."""
        w = self.w
        w.processes.kill(process.pid)
        w.audio.remove_for_pid(process.pid)
        for gpu in w.gpus.values():
            if not any(a.pid == process.pid for a in gpu.allocations.values()):
                continue
            for alloc_id in gpu.process_exited(process.pid):
                delay = seconds_to_ns(gpu.release.delay_s)
                w.scheduler.schedule(delay, GPU_RELEASE,
                                     {"gpu": gpu.spec.index, "alloc": alloc_id})
            self.gpu_changed(gpu.spec.index, f"{process.comm} exited")

    def exit_pid(self, pid: int) -> None:
        process = self.w.processes.procs.get(pid)
        if process is not None:
            self.exit(process)

    def gpu_release(self, index: int, alloc_id: int) -> None:
        gpu = self.w.gpus.get(index)
        if gpu is not None and alloc_id in gpu.allocations:
            gpu.free(alloc_id)
            self.gpu_changed(index, "delayed release")

    def gpu_changed(self, index: int, why: str) -> None:
        w = self.w
        w.recorder.gpu_memory(w.now_ns, index, w.gpus[index].used_mib, why)
