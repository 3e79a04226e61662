"""GPU placement: which GPUs vLLM and EXO get, as a pure function of facts and policy.

Called by the step executor once the display GPU's release is decided (all compute GPUs) or
found indeterminate (the non-display GPUs only: the degraded profile). No I/O.
"""

from __future__ import annotations

import attrs

from dubnium import evidence as ev
from dubnium.facts import HostFacts, Unavailable, VllmProfile
from dubnium.policy import Policy


@attrs.frozen
class GpuPlacement:
    """The profiles to write: None where the workload is off or has no GPU."""

    vllm: VllmProfile | None
    exo: VllmProfile | None


def place(facts: HostFacts, policy: Policy, gpus: tuple[int, ...],
          name: str) -> GpuPlacement | Unavailable:
    """Split `gpus` between vLLM and EXO (policy: shared or split), addressed by UUID."""
    vllm_gpus, exo_gpus = policy.gpu_split(gpus)
    profiles: list[VllmProfile | None] = []
    for indices in (vllm_gpus, exo_gpus):
        if not indices:
            profiles.append(None)
            continue
        uuids = []
        for index in indices:
            gpu = ev.gpu_by_index(facts, index)
            if isinstance(gpu, Unavailable):
                return Unavailable(f"vLLM profile: {gpu.reason}")
            uuids.append(gpu.uuid)
        profiles.append(VllmProfile(name, tuple(uuids), tuple(indices)))
    return GpuPlacement(profiles[0], profiles[1])
