"""Derived evidence: the predicates the observer and the guards share.

Pure functions of (HostFacts, Policy). Called by `dubnium.observe` (to classify) and
`dubnium.guards` (to decide), so the two can never disagree about what, for instance,
"the display GPU is released" means. The GPU release predicate of DESIGN.md lives here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from dubnium.facts import (
    AudioNode,
    GpuFact,
    HostFacts,
    ProcessFact,
    SessionFact,
    Unavailable,
)
from dubnium.policy import Policy


def processes_named(
    facts: HostFacts, names: tuple[str, ...]
) -> tuple[ProcessFact, ...] | Unavailable:
    if isinstance(facts.processes, Unavailable):
        return facts.processes
    wanted = set(names)
    return tuple(p for p in facts.processes if p.comm in wanted)


def graphical_sessions(facts: HostFacts) -> tuple[SessionFact, ...] | Unavailable:
    """Graphical sessions for every guard, wait and classification.

    A wayland/x11 session that is `closing` still counts while its leader or another process
    of its session (its compositor) is alive: stopping the display manager puts sessions in
    `closing` while their compositor still holds the display GPU. When the processes cannot
    be read, a closing session counts (its end cannot be shown).
    """
    if isinstance(facts.sessions, Unavailable):
        return facts.sessions
    closing = [s for s in facts.sessions if s.type in ("wayland", "x11") and not s.graphical]
    if not closing:
        return tuple(s for s in facts.sessions if s.graphical)
    if isinstance(facts.processes, Unavailable):
        alive = {s.id for s in closing}
    else:
        pids = {p.pid for p in facts.processes}
        in_session = {p.session_id for p in facts.processes if p.session_id}
        alive = {s.id for s in closing if s.leader in pids or s.id in in_session}
    return tuple(s for s in facts.sessions if s.graphical or s.id in alive)


def user_jobs(facts: HostFacts, policy: Policy) -> tuple[ProcessFact, ...] | Unavailable:
    """Long-running user jobs (G4): known build/dev tools running past the threshold."""
    named = processes_named(facts, policy.thresholds.user_job_names)
    if isinstance(named, Unavailable):
        return named
    minimum = policy.thresholds.user_job_min_runtime_s
    return tuple(p for p in named if p.runtime_s >= minimum and p.uid != 0)


@attrs.frozen
class AudioActivity:
    streams: tuple[AudioNode, ...]
    jack_clients: tuple[AudioNode, ...]
    reaper: tuple[ProcessFact, ...]

    @property
    def active(self) -> bool:
        return bool(self.streams or self.jack_clients or self.reaper)

    def to_json(self) -> dict[str, Any]:
        return {
            "streams": [{"id": n.id, "name": n.name, "app_pid": n.app_pid} for n in self.streams],
            "jack_clients": [{"id": n.id, "name": n.name} for n in self.jack_clients],
            "reaper_pids": [p.pid for p in self.reaper],
        }


def audio_activity(facts: HostFacts, policy: Policy) -> AudioActivity | Unavailable:
    """G1 plus REAPER: running audio streams, JACK clients, a REAPER process."""
    if isinstance(facts.audio, Unavailable):
        return Unavailable(f"audio graph: {facts.audio.reason}")
    reaper = processes_named(facts, policy.processes.reaper)
    if isinstance(reaper, Unavailable):
        return Unavailable(f"processes: {reaper.reason}")
    return AudioActivity(facts.audio.busy_streams, facts.audio.jack_clients, reaper)


class ReleaseStatus(StrEnum):
    RELEASED = "released"  # no compositor, no graphics process, residual <= threshold
    RESIDUAL = "residual"  # gone, but residual above threshold and within the degraded bound
    HELD = "held"  # compositor or graphics process present, or residual above the bound
    UNKNOWN = "unknown"  # evidence unavailable: never treated as released


@attrs.frozen
class DisplayRelease:
    status: ReleaseStatus
    gpu_index: int
    residual_mib: int | None
    reason: str
    compositor_pids: tuple[int, ...] = ()
    graphics_pids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "gpu_index": self.gpu_index,
            "residual_mib": self.residual_mib,
            "reason": self.reason,
            "compositor_pids": list(self.compositor_pids),
            "graphics_pids": list(self.graphics_pids),
        }


def gpu_by_index(facts: HostFacts, index: int) -> GpuFact | Unavailable:
    if isinstance(facts.gpus, Unavailable):
        return Unavailable(f"GPU evidence: {facts.gpus.reason}")
    for gpu in facts.gpus:
        if gpu.index == index:
            return gpu
    return Unavailable(f"GPU {index} not visible (saw {[g.index for g in facts.gpus]})")


def display_release(facts: HostFacts, policy: Policy) -> DisplayRelease:
    """The GPU release predicate (DESIGN.md): evaluated after the session is gone.

    Residual memory is the display GPU's used memory minus what compute processes (vLLM)
    visibly hold there; if a compute process's memory is not reported, the residual cannot
    be computed and the answer is UNKNOWN, never RELEASED.
    """
    index = policy.hardware.display_gpu
    gpu = gpu_by_index(facts, index)
    if isinstance(gpu, Unavailable):
        return DisplayRelease(ReleaseStatus.UNKNOWN, index, None, gpu.reason)
    compositors = processes_named(facts, policy.processes.compositor)
    if isinstance(compositors, Unavailable):
        return DisplayRelease(
            ReleaseStatus.UNKNOWN, index, None, f"processes: {compositors.reason}"
        )
    graphics = tuple(p.pid for p in gpu.graphics_processes)
    comp_pids = tuple(p.pid for p in compositors)
    compute_mem = [p.used_mib for p in gpu.compute_processes]
    if any(m is None for m in compute_mem):
        return DisplayRelease(
            ReleaseStatus.UNKNOWN, index, None,
            "compute process memory on the display GPU is not reported",
            comp_pids, graphics,
        )
    residual = max(0, gpu.memory_used_mib - sum(m or 0 for m in compute_mem))
    if comp_pids or graphics:
        who = [f"compositor pid {p}" for p in comp_pids] + [f"graphics pid {p}" for p in graphics]
        return DisplayRelease(
            ReleaseStatus.HELD, index, residual, "held by " + ", ".join(who), comp_pids, graphics
        )
    bound = policy.gpu_release
    if residual <= bound.residual_threshold_mib:
        return DisplayRelease(
            ReleaseStatus.RELEASED, index, residual,
            f"residual {residual} MiB <= threshold {bound.residual_threshold_mib} MiB",
        )
    if residual <= bound.degraded_residual_max_mib:
        return DisplayRelease(
            ReleaseStatus.RESIDUAL, index, residual,
            f"residual {residual} MiB above threshold {bound.residual_threshold_mib} MiB, "
            f"within degraded bound {bound.degraded_residual_max_mib} MiB",
        )
    return DisplayRelease(
        ReleaseStatus.HELD, index, residual,
        f"residual {residual} MiB above degraded bound {bound.degraded_residual_max_mib} MiB "
        "with no visible process",
    )


def compute_pids_on_gpu(facts: HostFacts, index: int) -> tuple[int, ...] | Unavailable:
    gpu = gpu_by_index(facts, index)
    if isinstance(gpu, Unavailable):
        return gpu
    return tuple(p.pid for p in gpu.compute_processes)
