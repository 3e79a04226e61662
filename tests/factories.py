"""Builders of HostFacts for the pure unit tests: a desktop, a compute host, and variations.

Used by tests/unit/test_observe.py, test_guards.py and test_reconcile_*.py; the simulator
produces the same frozen objects through its backend.
"""

from __future__ import annotations

import attrs

from dubnium.facts import (
    ActiveState,
    AudioGraph,
    AudioNode,
    GpuFact,
    GpuProcess,
    GpuProcessKind,
    HostFacts,
    LoadFact,
    MemoryFact,
    ModelFact,
    PathFact,
    PressureFact,
    ProcessFact,
    SessionFact,
    SliceFact,
    UnitFact,
    Units,
    VllmProfile,
)
from dubnium.modes import Mode
from dubnium.policy import Policy, default_policy
from dubnium.studiofacts import AudioClock, CpuFreq, CpuPolicy

POLICY = default_policy()
SINK = AudioNode(30, "null-sink", "Audio/Sink", "idle")
SESSION = SessionFact("2", "owner", "wayland", "user", "active", 1200)
COMPOSITOR = ProcessFact(1200, "Hyprland", 1000, 3600.0, "2")
CLOCK = AudioClock(quantum=1024, rate=48000, xruns=0)


def cpufreq(governor: str = "powersave", epp: str = "balance_performance") -> CpuFreq:
    return CpuFreq(tuple(CpuPolicy(f"policy{i}", governor, epp, ("performance", "powersave"))
                         for i in range(2)))


def units(*active: str, failed: tuple[str, ...] = (), policy: Policy = POLICY) -> Units:
    out = []
    for name in policy.units.all():
        if name in active:
            out.append(UnitFact(name, ActiveState.ACTIVE))
        elif name in failed:
            out.append(UnitFact(name, ActiveState.FAILED))
        else:
            out.append(UnitFact(name, ActiveState.INACTIVE))
    return Units(tuple(out))


def slices(mode: Mode = Mode.DESKTOP, policy: Policy = POLICY) -> tuple[SliceFact, ...]:
    return tuple(SliceFact(name, s) for name, s in policy.slices[mode].items())


def gpus(display_used: int = 1500, display_graphics: bool = True,
         vllm_on: tuple[int, ...] = (), vllm_mib: int = 20480) -> tuple[GpuFact, ...]:
    out = []
    for index in (0, 1):
        procs: list[GpuProcess] = []
        used = 0
        if index == 0:
            used += display_used
            if display_graphics:
                procs.append(GpuProcess(1200, "Hyprland", GpuProcessKind.GRAPHICS, display_used))
        if index in vllm_on:
            procs.append(GpuProcess(4000 + index, "vllm", GpuProcessKind.COMPUTE, vllm_mib))
            used += vllm_mib
        out.append(GpuFact(index, f"GPU-{index:04d}", "RTX 4090", used, 24564, tuple(procs)))
    return tuple(out)


# The default policy's model, seeded in the model store.
MODEL = ModelFact("/var/lib/dubnium/models/Qwen/Qwen2.5-Coder-14B-Instruct", True, 4, 28000)


def desktop(**changes: object) -> HostFacts:
    """A healthy desktop: targets up, one wayland session, compositor on GPU 0."""
    base = HostFacts(
        observed_at_ns=1_000_000_000,
        boot_id="boot-1",
        units=units("desktop.target", "graphical.target", "display-manager.service"),
        sessions=(SESSION,),
        processes=(COMPOSITOR,),
        audio=AudioGraph((SINK,)),
        gpus=gpus(),
        load=LoadFact(0.5, 0.5, 0.5, 16),
        memory=MemoryFact(65536, 50000),
        pressure=PressureFact(0.0, 0.0, 0.0),
        slices=slices(),
        paths=(PathFact("/var/lib/dubnium/models", True, True, 500000),),
        vllm_profile=None,
        model=MODEL,
        audio_clock=CLOCK,
        cpufreq=cpufreq(),
    )
    return attrs.evolve(base, **changes)


def studio(**changes: object) -> HostFacts:
    facts = desktop(
        units=units("desktop.target", "graphical.target", "display-manager.service",
                    "studio-local-policy.service", "audio-priority.service"),
        slices=slices(Mode.STUDIO_LOCAL),
        audio_clock=attrs.evolve(CLOCK, force_quantum=POLICY.studio.quantum or 0),
        cpufreq=cpufreq("performance", "performance"),
    )
    return attrs.evolve(facts, **changes)


def compute(**changes: object) -> HostFacts:
    """A healthy compute host: GUI gone, display GPU released, vLLM on both GPUs."""
    facts = desktop(
        units=units("compute.target", "vllm.service"),
        sessions=(),
        processes=(),
        gpus=gpus(display_used=0, display_graphics=False, vllm_on=(0, 1)),
        slices=slices(Mode.COMPUTE),
        vllm_profile=VllmProfile("compute", ("GPU-0000", "GPU-0001"), (0, 1)),
    )
    return attrs.evolve(facts, **changes)
