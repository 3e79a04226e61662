"""The simulated vLLM (and EXO, the same kind of workload): its profile and GPU shards.

Owned by `simulator.world.World`, which calls it from the hooks of `vllm.service`: the
process appears when the start job runs; when the job's load delay is over, `load` places one
shard of `memory_per_gpu_mib` on every GPU of the profile — or, when any of them lacks the
free memory (or no usable profile was written), fails with nothing left allocated, and the
unit goes `failed`. `unload` frees everything when the unit stops or fails.
"""

from __future__ import annotations

from typing import Any

from dubnium.facts import GpuProcessKind, VllmProfile
from simulator.gpu import Gpu
from simulator.processes import ProcessRole, ProcessTable

COMM = "vllm"


class Vllm:
    """One GPU workload: vLLM by default; `Vllm("exo", ProcessRole.EXO)` is EXO."""

    def __init__(self, comm: str = COMM, role: ProcessRole = ProcessRole.VLLM) -> None:
        self.comm = comm
        self.role = role
        self.profile: VllmProfile | None = None
        self.pid = 0
        self.allocations: list[tuple[int, int]] = []  # (gpu index, allocation id)
        self.last_error = ""

    def spawn(self, processes: ProcessTable, now_ns: int) -> None:
        if self.pid == 0:
            self.pid = processes.spawn(self.comm, self.role, now_ns, uid=0).pid

    def load(self, gpus: dict[int, Gpu], need_mib: int, alloc_ids: list[int]) -> bool:
        """Place the shards; False (nothing allocated, `last_error` set) when they do not fit.

        `alloc_ids` supplies fresh allocation ids (consumed from the front).
        """
        targets = self._targets(gpus)
        if targets is None:
            return False
        short = [g for g in targets if g.free_mib < need_mib]
        if short:
            gpu = short[0]
            self.last_error = (
                f"CUDA out of memory on GPU {gpu.spec.index}: need {need_mib} MiB, "
                f"{gpu.free_mib} MiB free"
            )
            return False
        for gpu in targets:
            alloc_id = alloc_ids.pop(0)
            gpu.allocate(alloc_id, self.pid, self.comm, GpuProcessKind.COMPUTE, need_mib)
            self.allocations.append((gpu.spec.index, alloc_id))
        self.last_error = ""
        return True

    def _targets(self, gpus: dict[int, Gpu]) -> list[Gpu] | None:
        profile = self.profile
        if profile is None or profile.name == "off" or not profile.gpu_uuids:
            self.last_error = f"no {self.comm} profile with GPUs written"
            return None
        by_uuid = {g.spec.uuid: g for g in gpus.values()}
        targets = []
        for uuid in profile.gpu_uuids:
            gpu = by_uuid.get(uuid)
            if gpu is None:
                self.last_error = f"CUDA_VISIBLE_DEVICES names an unknown GPU {uuid}"
                return None
            targets.append(gpu)
        return targets

    def unload(self, gpus: dict[int, Gpu], processes: ProcessTable) -> None:
        for index, alloc_id in self.allocations:
            gpus[index].free(alloc_id)
        self.allocations.clear()
        if self.pid:
            processes.kill(self.pid)
            self.pid = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "comm": self.comm,
            "profile": profile_to_json(self.profile),
            "pid": self.pid,
            "allocations": [list(a) for a in self.allocations],
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, data: Any) -> Vllm:
        comm = str(data.get("comm", COMM))
        vllm = cls(comm, ProcessRole.EXO if comm == "exo" else ProcessRole.VLLM)
        vllm.profile = profile_from_json(data["profile"])
        vllm.pid = int(data["pid"])
        vllm.allocations = [(int(i), int(a)) for i, a in data["allocations"]]
        vllm.last_error = str(data["last_error"])
        return vllm


def profile_to_json(profile: VllmProfile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {"name": profile.name, "gpu_uuids": list(profile.gpu_uuids),
            "gpu_indices": list(profile.gpu_indices)}


def profile_from_json(data: Any) -> VllmProfile | None:
    if data is None:
        return None
    return VllmProfile(str(data["name"]), tuple(str(u) for u in data["gpu_uuids"]),
                       tuple(int(i) for i in data["gpu_indices"]))
