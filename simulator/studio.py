"""The simulated studio-local knobs: PipeWire's clock settings, cpufreq, NVML reads, readiness.

Owned by `simulator.world.World` (`world.studio`); read by `SimBackend.observe()` as the
same `AudioClock` and `CpuFreq` values the real backend builds from pw-dump and sysfs, and
set by `SimBackend.set_audio_clock` / `set_cpu_policy` (through the world's action faults,
so a set can fail, time out or be ignored like any other action). It also counts NVML
reads (the real backend's NVML calls) so tests and invariants can check that nothing reads
NVML while studio-local is in force, and models the xruns such a read causes in a running
audio graph (the reason for leaving NVML alone: NVIDIA open-gpu-kernel-modules#1248).
"""

from __future__ import annotations

from typing import Any

import attrs

from dubnium.facts import GpuFact, Unavailable
from dubnium.studiofacts import AudioClock, AudioReadiness, CpuFreq, CpuPolicy, CpuSetting
from simulator import jsonutil

GOVERNORS = ("performance", "powersave")
EPPS = ("default", "performance", "balance_performance", "balance_power", "power")


@attrs.define
class StudioModel:
    """The knobs of one simulated machine; plain data, persisted with the world."""

    force_quantum: int = 0
    force_rate: int = 0
    quantum: int = 1024
    rate: int = 48000
    xruns: int = 0
    cpufreq: bool = True  # False: a machine without cpufreq (a VM)
    governors: dict[str, str] = attrs.field(factory=lambda: {
        f"policy{i}": "powersave" for i in range(4)})
    epps: dict[str, str] = attrs.field(factory=lambda: {
        f"policy{i}": "balance_performance" for i in range(4)})
    nvml_reads: int = 0
    gpu_cache: tuple[tuple[GpuFact, ...], int] | None = None  # last reading, its time
    readiness: AudioReadiness = attrs.field(factory=lambda: AudioReadiness(
        audio_user="owner", rtprio_limit=95, memlock_unlimited=True, pipewire_rt_module=True,
        kernel_cmdline="threadirqs", preempt="PREEMPT_DYNAMIC", swappiness=10,
        clocksource="tsc", high_res_timers=True, audio_group_member=True,
    ))
    # The last readings and what they were read from (not state: never saved or compared).
    _clock: tuple[tuple[object, ...], AudioClock] | None = attrs.field(
        default=None, init=False, eq=False, repr=False)
    _cpu: tuple[tuple[object, ...], CpuFreq] | None = attrs.field(
        default=None, init=False, eq=False, repr=False)

    # ------------------------------------------------------------------ reading

    def clock(self, driver: str) -> AudioClock:
        key = (self.force_quantum, self.force_rate, self.quantum, self.rate, driver,
               self.xruns)
        if self._clock is None or self._clock[0] != key:  # the same reading, built once
            self._clock = (key, AudioClock(
                force_quantum=self.force_quantum, force_rate=self.force_rate,
                quantum=self.quantum, rate=self.rate, driver=driver,
                driver_quantum=(self.force_quantum or self.quantum) if driver else None,
                xruns=self.xruns))
        return self._clock[1]

    def cpu(self) -> CpuFreq:
        key = (self.cpufreq, tuple(self.governors.items()), tuple(self.epps.items()))
        if self._cpu is not None and self._cpu[0] == key:  # the same reading, built once
            return self._cpu[1]
        cpu = CpuFreq(()) if not self.cpufreq else CpuFreq(tuple(
            CpuPolicy(name, governor, self.epps.get(name), GOVERNORS)
            for name, governor in sorted(self.governors.items())
        ))
        self._cpu = (key, cpu)
        return cpu

    def audio_readiness(self) -> AudioReadiness:
        governors = tuple(self.governors[n] for n in sorted(self.governors)) if self.cpufreq else ()
        return attrs.evolve(self.readiness, governors=governors)

    def gpus(self, quiet: bool, read: tuple[GpuFact, ...], now_ns: int, audio_running: bool,
             count: bool = True) -> tuple[tuple[GpuFact, ...] | Unavailable, int | None]:
        """NVML as the real backend uses it: left alone when `quiet` (the last reading).

        `count` False: an outside look (the invariants), which is not an NVML read.
        """
        if not count and not quiet:
            return read, None
        if quiet:
            if self.gpu_cache is None:
                return Unavailable("not read while studio-local is in force (NVML is left "
                                   "alone) and no earlier reading is kept"), None
            return self.gpu_cache
        self.nvml_reads += 1
        if audio_running:
            self.xruns += 1  # what an NVML read does to a low-latency graph (modelled)
        self.gpu_cache = (read, now_ns)
        return read, None

    # ------------------------------------------------------------------ acting

    def set_clock(self, force_quantum: int, force_rate: int) -> None:
        self.force_quantum = force_quantum
        self.force_rate = force_rate

    def set_cpu(self, setting: CpuSetting) -> None:
        if not self.cpufreq or setting.policy not in self.governors:
            raise ValueError(f"cpufreq: no policy {setting.policy}")
        if setting.governor not in GOVERNORS:
            raise ValueError(f"cpufreq: governor {setting.governor!r} not available")
        self.governors[setting.policy] = setting.governor
        if setting.epp is not None:
            if setting.epp not in EPPS:
                raise ValueError(f"cpufreq: EPP {setting.epp!r} not available")
            self.epps[setting.policy] = setting.epp

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "force_quantum": self.force_quantum, "force_rate": self.force_rate,
            "quantum": self.quantum, "rate": self.rate, "xruns": self.xruns,
            "cpufreq": self.cpufreq, "governors": dict(self.governors), "epps": dict(self.epps),
            "nvml_reads": self.nvml_reads,
            "gpu_cache": None if self.gpu_cache is None else {
                "gpus": [jsonutil.to_json(g) for g in self.gpu_cache[0]],
                "read_at_ns": self.gpu_cache[1]},
            "readiness": jsonutil.to_json(self.readiness),
        }

    @classmethod
    def from_json(cls, data: Any) -> StudioModel:
        cache = data["gpu_cache"]
        return cls(
            force_quantum=int(data["force_quantum"]), force_rate=int(data["force_rate"]),
            quantum=int(data["quantum"]), rate=int(data["rate"]), xruns=int(data["xruns"]),
            cpufreq=bool(data["cpufreq"]),
            governors={str(k): str(v) for k, v in data["governors"].items()},
            epps={str(k): str(v) for k, v in data["epps"].items()},
            nvml_reads=int(data["nvml_reads"]),
            gpu_cache=None if cache is None else (
                tuple(jsonutil.from_json(GpuFact, g) for g in cache["gpus"]),
                int(cache["read_at_ns"])),
            readiness=jsonutil.from_json(AudioReadiness, data["readiness"]),
        )
