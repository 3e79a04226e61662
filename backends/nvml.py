"""NVML through nvidia-ml-py: per-GPU UUID, memory, graphics/compute processes, utilisation.

Called by `backends.host.HostBackend` (observe, describe) and by the hardware preflight
(`backends.preflight.read`, `inventory()`). Every read is one `nvmlInit` … `nvmlShutdown`
bracket (`_session()`, the adapter's edge): any `NVMLError` becomes `Unavailable` with NVML's
error value and text (no driver: value 12, "NVML Shared Library Not Found"); so does a
missing nvidia-ml-py. A per-device detail NVML does not support (utilisation on some boards,
per-process memory) is recorded as None, not as a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import attrs

from dubnium.facts import GpuFact, GpuProcess, GpuProcessKind, Unavailable

T = TypeVar("T")
_MIB = 1 << 20


class NvmlUnavailable(Exception):
    """NVML could not be used; `reason` says why, with NVML's error value. `value` and `text`
    are NVML's error value (None: not an NVML error) and its text, apart."""

    def __init__(self, text: str, value: int | None = None) -> None:
        self.reason = text if value is None else f"NVML error {value}: {text}"
        super().__init__(self.reason)
        self.text = text
        self.value = value

    @classmethod
    def from_nvml(cls, exc: Any) -> NvmlUnavailable:
        value = getattr(exc, "value", None)
        return cls(str(exc), None if value is None else int(value))


def _pynvml() -> Any:
    """nvidia-ml-py, imported at the first GPU read (not by `mode current` from its cache,
    nor by the verbs that read no GPU)."""
    import pynvml

    return pynvml


@contextmanager
def _session() -> Iterator[Any]:
    """nvmlInit … nvmlShutdown, yielding pynvml; NVMLError (and a missing nvidia-ml-py)
    becomes NvmlUnavailable (the adapter's edge)."""
    try:
        pynvml = _pynvml()
    except ImportError:
        raise NvmlUnavailable("nvidia-ml-py is not installed (module pynvml)") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable.from_nvml(exc) from None
    try:
        yield pynvml
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable.from_nvml(exc) from None
    finally:
        with suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


@attrs.frozen
class NvmlInfo:
    driver_version: str
    nvml_version: str
    gpus: tuple[GpuFact, ...]


@attrs.frozen
class NvmlDevice:
    """One GPU as an inventory lists it: identity and memory size, no processes."""

    index: int
    uuid: str
    name: str
    memory_total_mib: int


@attrs.frozen
class NvmlInventory:
    driver_version: str
    devices: tuple[NvmlDevice, ...]


class NvmlAdapter:
    """The NVIDIA GPUs of this host, as NVML sees them."""

    def read(self) -> tuple[GpuFact, ...] | Unavailable:
        try:
            return self.info().gpus
        except NvmlUnavailable as exc:
            return Unavailable(exc.reason)

    def info(self) -> NvmlInfo:
        """Driver version and every GPU. Raises NvmlUnavailable."""
        with _session() as pynvml:
            driver = _str(pynvml.nvmlSystemGetDriverVersion())
            version = _str(pynvml.nvmlSystemGetNVMLVersion())
            count = pynvml.nvmlDeviceGetCount()
            gpus = tuple(_gpu(i) for i in range(count))
        return NvmlInfo(driver, version, gpus)

    def inventory(self) -> NvmlInventory:
        """Driver version and each GPU's UUID, name and memory size, without the process
        lists (which some boards do not support). Raises NvmlUnavailable."""
        with _session() as pynvml:
            driver = _str(pynvml.nvmlSystemGetDriverVersion())
            devices = []
            for index in range(int(pynvml.nvmlDeviceGetCount())):
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                devices.append(NvmlDevice(
                    index=index,
                    uuid=_str(pynvml.nvmlDeviceGetUUID(handle)),
                    name=_str(pynvml.nvmlDeviceGetName(handle)),
                    memory_total_mib=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total) // _MIB,
                ))
        return NvmlInventory(driver, tuple(devices))


def _gpu(index: int) -> GpuFact:
    pynvml = _pynvml()
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    processes = _processes(
        handle, pynvml.nvmlDeviceGetGraphicsRunningProcesses, GpuProcessKind.GRAPHICS
    ) + _processes(handle, pynvml.nvmlDeviceGetComputeRunningProcesses, GpuProcessKind.COMPUTE)
    utilization = _optional(lambda: int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu))
    return GpuFact(
        index=index,
        uuid=_str(pynvml.nvmlDeviceGetUUID(handle)),
        name=_str(pynvml.nvmlDeviceGetName(handle)),
        memory_used_mib=int(memory.used) // _MIB,
        memory_total_mib=int(memory.total) // _MIB,
        processes=processes,
        utilization_pct=utilization,
    )


def _processes(
    handle: Any, fetch: Callable[[Any], list[Any]], kind: GpuProcessKind
) -> tuple[GpuProcess, ...]:
    out = []
    for proc in fetch(handle):
        used = getattr(proc, "usedGpuMemory", None)
        out.append(
            GpuProcess(
                pid=int(proc.pid),
                name=_process_name(int(proc.pid)),
                kind=kind,
                used_mib=None if used is None else int(used) // _MIB,
            )
        )
    return tuple(out)


def _process_name(pid: int) -> str:
    pynvml = _pynvml()
    try:
        return _str(pynvml.nvmlSystemGetProcessName(pid))
    except pynvml.NVMLError:
        return ""


def _optional(read: Callable[[], T]) -> T | None:
    pynvml = _pynvml()
    try:
        return read()
    except pynvml.NVMLError_NotSupported:
        return None


def _str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
