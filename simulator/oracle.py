"""The independent oracle: the mode contracts judged from the simulated world's physical state.

Used by `simulator.invariants` (honesty of records and of `mode current`, the GUI/compute
exclusion) and by the hypothesis machine in `tests/stateful/`. It reads the world's own
models — unit states, logind sessions, the process table, GPU allocations, slice values,
vLLM's shards and profile — never a `HostFacts` snapshot, and it never imports the
controller's observer, evidence, guards or contracts (an import-linter contract in
pyproject.toml says so, indirect imports included): it is the same contracts written a
second time, by other eyes, so that a wrong predicate in the controller cannot hide itself.

The contracts (docs/architecture.md):

- desktop: desktop.target, graphical.target and the display manager active; a wayland/x11
  session that is online or active whose compositor process lives; vLLM and EXO stopped and no
  compute allocation on the display GPU; the overlay units inactive; neither the studio nor
  the compute set of slice values in force;
- studio-local: the same with the overlay units active and the studio slice values in force;
- compute: compute.target active, the desktop targets not; the display manager inactive; no
  graphical session (a closing one still counts while any of its processes lives) and no
  compositor; the overlay inactive; vLLM (and EXO) active with shards on exactly the GPUs of
  the full compute profile; the display GPU free of graphics processes with its residual at or
  under the threshold;
- degraded-desktop: desktop intended (desktop.target or graphical.target up) with compute
  nowhere: compute.target down, vLLM/EXO stopped, nothing on the display GPU;
- degraded-compute: compute's terms except that vLLM may run on the non-display GPUs only and
  the display GPU's residual may be up to the degraded bound.
"""

from __future__ import annotations

from collections.abc import Iterator

from dubnium.facts import ActiveState, GpuProcessKind, SliceSettings
from dubnium.modes import Mode, ObservedState
from dubnium.policy import Policy
from simulator.processes import ProcessRole
from simulator.world import World

GRAPHICAL_TYPES = ("wayland", "x11")
_WEIGHT_DEFAULTS = {"cpu_weight": 100, "io_weight": 100}


def up(world: World, name: str) -> bool:
    unit = world.systemd.units.get(name)
    return unit is not None and unit.active is ActiveState.ACTIVE


def running(world: World, name: str) -> bool:
    """The unit is not down: active, starting, stopping or reloading."""
    unit = world.systemd.units.get(name)
    return unit is not None and unit.active not in (ActiveState.INACTIVE, ActiveState.FAILED)


def live_graphical_sessions(world: World) -> list[str]:
    """Graphical sessions that physically exist: open, or closing with a process still alive."""
    out = []
    for s in world.logind.sessions.values():
        if s.type not in GRAPHICAL_TYPES:
            continue
        alive = s.state != "closing" or s.leader in world.processes.procs or bool(
            world.processes.in_session(s.id))
        if alive:
            out.append(f"session {s.id} of {s.user} ({s.state})")
    return out


def compositors(world: World) -> list[str]:
    return [f"compositor pid {p.pid}" for p in world.processes.by_role(ProcessRole.COMPOSITOR)]


def gui_present(world: World) -> list[str]:
    """Every graphical session or compositor process there is (physically)."""
    return live_graphical_sessions(world) + compositors(world)


def display_compute(world: World, policy: Policy) -> list[int]:
    """Allocation ids of compute memory (vLLM, EXO) on the display GPU."""
    gpu = world.gpus.get(policy.hardware.display_gpu)
    if gpu is None:
        return []
    return [a.id for a in gpu.allocations.values() if a.kind is GpuProcessKind.COMPUTE]


def display_residual(world: World, policy: Policy) -> tuple[int, bool]:
    """(MiB on the display GPU not held by compute, a live graphics process holds some)."""
    gpu = world.gpus.get(policy.hardware.display_gpu)
    if gpu is None:
        return 0, False
    residual = sum(a.mib for a in gpu.allocations.values()
                   if a.kind is not GpuProcessKind.COMPUTE) + gpu.spec.reserved_mib
    live = any(a.pid and a.kind is GpuProcessKind.GRAPHICS for a in gpu.allocations.values())
    return residual, live


def _slices(world: World) -> dict[str, SliceSettings]:
    return {name: u.settings for name, u in world.systemd.units.items()
            if u.settings is not None}


def _slices_match(world: World, want: dict[str, SliceSettings] | None) -> bool:
    if not want:
        return False
    have = _slices(world)
    for name, value in want.items():
        seen = have.get(name)
        for field in ("cpu_weight", "io_weight", "cpu_quota_percent", "memory_high_mib",
                      "memory_max_mib", "allowed_cpus"):
            wanted = getattr(value, field)
            if wanted is None:
                continue
            got = getattr(seen, field) if seen is not None else None
            if (got if got is not None else _WEIGHT_DEFAULTS.get(field)) != wanted:
                return False
    return True


