"""GPU facts that leave NVML alone while studio-local is in force (issue 15).

Called by `backends.host.HostBackend.observe()`. NVML reads are reported to stall CPU cores
for milliseconds and to cause PipeWire xruns (NVIDIA open-gpu-kernel-modules#1248, #953;
htop#1954), so while the overlay's marker units are active the observer serves the last
reading, marked with its wall time (`HostFacts.gpus_read_at_ns`), from a small file in the
state directory; a fresh reading (any other time) refreshes that file. The transitions
that need fresh GPU facts (the release wait of desktop -> compute) run after the overlay
is stopped, so they read NVML again. Writing the file is best effort: a reader without
root (`mode status`) cannot, and does not need to.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Protocol

from dubnium.facts import GpuFact, GpuProcess, GpuProcessKind, Unavailable
from dubnium.fsutil import atomic_write

SCHEMA_VERSION = 1
REFRESH_NS = 30 * 10**9  # an unchanged reading is rewritten at most this often


class GpuReader(Protocol):
    def read(self) -> tuple[GpuFact, ...] | Unavailable: ...


class QuietGpus:
    """NVML when allowed, else the last reading from `path`."""

    def __init__(self, nvml: GpuReader, path: Path) -> None:
        self._nvml = nvml
        self._path = path
        self.nvml_reads = 0  # how many times NVML was asked (tests count them)

    def read(self, *, quiet: bool, now_ns: int) -> tuple[tuple[GpuFact, ...] | Unavailable,
                                                       int | None]:
        """(GPU facts, the wall time of their reading or None when read now)."""
        if quiet:
            cached = self._load()
            if cached is None:
                return Unavailable("not read while studio-local is in force (NVML is left "
                                   "alone) and no earlier reading is kept"), None
            return cached
        self.nvml_reads += 1
        gpus = self._nvml.read()
        if not isinstance(gpus, Unavailable):
            self._store(gpus, now_ns)
        return gpus, None

    def _load(self) -> tuple[tuple[GpuFact, ...], int] | None:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            if data.get("schema_version") != SCHEMA_VERSION:
                return None
            return tuple(_gpu(g) for g in data["gpus"]), int(data["read_at_ns"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _store(self, gpus: tuple[GpuFact, ...], now_ns: int) -> None:
        body = [_gpu_json(g) for g in gpus]
        with contextlib.suppress(OSError, ValueError):
            old = json.loads(self._path.read_text(encoding="utf-8"))
            if old.get("gpus") == body and now_ns - int(old["read_at_ns"]) < REFRESH_NS:
                return
        data = {"schema_version": SCHEMA_VERSION, "read_at_ns": now_ns, "gpus": body}
        with contextlib.suppress(OSError):
            atomic_write(self._path, json.dumps(data).encode(), 0o644)


def _gpu_json(gpu: GpuFact) -> dict[str, Any]:
    return {
        "index": gpu.index, "uuid": gpu.uuid, "name": gpu.name,
        "memory_used_mib": gpu.memory_used_mib, "memory_total_mib": gpu.memory_total_mib,
        "utilization_pct": gpu.utilization_pct,
        "processes": [{"pid": p.pid, "name": p.name, "kind": p.kind.value,
                       "used_mib": p.used_mib} for p in gpu.processes],
    }


def _gpu(data: dict[str, Any]) -> GpuFact:
    return GpuFact(
        index=int(data["index"]), uuid=str(data["uuid"]), name=str(data["name"]),
        memory_used_mib=int(data["memory_used_mib"]),
        memory_total_mib=int(data["memory_total_mib"]),
        utilization_pct=None if data["utilization_pct"] is None else int(data["utilization_pct"]),
        processes=tuple(
            GpuProcess(int(p["pid"]), str(p["name"]), GpuProcessKind(p["kind"]),
                       None if p["used_mib"] is None else int(p["used_mib"]))
            for p in data["processes"]
        ),
    )
