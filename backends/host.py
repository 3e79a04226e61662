"""The live host: `HostBackend` implements `dubnium.backend.Backend` over real daemons.

Constructed by the CLI (`mode --backend host`, composition root) with only the policy: the
default system bus, /proc, and every session user's PipeWire. The test host
(`tests/host/testhost.py`) and the contract suite construct it with the namespace's bus
address and /proc, to observe a systemd booted in a PID+mount namespace from outside it.

It is a composition of one adapter per concern (systemd, logind, PipeWire, NVML, /proc,
notification), each of which translates its library's errors at its own edge; here each
group of evidence that could not be read is carried as `Unavailable(reason)`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from backends.bus import BusError, SystemBus
from backends.clock import RealClock
from backends.cpufreq import CpuFreqAdapter
from backends.gpucache import QuietGpus
from backends.logind import LogindAdapter
from backends.nvml import NvmlAdapter, NvmlUnavailable
from backends.pipewire import PipeWireAdapter
from backends.procfs import ProcFs
from backends.readiness import read_readiness
from backends.systemd import SystemdAdapter
from dubnium.backend import Clock, Delivery
from dubnium.errors import BackendError
from dubnium.facts import (
    HostFacts,
    SessionFact,
    SliceFact,
    SliceSettings,
    Unavailable,
    Units,
    VllmProfile,
)
from dubnium.fsutil import atomic_write, read_regular
from dubnium.output import one_line
from dubnium.policy import Policy
from dubnium.studiofacts import AudioReadiness, CpuFreq, CpuSetting

# Imported where used (lazy adapters): an observation needs neither the notifier, the idle
# reader nor the hardware preflight, and `mode current` starts faster without them.
if TYPE_CHECKING:
    from backends.notify import NotifyOutcome
    from dubnium.doctor import HardwareFindings
    from dubnium.idle import IdleFacts

_NAMESPACE_PROC = re.compile(r"^/proc/(\d+)/root/proc$")
_INDICES_KEY = "DUBNIUM_GPU_INDICES"


class HostBackend:
    """`dubnium.backend.Backend` on the live host."""

    def __init__(
        self,
        policy: Policy,
        *,
        system_bus: str | None = None,
        proc_root: Path = Path("/proc"),
        pipewire_runtime_dir: Path | None = None,
        clock: Clock | None = None,
        nvml: NvmlAdapter | None = None,
        sys_root: Path = Path("/sys"),
    ) -> None:
        self.policy = policy
        self._clock = clock or RealClock()
        self._bus = SystemBus(system_bus)
        self._systemd = SystemdAdapter(self._bus)
        self._logind = LogindAdapter(self._bus)
        self._proc = ProcFs(proc_root)
        match = _NAMESPACE_PROC.match(str(proc_root))
        prefix = ("nsenter", "-t", match.group(1), "-p", "-m", "--") if match else ()
        self._notify_prefix: tuple[str, ...] = prefix
        self._pipewire = PipeWireAdapter(
            runtime_dir=pipewire_runtime_dir, fs_root=self._proc.fs_root, command_prefix=prefix
        )
        self._nvml = nvml or NvmlAdapter()
        self._gpus = QuietGpus(
            self._nvml, self._proc.host_path(policy.paths.state_dir) / "gpu-facts.json"
        )
        self._sys_root = sys_root
        self._cpufreq = CpuFreqAdapter(sys_root)
        self.last_notifications: tuple[NotifyOutcome, ...] = ()
        self.console_path = str(Path(self._proc.fs_root) / "dev" / "console")

    @classmethod
    def for_namespace(cls, policy: Policy, pid: int, **kwargs: Any) -> HostBackend:
        """The host whose PID 1 is `pid` in our PID namespace (the test host)."""
        root = Path(f"/proc/{pid}/root")
        return cls(
            policy,
            system_bus=f"unix:path={root}/run/dbus/system_bus_socket",
            proc_root=root / "proc",
            **kwargs,
        )

    @property
    def name(self) -> str:
        return "host"

    @property
    def clock(self) -> Clock:
        return self._clock

    # ------------------------------------------------------------------ observation

    def observe(self) -> HostFacts:
        policy = self.policy
        audio_pending = self._pipewire.start()  # pw-dump runs while everything else is read
        units: Units | Unavailable
        slices: tuple[SliceFact, ...] | Unavailable
        try:
            units, slices = self._systemd.read(policy.units.all(), policy.slice_units())
        except BusError as exc:
            units = slices = Unavailable(f"systemd: {exc}")
        sessions: tuple[SessionFact, ...] | Unavailable
        try:
            sessions, uids = self._logind.read()
        except BusError as exc:
            sessions, uids = Unavailable(f"logind: {exc}"), {}
        leaders = (
            {} if isinstance(sessions, Unavailable) else {s.leader: s.id for s in sessions}
        )
        names = policy.processes
        interesting = (
            *names.compositor, *names.reaper, *names.jack, *policy.thresholds.user_job_names,
            *policy.idle.exclusive_apps,
        )
        session_uids = (
            [] if isinstance(sessions, Unavailable)
            else [uids[s.id] for s in sessions if s.state != "closing" and s.id in uids]
        )
        now_ns = self._clock.wall_ns()
        gpus, gpus_read_at = self._gpus.read(quiet=self.overlay_in_force(units), now_ns=now_ns)
        processes = self._proc.processes(interesting, leaders)
        boot_id, cpufreq = self._proc.boot_id(), self._cpufreq.read()
        load, memory, pressure = self._proc.load(), self._proc.memory(), self._proc.pressure()
        paths = self._proc.paths((policy.paths.state_dir, str(Path(policy.paths.audit_log).parent),
                                  policy.paths.model_store))
        profile = self._read_profile()
        model = self._proc.model(policy.vllm_model_path) if policy.vllm.enable else None
        audio = self._pipewire.finish(audio_pending, session_uids)  # collected last
        return HostFacts(
            observed_at_ns=now_ns, boot_id=boot_id, units=units, sessions=sessions,
            processes=processes, audio=audio, gpus=gpus, gpus_read_at_ns=gpus_read_at,
            audio_clock=self._pipewire.clock(policy.studio.audio_uid), cpufreq=cpufreq,
            load=load, memory=memory, pressure=pressure, slices=slices, paths=paths,
            vllm_profile=profile, model=model,
        )

    def idle_facts(self) -> IdleFacts:
        """logind's idle hints and inhibitor locks, the console's last key
        (`dubnium.idle.IdleSource`, read by `mode idle` and `mode doctor`)."""
        from backends.idle import LogindIdle

        return LogindIdle(self._bus, self._proc.fs_root).read()

    def overlay_in_force(self, units: Units | Unavailable) -> bool:
        """studio-local's markers are up (or unknown): NVML is left alone (issue 15)."""
        if isinstance(units, Unavailable):
            return False
        names = self.policy.units
        return units.is_active(names.studio_policy) or units.is_active(names.audio_priority)

    @property
    def nvml_reads(self) -> int:
        """How many times this backend asked NVML for GPU facts (tests count them)."""
        return self._gpus.nvml_reads

    # ------------------------------------------------------------------ actions

    def set_audio_clock(self, force_quantum: int, force_rate: int) -> None:
        self._pipewire.set_clock(self.policy.studio.audio_uid, force_quantum, force_rate)

    def set_cpu_policy(self, setting: CpuSetting) -> None:
        self._cpufreq.set(setting)

    def audio_readiness(self) -> AudioReadiness:
        uid = self.policy.studio.audio_uid
        freq = self._cpufreq.read()
        return read_readiness(
            proc_root=self._proc.proc_root, sys_root=self._sys_root, fs_root=self._proc.fs_root,
            uid=uid, user=self.policy.studio.audio_user,
            modules=self._pipewire.modules(uid),
            governors=None if not isinstance(freq, CpuFreq) else tuple(
                p.governor for p in freq.policies),
        )

    def start_unit(self, name: str) -> None:
        self._systemd.start(name)

    def stop_unit(self, name: str) -> None:
        self._systemd.stop(name)

    def isolate(self, target: str) -> None:
        self._systemd.isolate(target)

    def kill_unit(self, name: str) -> None:
        self._systemd.kill(name, int(signal.SIGKILL))

    def reset_failed(self, name: str) -> None:
        self._systemd.reset_failed(name)

    def console_message(self, text: str) -> None:
        """Write one line to the system console (`dubnium.output.one_line`: controls
        escaped, bounded); any error is swallowed (best effort)."""
        line = f"dubnium: {one_line(text)}\n".encode(errors="replace")
        with contextlib.suppress(OSError):
            fd = os.open(self.console_path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def set_slice_properties(self, slice_name: str, settings: SliceSettings) -> None:
        self._systemd.set_slice(slice_name, settings)

    def terminate_session(self, session_id: str) -> None:
        self._logind.terminate(session_id)

    def notify_user(self, summary: str, body: str) -> Delivery:
        try:
            sessions, _ = self._logind.read()
        except BusError as exc:
            self.last_notifications = ()
            return Delivery(0, 0, f"sessions unreadable: {exc}")
        from backends.notify import Notifier

        notifier = Notifier(fs_root=self._proc.fs_root, command_prefix=self._notify_prefix)
        outcomes = notifier.notify(sessions, summary, body)
        self.last_notifications = outcomes
        failed = [f"{o.user}: {o.detail}" for o in outcomes if not o.delivered]
        return Delivery(sum(o.delivered for o in outcomes), len(outcomes), "; ".join(failed))

    def write_vllm_profile(self, profile: VllmProfile) -> None:
        """Atomically (temp file, fsync, rename) write vLLM's EnvironmentFile."""
        self._write_profile(self.policy.vllm.profile_path, profile, "vLLM")

    def write_exo_profile(self, profile: VllmProfile) -> None:
        """Atomically write EXO's EnvironmentFile (read by exo.service in compute mode)."""
        self._write_profile(self.policy.exo.profile_path, profile, "EXO")

    def _write_profile(self, path: str, profile: VllmProfile, what: str) -> None:
        text = profile.to_env() + f"{_INDICES_KEY}={','.join(map(str, profile.gpu_indices))}\n"
        try:
            atomic_write(self._proc.host_path(path), text.encode())
        except OSError as exc:
            raise BackendError(f"cannot write the {what} profile {path}: {exc.strerror}") from None

    def _read_profile(self) -> VllmProfile | Unavailable | None:
        path = self._proc.host_path(self.policy.vllm.profile_path)
        try:  # a regular file only, never through a link: a FIFO there must not hang
            raw = read_regular(path, limit=64 * 1024)
            if raw is None:
                return None
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            return Unavailable(f"vLLM profile {self.policy.vllm.profile_path}: {why}")
        return parse_profile(text, self.policy.vllm.profile_path)

    # ------------------------------------------------------------------ doctor

    def hardware_findings(self, facts: HostFacts) -> HardwareFindings:
        """The hardware preflight (`backends.preflight`) on this host, for `mode doctor`
        (`dubnium.doctor.HardwareProbe`); NVML is left alone while studio-local is in force."""
        from backends.preflight import doctor as preflight_doctor

        return preflight_doctor.findings(
            self.policy,
            sys_root=self._sys_root,
            proc_root=self._proc.proc_root,
            model_store=self._proc.host_path(self.policy.paths.model_store),
            nvml=None if self.overlay_in_force(facts.units) else self._nvml,
        )

    def describe(self) -> Mapping[str, object]:
        facts = self.observe()
        missing = facts.unavailable()
        groups = [f.name for f in attrs.fields(HostFacts) if f.name not in ("observed_at_ns",)]
        versions: dict[str, str] = {}
        try:
            versions["systemd"] = self._systemd.version()
        except BusError as exc:
            versions["systemd"] = f"unknown ({exc})"
        versions.update(self._pipewire.versions())
        if self.overlay_in_force(facts.units):
            versions["nvidia_driver"] = "not read: studio-local is in force (NVML left alone)"
        else:
            try:
                info = self._nvml.info()
                versions["nvidia_driver"] = info.driver_version
                versions["nvml"] = info.nvml_version
            except NvmlUnavailable as exc:
                versions["nvidia_driver"] = f"unavailable ({exc.reason})"
        return {
            "backend": self.name,
            "observable": [g for g in groups if g not in missing],
            "unavailable": missing,
            "versions": versions,
            "gpu_topology": gpu_topology(self.policy, facts),
            "sources": {
                "system_bus": self._bus.address or "default system bus",
                "proc_root": str(self._proc.proc_root),
                "pipewire": "per session user: /run/user/<uid>/pipewire-0",
            },
        }


def parse_profile(text: str, where: str) -> VllmProfile | Unavailable:
    """The profile written by `write_vllm_profile` (an EnvironmentFile) read back."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    name = values.get("DUBNIUM_VLLM_PROFILE")
    if not name:
        return Unavailable(f"vLLM profile {where}: no DUBNIUM_VLLM_PROFILE")
    uuids = tuple(u for u in values.get("CUDA_VISIBLE_DEVICES", "").split(",") if u)
    try:
        indices = tuple(int(i) for i in values.get(_INDICES_KEY, "").split(",") if i)
    except ValueError:
        return Unavailable(f"vLLM profile {where}: malformed {_INDICES_KEY}")
    return VllmProfile(name=name, gpu_uuids=uuids, gpu_indices=indices)


def gpu_topology(policy: Policy, facts: HostFacts) -> dict[str, object]:
    """The GPUs NVML sees against `policy.hardware` (for `mode doctor`)."""
    hw = policy.hardware
    configured = {
        "present_gpus": list(hw.present_gpus),
        "display_gpu": hw.display_gpu,
        "compute_gpus": list(hw.compute_gpus),
        "planned_gpu_count": hw.planned_gpu_count,
    }
    if isinstance(facts.gpus, Unavailable):
        return {"configured": configured, "seen": None, "matches": None,
                "problems": [f"GPUs not observable: {facts.gpus.reason}"]}
    seen = [
        {"index": g.index, "uuid": g.uuid, "name": g.name, "memory_total_mib": g.memory_total_mib}
        for g in facts.gpus
    ]
    indices = {g.index for g in facts.gpus}
    problems = [f"configured GPU {i} not seen" for i in hw.present_gpus if i not in indices]
    problems += [f"GPU {i} seen but not configured" for i in sorted(indices)
                 if i not in hw.present_gpus]
    return {"configured": configured, "seen": seen, "matches": not problems,
            "problems": problems}
