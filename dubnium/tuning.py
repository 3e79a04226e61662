"""The studio-local tuning as values: what is forced, what was saved, what the contract needs.

Pure. Used by the observer (`dubnium.observe`: the studio-local contract's terms for the
forced PipeWire clock and the cpufreq governor), by the studio steps of the reconciler
(`dubnium.studio`, which reads and writes the saved snapshot through the runtime state) and
by the CLI (`mode status`: xruns since entry). The audio units' CPU and IO weights are not
here: they ride on the slice snapshot (`Policy.slices`), saved, verified and restored with
the slices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dubnium.facts import HostFacts, Unavailable
from dubnium.policy import Policy
from dubnium.studiofacts import AudioClock, CpuFreq, CpuSetting

SAVED_TUNING = "studio-saved-tuning.json"
SCHEMA_VERSION = 1


@attrs.frozen
class Tuning:
    """What was in force before studio-local changed it, and the xrun count at entry.

    `force_quantum`/`force_rate` None: PipeWire's clock was not touched (policy leaves it,
    or the audio user had no PipeWire); `cpu` empty: no governor was touched.
    """

    force_quantum: int | None
    force_rate: int | None
    cpu: tuple[CpuSetting, ...]
    xruns: int | None
    saved_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "force_quantum": self.force_quantum,
            "force_rate": self.force_rate,
            "cpu": [c.to_json() for c in self.cpu],
            "xruns": self.xruns,
            "saved_at": self.saved_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tuning:
        """ValueError/KeyError/TypeError on a wrong shape (the caller says state corrupt)."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema_version {data.get('schema_version')!r}, expected "
                             f"{SCHEMA_VERSION}")
        values = {}
        for key in ("force_quantum", "force_rate", "xruns"):
            value = data[key]
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"{key}: expected an integer or null, got {value!r}")
            values[key] = value
        return cls(
            force_quantum=values["force_quantum"],
            force_rate=values["force_rate"],
            cpu=tuple(CpuSetting.from_json(c) for c in data["cpu"]),
            xruns=values["xruns"],
            saved_at=str(data["saved_at"]),
        )


def wanted_cpu(policy: Policy, freq: CpuFreq) -> tuple[CpuSetting, ...]:
    """The cpufreq settings studio-local wants (none when policy leaves the governor)."""
    studio = policy.studio
    if studio.governor is None:
        return ()
    return tuple(CpuSetting(p.name, studio.governor, studio.epp if p.epp is not None else None)
                 for p in freq.policies)


def in_force(clock: AudioClock | None, freq: CpuFreq | None, policy: Policy) -> bool:
    """The studio tuning is in force on these readings (what re-applying would not change)."""
    return not missing_terms(clock, freq, policy)


def missing_terms(clock: AudioClock | None, freq: CpuFreq | None, policy: Policy) -> list[str]:
    """The studio-local contract's tuning terms that the readings do not show."""
    studio = policy.studio
    out: list[str] = []
    if studio.quantum is not None or studio.rate is not None:
        if clock is None:
            out.append(f"no PipeWire of uid {studio.audio_uid} to force the clock of")
        else:
            if studio.quantum is not None and clock.force_quantum != studio.quantum:
                out.append(f"PipeWire clock.force-quantum is {clock.force_quantum}, not "
                           f"{studio.quantum}")
            elif (studio.quantum is not None and clock.driver_quantum is not None
                  and clock.driver_quantum != studio.quantum):
                out.append(f"the driver {clock.driver} runs quantum {clock.driver_quantum}, "
                           f"not {studio.quantum}")
            if studio.rate is not None and clock.force_rate != studio.rate:
                out.append(f"PipeWire clock.force-rate is {clock.force_rate}, not {studio.rate}")
    if studio.governor is not None and freq is not None:
        wrong = [p.name for p in freq.policies if p.governor != studio.governor]
        if wrong:
            out.append(f"cpufreq governor not {studio.governor} on {', '.join(wrong)}")
    return out


def contract_terms(facts: HostFacts, policy: Policy) -> tuple[list[str], str | None]:
    """(missing terms, why it cannot be told) for the observer's studio-local contract."""
    clock, freq = facts.audio_clock, facts.cpufreq
    if isinstance(clock, Unavailable):
        return [], f"PipeWire clock unreadable: {clock.reason}"
    if isinstance(freq, Unavailable):
        return [], f"cpufreq unreadable: {freq.reason}"
    return missing_terms(clock, freq, policy), None


def clock_leftover(facts: HostFacts, policy: Policy) -> str | None:
    """PipeWire's clock still forced to exactly the studio-local quantum without the overlay
    (the slices' twin is the desktop contract's slice term); None when it is not."""
    clock = facts.audio_clock
    quantum = policy.studio.quantum
    if isinstance(clock, AudioClock) and quantum is not None and clock.force_quantum == quantum:
        return f"PipeWire clock.force-quantum left at the studio-local {quantum}"
    return None


def describe_in_force(facts: HostFacts, policy: Policy) -> str:
    """What the studio tuning looks like when it holds (for the contract's evidence)."""
    studio, parts = policy.studio, []
    clock = facts.audio_clock
    if isinstance(clock, AudioClock) and (studio.quantum or studio.rate):
        parts.append(f"clock.force-quantum={clock.force_quantum} clock.force-rate="
                     f"{clock.force_rate}" + (f" (driver {clock.driver})" if clock.driver else ""))
    freq = facts.cpufreq
    if studio.governor is not None and isinstance(freq, CpuFreq):
        parts.append(f"governor {studio.governor} on {len(freq.policies)} cpufreq policies"
                     if freq.present else "no cpufreq on this machine")
    return "; ".join(parts) or "nothing to tune"


def xruns_since(saved: Tuning | None, clock: AudioClock | Unavailable | None) -> int | None:
    """xruns counted since studio-local was entered; None when either count is unknown."""
    if saved is None or saved.xruns is None or not isinstance(clock, AudioClock):
        return None
    if clock.xruns is None:
        return None
    return max(0, clock.xruns - saved.xruns)
