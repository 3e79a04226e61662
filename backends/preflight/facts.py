"""What the preflight found: accelerators, CPU, memory and disk, as frozen values.

Built by `backends.preflight.read.gather()` (and by tests, directly); read by
`backends.preflight.decide` and rendered by `backends.preflight.cli`. Memory is the shared
`dubnium.facts.MemoryFact` (parsed by `backends.procfs.parse_meminfo`), NVML's GPUs are the
shared adapter's `backends.nvml.NvmlDevice`, and a fact that could not be read is the one
`dubnium.facts.Unavailable`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from backends.nvml import NvmlDevice
from dubnium.facts import MemoryFact, Unavailable

PCI_VENDOR_NVIDIA = "0x10de"
PCI_VENDOR_AMD = "0x1002"
PCI_VENDOR_INTEL = "0x8086"

# CPU flags worth printing (the full list is kept in the report).
NOTABLE_CPU_FLAGS: tuple[str, ...] = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw",
    "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve",
)


class Accelerator(StrEnum):
    """What a workload runs on. `rocm` and `mlx` exist in seed 004; on Linux they are refused."""

    CUDA = "cuda"
    ROCM = "rocm"
    MLX = "mlx"
    CPU = "cpu"


class GpuVendor(StrEnum):
    NVIDIA = "nvidia"
    AMD = "amd"
    INTEL = "intel"
    OTHER = "other"

    @classmethod
    def from_pci_id(cls, vendor_id: str) -> GpuVendor:
        return {
            PCI_VENDOR_NVIDIA: cls.NVIDIA,
            PCI_VENDOR_AMD: cls.AMD,
            PCI_VENDOR_INTEL: cls.INTEL,
        }.get(vendor_id.strip().lower(), cls.OTHER)


@attrs.frozen
class DrmGpu:
    """One `/sys/class/drm/cardN` device."""

    card: str
    vendor: GpuVendor
    vendor_id: str
    device_id: str | None
    driver: str | None
    pci_address: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "card": self.card,
            "vendor": self.vendor.value,
            "vendor_id": self.vendor_id,
            "device_id": self.device_id,
            "driver": self.driver,
            "pci_address": self.pci_address,
        }


@attrs.frozen
class NvidiaProcDriver:
    """`/proc/driver/nvidia`: present when the NVIDIA kernel module is loaded."""

    present: bool
    version: str | None = None
    gpus: tuple[str, ...] = ()  # "<pci address>: <model>" from gpus/*/information

    def to_json(self) -> dict[str, Any]:
        return {"present": self.present, "version": self.version, "gpus": list(self.gpus)}


@attrs.frozen
class NvmlReport:
    """What NVML said: GPUs, or why it could not be asked (error value and text)."""

    available: bool
    driver_version: str | None = None
    gpus: tuple[NvmlDevice, ...] = ()
    error_value: int | None = None
    error: str | None = None

    @classmethod
    def unavailable(cls, error: str, value: int | None = None) -> NvmlReport:
        return cls(available=False, error_value=value, error=error)

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "driver_version": self.driver_version,
            "gpus": [attrs.asdict(g) for g in self.gpus],
            "error_value": self.error_value,
            "error": self.error,
        }


@attrs.frozen
class CpuInfo:
    model: str
    logical_cpus: int
    flags: tuple[str, ...]  # sorted, every flag the kernel reported

    @classmethod
    def from_cpuinfo(cls, text: str) -> CpuInfo:
        """Parse /proc/cpuinfo (x86 `flags`, arm64 `Features`)."""
        model = ""
        count = 0
        flags: set[str] = set()
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key = key.strip()
            value = value.strip()
            if key == "processor":
                count += 1
            elif key in ("model name", "Model", "cpu model") and not model:
                model = value
            elif key in ("flags", "Features"):
                flags.update(value.split())
        return cls(model=model or "unknown", logical_cpus=count, flags=tuple(sorted(flags)))

    @property
    def notable_flags(self) -> tuple[str, ...]:
        present = set(self.flags)
        return tuple(f for f in NOTABLE_CPU_FLAGS if f in present)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "logical_cpus": self.logical_cpus,
            "notable_flags": list(self.notable_flags),
            "flags": list(self.flags),
        }


@attrs.frozen
class DiskInfo:
    """Free space for the model store, measured on `measured_at` (the store or its nearest
    existing parent: on a first start the store does not exist yet)."""

    model_store: str
    measured_at: str
    free_mib: int
    total_mib: int

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _fact_json(fact: CpuInfo | MemoryFact | DiskInfo | Unavailable, what: str) -> dict[str, Any]:
    """A fact's JSON; one that could not be read keeps the preflight's published form."""
    if isinstance(fact, Unavailable):
        return {"unreadable": what, "reason": fact.reason}
    if isinstance(fact, MemoryFact):
        return attrs.asdict(fact)
    return fact.to_json()


@attrs.frozen
class HardwareReport:
    drm_gpus: tuple[DrmGpu, ...]
    nvidia_driver: NvidiaProcDriver
    nvml: NvmlReport
    cpu: CpuInfo | Unavailable
    memory: MemoryFact | Unavailable
    disk: DiskInfo | Unavailable

    def gpus_of(self, vendor: GpuVendor) -> tuple[DrmGpu, ...]:
        return tuple(g for g in self.drm_gpus if g.vendor is vendor)

    @property
    def cuda_usable(self) -> bool:
        """NVML sees a GPU, or the kernel driver is loaded and an NVIDIA device exists."""
        if self.nvml.gpus:
            return True
        return self.nvidia_driver.present and bool(
            self.gpus_of(GpuVendor.NVIDIA) or self.nvidia_driver.gpus
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "drm_gpus": [g.to_json() for g in self.drm_gpus],
            "nvidia_driver": self.nvidia_driver.to_json(),
            "nvml": self.nvml.to_json(),
            "cpu": _fact_json(self.cpu, "cpu"),
            "memory": _fact_json(self.memory, "memory"),
            "disk": _fact_json(self.disk, "model store"),
        }
