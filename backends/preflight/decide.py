"""Deciding: which accelerator a workload (EXO, vLLM) should use, and what blocks it.

Pure: `decide(report, requirements)` takes what `backends.preflight.read.gather()` found and
returns a frozen `Decision`; called by `backends.preflight.cli.main` and by tests. The exit
codes are a public contract (the EXO unit and scripts test them): see `PreflightExit`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import attrs

from backends.preflight.facts import Accelerator, GpuVendor, HardwareReport
from dubnium.facts import Unavailable


class PreflightExit(IntEnum):
    """What `dubnium-preflight` exits with. Stable: the EXO unit and `mode doctor` read them."""

    OK = 0  # requirements met (possibly by falling back to CPU, which is then printed)
    ERROR = 1  # an internal error (a bug)
    USAGE = 2  # bad command line
    ACCELERATOR_MISSING = 30  # the requested accelerator is absent and no CPU fallback allowed
    ACCELERATOR_UNSUPPORTED = 31  # rocm or mlx asked for on Linux: upstream EXO has neither
    CPU_FEATURE_MISSING = 32  # a required CPU flag (e.g. avx2) is missing
    MEMORY_LOW = 33  # less available memory than required
    DISK_LOW = 34  # less free space for the model store than required
    UNREADABLE = 35  # /proc/cpuinfo, /proc/meminfo or the model store could not be read


@attrs.frozen
class Requirements:
    """What the workload needs. `accelerator=None` means choose (auto)."""

    accelerator: Accelerator | None = None
    allow_cpu_fallback: bool = False
    min_free_disk_mib: int = 1024
    min_available_memory_mib: int = 0
    required_cpu_flags: tuple[str, ...] = ()
    platform: str = "linux"


@attrs.frozen
class Problem:
    code: PreflightExit
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"code": int(self.code), "name": self.code.name.lower(), "message": self.message}


@attrs.frozen
class Decision:
    """The chosen accelerator (None when the requirements cannot be met), the problems that
    block, and notes worth printing (fallbacks, NVML errors, ignored GPUs)."""

    accelerator: Accelerator | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> PreflightExit:
        return self.problems[0].code if self.problems else PreflightExit.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "accelerator": self.accelerator.value if self.accelerator else None,
            "problems": [p.to_json() for p in self.problems],
            "notes": list(self.notes),
        }


_UNSUPPORTED_ON_LINUX = {
    Accelerator.ROCM: (
        "accelerator 'rocm' is not available: upstream EXO has no ROCm backend (on Linux it "
        "runs MLX on CUDA or on the CPU); choose 'cuda' or 'cpu'"
    ),
    Accelerator.MLX: (
        "accelerator 'mlx' (Apple Silicon, Metal) exists only on macOS; on Linux EXO runs MLX "
        "on CUDA or on the CPU: choose 'cuda' or 'cpu'"
    ),
}


def _choose(
    report: HardwareReport, req: Requirements
) -> tuple[Accelerator | None, list[Problem], list[str]]:
    problems: list[Problem] = []
    notes: list[str] = []
    wanted = req.accelerator
    if wanted in _UNSUPPORTED_ON_LINUX and req.platform.startswith("linux"):
        problems.append(
            Problem(PreflightExit.ACCELERATOR_UNSUPPORTED, _UNSUPPORTED_ON_LINUX[wanted])
        )
        return None, problems, notes
    if wanted is Accelerator.CPU:
        return Accelerator.CPU, problems, notes
    if wanted in (Accelerator.ROCM, Accelerator.MLX):  # on a platform that could have them
        notes.append(f"accelerator '{wanted}' is not probed by this preflight; assumed present")
        return wanted, problems, notes
    if report.cuda_usable:
        return Accelerator.CUDA, problems, notes
    others = [g for g in report.drm_gpus if g.vendor in (GpuVendor.AMD, GpuVendor.INTEL)]
    if others:
        names = ", ".join(f"{g.card} ({g.vendor.value})" for g in others)
        notes.append(f"GPUs EXO cannot use on Linux (no ROCm/oneAPI/Vulkan backend): {names}")
    why = _why_no_cuda(report)
    what = "requested accelerator 'cuda'" if wanted is Accelerator.CUDA else "no usable GPU"
    if req.allow_cpu_fallback:
        notes.append(f"{what}: {why}; falling back to CPU")
        return Accelerator.CPU, problems, notes
    problems.append(
        Problem(
            PreflightExit.ACCELERATOR_MISSING,
            f"{what}: {why}; allow CPU fallback (--allow-cpu-fallback) or fix the driver",
        )
    )
    return None, problems, notes


def _why_no_cuda(report: HardwareReport) -> str:
    nvidia = report.gpus_of(GpuVendor.NVIDIA)
    if not nvidia and not report.nvidia_driver.gpus:
        return "no NVIDIA GPU (no DRM device has PCI vendor 0x10de)"
    if not report.nvidia_driver.present:
        return (
            "an NVIDIA GPU is present but the nvidia kernel module is not loaded "
            "(/proc/driver/nvidia missing)"
        )
    return "the NVIDIA driver reports no GPU"


def decide(report: HardwareReport, req: Requirements) -> Decision:
    """Pure: which accelerator to use, and what blocks the workload from starting."""
    accelerator, problems, notes = _choose(report, req)
    nvml = report.nvml
    if not nvml.available and (report.gpus_of(GpuVendor.NVIDIA) or report.nvidia_driver.present):
        value = "" if nvml.error_value is None else f" (NVML error {nvml.error_value})"
        notes.append(f"NVML unavailable{value}: {nvml.error}")

    if isinstance(report.cpu, Unavailable):
        if req.required_cpu_flags:
            problems.append(Problem(PreflightExit.UNREADABLE, report.cpu.reason))
    else:
        missing = [f for f in req.required_cpu_flags if f not in report.cpu.flags]
        if missing:
            problems.append(
                Problem(
                    PreflightExit.CPU_FEATURE_MISSING,
                    f"CPU lacks required flag(s) {', '.join(missing)} ({report.cpu.model})",
                )
            )
        vector = {"avx2", "asimd"} & set(report.cpu.flags)
        if accelerator is Accelerator.CPU and not vector:
            notes.append("CPU inference without AVX2/ASIMD will be very slow")

    if isinstance(report.memory, Unavailable):
        if req.min_available_memory_mib > 0:
            problems.append(Problem(PreflightExit.UNREADABLE, report.memory.reason))
    elif report.memory.available_mib < req.min_available_memory_mib:
        problems.append(
            Problem(
                PreflightExit.MEMORY_LOW,
                f"{report.memory.available_mib} MiB memory available, "
                f"{req.min_available_memory_mib} MiB required",
            )
        )

    if isinstance(report.disk, Unavailable):
        problems.append(Problem(PreflightExit.UNREADABLE, report.disk.reason))
    elif report.disk.free_mib < req.min_free_disk_mib:
        problems.append(
            Problem(
                PreflightExit.DISK_LOW,
                f"{report.disk.free_mib} MiB free for the model store {report.disk.model_store} "
                f"(on {report.disk.measured_at}), {req.min_free_disk_mib} MiB required",
            )
        )
    return Decision(accelerator=accelerator, problems=tuple(problems), notes=tuple(notes))
