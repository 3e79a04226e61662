"""Frozen facts of the studio-local knobs: PipeWire's clock settings, cpufreq, readiness.

Read by the backends (`backends.pipewire`, `backends.cpufreq`, `backends.readiness` on the
live host; `simulator.studio` in the simulated one) into `HostFacts.audio_clock` and
`HostFacts.cpufreq`; read by the observer (the studio-local contract), the studio steps of
the reconciler (`dubnium.studio`) and the readiness report (`dubnium.readiness`). Raw
outside data becomes an object here (`AudioClock.from_pw_dump`), once, at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

# The keys of PipeWire's `settings` metadata (pw-metadata -n settings) that Dubnium reads.
FORCE_QUANTUM = "clock.force-quantum"
FORCE_RATE = "clock.force-rate"
QUANTUM = "clock.quantum"
RATE = "clock.rate"


@attrs.frozen
class AudioClock:
    """PipeWire's clock as the daemon holds it, read back with pw-dump (not the setter's word).

    `force_quantum`/`force_rate` are the `settings` metadata entries (0: not forced);
    `quantum`/`rate` the configured defaults; `driver` the name of the driver node that runs
    the graph ("" when none runs); `driver_quantum` the driver's own quantum where the
    daemon exposes it (None where it does not: PipeWire 0.3.65's pw-dump has no per-driver
    quantum); `xruns` the xrun count where it is exposed (None: not exposed).
    """

    force_quantum: int = 0
    force_rate: int = 0
    quantum: int | None = None
    rate: int | None = None
    driver: str = ""
    driver_quantum: int | None = None
    xruns: int | None = None

    @property
    def effective_quantum(self) -> int | None:
        """The quantum the graph runs with: the driver's where known, else the forced one."""
        if self.driver_quantum is not None:
            return self.driver_quantum
        return self.force_quantum or self.quantum

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_pw_dump(cls, objects: Iterable[Mapping[str, Any]]) -> AudioClock | None:
        """From the JSON array of `pw-dump -N`; None when it has no `settings` metadata."""
        settings: dict[str, object] | None = None
        driver = ""
        driver_quantum: int | None = None
        for obj in objects:
            if not isinstance(obj, Mapping):
                continue
            kind = obj.get("type", "")
            props = obj.get("props") if isinstance(obj.get("props"), Mapping) else {}
            if kind == "PipeWire:Interface:Metadata" and (
                isinstance(props, Mapping) and props.get("metadata.name") == "settings"
            ):
                settings = {}
                for entry in obj.get("metadata") or ():
                    if isinstance(entry, Mapping) and entry.get("subject") == 0:
                        settings[str(entry.get("key"))] = entry.get("value")
            elif kind == "PipeWire:Interface:Node":
                info = obj.get("info") or {}
                node_props = info.get("props") if isinstance(info, Mapping) else None
                if (isinstance(node_props, Mapping) and node_props.get("node.driver") is True
                        and info.get("state") == "running" and not driver):
                    driver = str(node_props.get("node.name") or "")
                    driver_quantum = _optional_int(node_props.get("clock.quantum"))
        if settings is None:
            return None
        return cls(
            force_quantum=_optional_int(settings.get(FORCE_QUANTUM)) or 0,
            force_rate=_optional_int(settings.get(FORCE_RATE)) or 0,
            quantum=_optional_int(settings.get(QUANTUM)),
            rate=_optional_int(settings.get(RATE)),
            driver=driver,
            driver_quantum=driver_quantum,
        )


def _optional_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


@attrs.frozen
class CpuPolicy:
    """One cpufreq policy (/sys/devices/system/cpu/cpufreq/policyN)."""

    name: str  # policy0, policy1, ...
    governor: str
    epp: str | None = None  # energy_performance_preference; None where the driver has none
    available_governors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "governor": self.governor, "epp": self.epp,
                "available_governors": list(self.available_governors)}


@attrs.frozen
class CpuFreq:
    """Every cpufreq policy of the machine; none at all on a machine without cpufreq."""

    policies: tuple[CpuPolicy, ...] = ()

    @property
    def present(self) -> bool:
        return bool(self.policies)

    def governors(self) -> dict[str, str]:
        return {p.name: p.governor for p in self.policies}

    def to_json(self) -> dict[str, Any]:
        return {"policies": [p.to_json() for p in self.policies]}


@attrs.frozen
class CpuSetting:
    """What one cpufreq policy is set to (and what it is restored to)."""

    policy: str
    governor: str
    epp: str | None = None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CpuSetting:
        policy, governor, epp = data["policy"], data["governor"], data.get("epp")
        if not isinstance(policy, str) or not isinstance(governor, str):
            raise ValueError("cpu setting: policy and governor must be strings")
        if epp is not None and not isinstance(epp, str):
            raise ValueError("cpu setting: epp must be a string or null")
        return cls(policy, governor, epp)


@attrs.frozen
class AudioReadiness:
    """What the readiness report (`mode doctor --audio`) reads; None where unreadable.

    Gathered by `Backend.audio_readiness()`: from the audio user's running PipeWire
    (its RLIMIT_RTPRIO, its rtprio, whether the RT module is loaded), the kernel command
    line, cpufreq, vm.swappiness, the clocksource and high-resolution timers, the groups.
    """

    audio_user: str = ""
    rtprio_limit: int | None = None  # soft RLIMIT_RTPRIO of the audio user's PipeWire
    memlock_unlimited: bool | None = None
    pipewire_rt_module: bool | None = None  # libpipewire-module-rt loaded
    kernel_cmdline: str | None = None
    preempt: str | None = None  # "PREEMPT_RT", "PREEMPT", "PREEMPT_DYNAMIC", ... from uname
    governors: tuple[str, ...] | None = None  # () when the machine has no cpufreq
    swappiness: int | None = None
    clocksource: str | None = None
    high_res_timers: bool | None = None
    audio_group_member: bool | None = None

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["governors"] = None if self.governors is None else list(self.governors)
        return data
