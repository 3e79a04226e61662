"""cpufreq through sysfs: each policy's governor and energy-performance preference.

Called by `backends.host.HostBackend` (observe, set_cpu_policy, audio_readiness). Reads
`<sys>/devices/system/cpu/cpufreq/policy*/{scaling_governor,
scaling_available_governors, energy_performance_preference}`; a machine without cpufreq
(a VM, this CI machine) has no policy directories and reads as `CpuFreq(())`, which the
studio steps report as "no cpufreq" rather than a failure. Writes go to the same files;
an OSError becomes BackendError here, the adapter's edge.
"""

from __future__ import annotations

from pathlib import Path

from dubnium.errors import BackendError
from dubnium.facts import Unavailable
from dubnium.studiofacts import CpuFreq, CpuPolicy, CpuSetting

GOVERNOR = "scaling_governor"
AVAILABLE = "scaling_available_governors"
EPP = "energy_performance_preference"


class CpuFreqAdapter:
    """The cpufreq policies under one sysfs root."""

    def __init__(self, sys_root: Path = Path("/sys")) -> None:
        self._base = sys_root / "devices" / "system" / "cpu" / "cpufreq"

    def read(self) -> CpuFreq | Unavailable:
        try:
            dirs = sorted((d for d in self._base.glob("policy*") if d.is_dir()),
                          key=lambda d: (len(d.name), d.name))
        except OSError as exc:
            return Unavailable(f"cpufreq {self._base}: {exc.strerror}")
        policies = []
        for directory in dirs:
            try:
                governor = (directory / GOVERNOR).read_text().strip()
                available = tuple((directory / AVAILABLE).read_text().split()) if (
                    directory / AVAILABLE).exists() else ()
                epp_path = directory / EPP
                epp = epp_path.read_text().strip() if epp_path.exists() else None
            except OSError as exc:
                return Unavailable(f"cpufreq {directory}: {exc.strerror}")
            policies.append(CpuPolicy(directory.name, governor, epp, available))
        return CpuFreq(tuple(policies))

    def set(self, setting: CpuSetting) -> None:
        directory = self._base / setting.policy
        if not directory.is_dir():
            raise BackendError(f"cpufreq: no policy {setting.policy} at {self._base}")
        writes = [(GOVERNOR, setting.governor)]
        if setting.epp is not None:
            # EPP can only be changed under a governor that lets it (intel_pstate refuses
            # it under `performance`, where it is implied): governor first when leaving
            # performance, EPP first when entering it.
            writes = ([(EPP, setting.epp), (GOVERNOR, setting.governor)]
                      if setting.governor == "performance"
                      else [(GOVERNOR, setting.governor), (EPP, setting.epp)])
        for name, value in writes:
            try:
                (directory / name).write_text(value)
            except OSError as exc:
                if name == EPP and setting.governor == "performance":
                    continue  # implied by the performance governor where refused
                raise BackendError(
                    f"cpufreq: cannot write {value!r} to {directory / name}: {exc.strerror}"
                ) from None