def _desktop_side(world: World, policy: Policy, studio: bool) -> Iterator[str]:
    n = policy.units
    for name in (n.desktop_target, n.graphical_target, n.display_manager):
        if not up(world, name):
            yield f"{name} not active"
    sessions = [s for s in world.logind.sessions.values()
                if s.type in GRAPHICAL_TYPES and s.state in ("online", "active")]
    comp = {p.session_id for p in world.processes.by_role(ProcessRole.COMPOSITOR)}
    if not any(s.id in comp for s in sessions):
        yield "no open graphical session with a live compositor"
    for name in (n.vllm, n.exo):
        if running(world, name):
            yield f"{name} running"
    if display_compute(world, policy):
        yield "compute memory on the display GPU"
    overlay = [running(world, n.studio_policy), running(world, n.audio_priority)]
    slices = {mode: dict(policy.slices.get(mode, {})) for mode in Mode}
    if studio:
        if not all(up(world, u) for u in (n.studio_policy, n.audio_priority)):
            yield "studio overlay not fully active"
        if not _slices_match(world, slices[Mode.STUDIO_LOCAL]):
            yield "studio slice values not in force"
        return
    if any(overlay):
        yield "studio overlay active"
    for other in (Mode.STUDIO_LOCAL, Mode.COMPUTE):
        if slices[other] != slices[Mode.DESKTOP] and _slices_match(world, slices[other]):
            yield f"the {other.value} slice values are in force"


def _compute_side(world: World, policy: Policy, degraded: bool) -> Iterator[str]:
    n = policy.units
    if not up(world, n.compute_target):
        yield "compute target not active"
    for name in (n.desktop_target, n.graphical_target):
        if running(world, name):
            yield f"{name} still up"
    if running(world, n.display_manager):
        yield "display manager running"
    if running(world, n.studio_policy) or running(world, n.audio_priority):
        yield "studio overlay active"
    gui = gui_present(world)
    if gui:
        yield "graphical: " + ", ".join(gui)
    residual, live = display_residual(world, policy)
    if live:
        yield "a graphics process holds the display GPU"
    bound = policy.gpu_release
    display = policy.hardware.display_gpu
    on_display = any(i == display for i, _ in world.vllm.allocations) or any(
        i == display for i, _ in world.exo.allocations)
    if not degraded:
        if residual > bound.residual_threshold_mib:
            yield f"display GPU residual {residual} MiB above the threshold"
        if policy.vllm.enable:
            if not up(world, n.vllm):
                yield "vLLM not active"
            placed = sorted(i for i, _ in world.vllm.allocations)
            split = policy.gpu_split(tuple(policy.hardware.compute_gpus))[0]
            if placed != sorted(split):
                yield f"vLLM on GPUs {placed}, not on its compute GPUs {list(split)}"
        if policy.exo.enable and not up(world, n.exo):
            yield "EXO not active"
        return
    if residual > bound.degraded_residual_max_mib:
        yield f"display GPU residual {residual} MiB above the degraded bound"
    if on_display and residual > bound.residual_threshold_mib:
        yield "compute on a display GPU that is not released"


def _degraded_desktop(world: World, policy: Policy) -> Iterator[str]:
    """Desktop intended, no compute anywhere near the GUI (the missing term is the
    observer's to name; a degraded-desktop claim must not hide compute)."""
    n = policy.units
    if not (up(world, n.desktop_target) or up(world, n.graphical_target)):
        yield "neither desktop.target nor graphical.target active"
    if running(world, n.compute_target):
        yield "compute target up"
    for name in (n.vllm, n.exo):
        if running(world, name):
            yield f"{name} running"
    if display_compute(world, policy):
        yield "compute memory on the display GPU"


def missing(world: World, policy: Policy, state: str) -> list[str]:
    """What the world lacks to be in `state` (a mode or degraded-compute); [] when it is."""
    if state == Mode.DESKTOP.value:
        return list(_desktop_side(world, policy, studio=False))
    if state == Mode.STUDIO_LOCAL.value:
        return list(_desktop_side(world, policy, studio=True))
    if state == Mode.COMPUTE.value:
        return list(_compute_side(world, policy, degraded=False))
    if state == ObservedState.DEGRADED_COMPUTE.value:
        return list(_compute_side(world, policy, degraded=True))
    if state == ObservedState.DEGRADED_DESKTOP.value:
        return list(_degraded_desktop(world, policy))
    raise ValueError(f"no contract for {state!r}")


def judge(world: World, policy: Policy) -> str | None:
    """The mode whose contract the world meets now, if any (desktop, studio-local, compute)."""
    for mode in Mode:
        if not missing(world, policy, mode.value):
            return mode.value
    return None
