"""The simulated NVIDIA GPUs: memory allocations and what happens to them when a process exits.

Owned by `simulator.world.World`; read by `SimBackend.observe()` as `GpuFact`s. The display
GPU's memory release after the compositor exits is data, a `GpuReleaseBehaviour`: immediate,
delayed (freed after `delay_s`), partial (`residual_mib` stays, held by no visible process) or
never (everything stays, held by no visible process — the sticky NVIDIA/Wayland case). The
behaviour applies to graphics allocations; compute allocations (vLLM) are freed when their
process exits. A GPU can never hold more than it has, nor free more than it holds: both are
checked on every change and raise `SimInvariantError`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from dubnium.facts import GpuFact, GpuProcess, GpuProcessKind
from simulator import jsonutil

GPU_RELEASE = "gpu_release"  # the event kind of a delayed release


class SimInvariantError(AssertionError):
    """A simulated device broke a physical law (a bug in the simulator, never the controller)."""


class ReleaseKind(StrEnum):
    IMMEDIATE = "immediate"
    DELAYED = "delayed"
    PARTIAL = "partial"
    NEVER = "never"


@attrs.frozen
class GpuReleaseBehaviour:
    """What a GPU does with a graphics process's memory when that process exits."""

    kind: ReleaseKind = ReleaseKind.IMMEDIATE
    delay_s: float = 0.0  # delayed: seconds until the memory is freed
    residual_mib: int = 0  # partial: what stays held, with no process

    def __attrs_post_init__(self) -> None:
        if self.delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {self.delay_s}")
        if self.residual_mib < 0:
            raise ValueError(f"residual_mib must be >= 0, got {self.residual_mib}")


@attrs.frozen
class GpuSpec:
    index: int
    uuid: str
    name: str = "NVIDIA GeForce RTX 4090"
    total_mib: int = 24564
    reserved_mib: int = 0  # used by the driver with no process (persistence mode etc.)


@attrs.define
class Allocation:
    id: int
    pid: int  # 0: held by no visible process
    comm: str
    kind: GpuProcessKind
    mib: int


@attrs.define
class Gpu:
    spec: GpuSpec
    release: GpuReleaseBehaviour = GpuReleaseBehaviour()
    allocations: dict[int, Allocation] = attrs.field(factory=dict)
    _fact: GpuFact | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def used_mib(self) -> int:
        return self.spec.reserved_mib + sum(a.mib for a in self.allocations.values())

    @property
    def free_mib(self) -> int:
        return self.spec.total_mib - self.used_mib

    def allocate(self, alloc_id: int, pid: int, comm: str, kind: GpuProcessKind,
                 mib: int) -> Allocation:
        if mib <= 0:
            raise SimInvariantError(f"GPU {self.spec.index}: allocation of {mib} MiB")
        if mib > self.free_mib:
            raise SimInvariantError(
                f"GPU {self.spec.index}: cannot hold {mib} MiB more ({self.free_mib} MiB free)"
            )
        alloc = Allocation(alloc_id, pid, comm, kind, mib)
        self.allocations[alloc_id] = alloc
        self._fact = None
        return alloc

    def free(self, alloc_id: int, mib: int | None = None) -> int:
        """Free `mib` of one allocation (all of it by default); returns what was freed."""
        alloc = self.allocations.get(alloc_id)
        if alloc is None:
            raise SimInvariantError(f"GPU {self.spec.index}: no allocation {alloc_id} to free")
        amount = alloc.mib if mib is None else mib
        if amount < 0 or amount > alloc.mib:
            raise SimInvariantError(
                f"GPU {self.spec.index}: cannot free {amount} MiB of an allocation of "
                f"{alloc.mib} MiB"
            )
        alloc.mib -= amount
        if alloc.mib == 0:
            del self.allocations[alloc_id]
        self._fact = None
        return amount

    def process_exited(self, pid: int) -> list[int]:
        """Apply the release behaviour to `pid`'s allocations.

        Returns the ids of allocations whose memory is to be freed after `release.delay_s`
        (the caller schedules that).
        """
        later: list[int] = []
        for alloc in [a for a in self.allocations.values() if a.pid == pid]:
            if alloc.kind is not GpuProcessKind.GRAPHICS:
                self.free(alloc.id)
                continue
            behaviour = self.release
            if behaviour.kind is ReleaseKind.IMMEDIATE:
                self.free(alloc.id)
                continue
            alloc.pid = 0  # the process is gone; what it held is now nobody's
            self._fact = None
            if behaviour.kind is ReleaseKind.DELAYED:
                later.append(alloc.id)
            elif behaviour.kind is ReleaseKind.PARTIAL:
                self.free(alloc.id, max(0, alloc.mib - behaviour.residual_mib))
        return later

    def clear(self) -> None:
        """Power off: nothing is held."""
        self.allocations.clear()
        self._fact = None

    def fact(self) -> GpuFact:
        if self._fact is None:
            processes = tuple(
                GpuProcess(a.pid, a.comm, a.kind, a.mib)
                for a in self.allocations.values() if a.pid
            )
            self._fact = GpuFact(self.spec.index, self.spec.uuid, self.spec.name,
                                 self.used_mib, self.spec.total_mib, processes)
        return self._fact

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": jsonutil.to_json(self.spec),
            "release": jsonutil.to_json(self.release),
            "allocations": [jsonutil.to_json(a) for a in self.allocations.values()],
        }

    @classmethod
    def from_json(cls, data: Any) -> Gpu:
        gpu = cls(jsonutil.from_json(GpuSpec, data["spec"]),
                  jsonutil.from_json(GpuReleaseBehaviour, data["release"]))
        for raw in data["allocations"]:
            alloc = jsonutil.from_json(Allocation, raw)
            gpu.allocations[alloc.id] = alloc
        if gpu.used_mib > gpu.spec.total_mib:
            raise ValueError(f"GPU {gpu.spec.index}: holds more than its total memory")
        return gpu
