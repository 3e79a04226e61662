"""Hardware preflight: what accelerators, CPU, memory and disk this node has, and which
accelerator a workload (EXO, vLLM) should use.

Called as the console script `dubnium-preflight` (the `ExecStartPre=` of `exo.service`, see
nixos/units/exo.nix) and by `mode doctor` through `gather()` + `decide()`. Reading the host
happens in `gather()` only; every root is injectable (`sys_root`, `proc_root`) so tests
build small sysfs/procfs trees, and NVML is a probe passed in (`read_nvml` on the real
host). `decide()` is pure: a report and the requirements in, a frozen `Decision` out.

Exit codes are a public contract (the unit and scripts test them): see `PreflightExit`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import attrs

SCHEMA_VERSION = 1

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


# --------------------------------------------------------------------------- facts


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
class NvmlGpu:
    index: int
    uuid: str
    name: str
    memory_total_mib: int

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class NvmlReport:
    """What NVML said: GPUs, or why it could not be asked (error value and text)."""

    available: bool
    driver_version: str | None = None
    gpus: tuple[NvmlGpu, ...] = ()
    error_value: int | None = None
    error: str | None = None

    @classmethod
    def unavailable(cls, error: str, value: int | None = None) -> NvmlReport:
        return cls(available=False, error_value=value, error=error)

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "driver_version": self.driver_version,
            "gpus": [g.to_json() for g in self.gpus],
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
class MemoryInfo:
    total_mib: int
    available_mib: int

    @classmethod
    def from_meminfo(cls, text: str) -> MemoryInfo:
        """Parse /proc/meminfo; raises ValueError when MemTotal/MemAvailable are missing."""
        values: dict[str, int] = {}
        for line in text.splitlines():
            match = re.match(r"^(\w+):\s+(\d+)\s*kB", line)
            if match:
                values[match.group(1)] = int(match.group(2))
        if "MemTotal" not in values or "MemAvailable" not in values:
            raise ValueError("MemTotal or MemAvailable missing")
        return cls(
            total_mib=values["MemTotal"] // 1024,
            available_mib=values["MemAvailable"] // 1024,
        )

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


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


@attrs.frozen
class Unreadable:
    """A fact that could not be read, and why."""

    what: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"unreadable": self.what, "reason": self.reason}


@attrs.frozen
class HardwareReport:
    drm_gpus: tuple[DrmGpu, ...]
    nvidia_driver: NvidiaProcDriver
    nvml: NvmlReport
    cpu: CpuInfo | Unreadable
    memory: MemoryInfo | Unreadable
    disk: DiskInfo | Unreadable

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
            "cpu": self.cpu.to_json(),
            "memory": self.memory.to_json(),
            "disk": self.disk.to_json(),
        }


# --------------------------------------------------------------------------- reading


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def read_drm_gpus(sys_root: Path) -> tuple[DrmGpu, ...]:
    """Every `class/drm/cardN` under `sys_root` (connectors like card0-DP-1 are skipped)."""
    drm = sys_root / "class" / "drm"
    try:
        names = sorted(os.listdir(drm), key=lambda n: (len(n), n))
    except OSError:
        return ()
    gpus: list[DrmGpu] = []
    for name in names:
        if not re.fullmatch(r"card\d+", name):
            continue
        device = drm / name / "device"
        vendor_text = _read_text(device / "vendor")
        if vendor_text is None:
            continue
        vendor_id = vendor_text.strip().lower()
        device_id = _read_text(device / "device")
        driver = device / "driver"
        pci_address = device.resolve().name if device.is_symlink() else None
        gpus.append(
            DrmGpu(
                card=name,
                vendor=GpuVendor.from_pci_id(vendor_id),
                vendor_id=vendor_id,
                device_id=device_id.strip().lower() if device_id is not None else None,
                driver=driver.resolve().name if driver.is_symlink() else None,
                pci_address=pci_address,
            )
        )
    return tuple(gpus)


def read_nvidia_proc(proc_root: Path) -> NvidiaProcDriver:
    """`/proc/driver/nvidia`: its version line and the GPUs the kernel module knows."""
    base = proc_root / "driver" / "nvidia"
    if not base.is_dir():
        return NvidiaProcDriver(present=False)
    version = None
    text = _read_text(base / "version")
    if text is not None:
        match = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+(?:\.\d+)+)", text)
        version = match.group(1) if match else (text.splitlines()[0].strip() or None)
    gpus: list[str] = []
    gpus_dir = base / "gpus"
    if gpus_dir.is_dir():
        for address in sorted(os.listdir(gpus_dir)):
            info = _read_text(gpus_dir / address / "information") or ""
            model = re.search(r"^Model:\s*(.+)$", info, re.MULTILINE)
            gpus.append(f"{address}: {model.group(1).strip()}" if model else address)
    return NvidiaProcDriver(present=True, version=version, gpus=tuple(gpus))


def read_nvml() -> NvmlReport:
    """Ask NVML (nvidia-ml-py). Every NVML error becomes a report with its value and text."""
    try:
        import pynvml
    except ImportError:
        return NvmlReport.unavailable("nvidia-ml-py is not installed (module pynvml)")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        return NvmlReport.unavailable(str(e), int(e.value))
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        gpus: list[NvmlGpu] = []
        for index in range(int(pynvml.nvmlDeviceGetCount())):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                NvmlGpu(
                    index=index,
                    uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    memory_total_mib=int(memory.total) // (1024 * 1024),
                )
            )
        return NvmlReport(available=True, driver_version=_text(driver), gpus=tuple(gpus))
    except pynvml.NVMLError as e:
        return NvmlReport.unavailable(str(e), int(e.value))
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def default_model_store(environ: Mapping[str, str]) -> Path:
    """Where EXO keeps models: $EXO_DEFAULT_MODELS_DIR, else $XDG_DATA_HOME/exo/models, else
    ~/.local/share/exo/models (upstream exo/shared/constants.py, Linux)."""
    if "EXO_DEFAULT_MODELS_DIR" in environ:
        return Path(environ["EXO_DEFAULT_MODELS_DIR"]).expanduser()
    if "XDG_DATA_HOME" in environ:
        return Path(environ["XDG_DATA_HOME"]) / "exo" / "models"
    home = environ.get("HOME", str(Path.home()))
    return Path(home) / ".local" / "share" / "exo" / "models"


def read_disk(model_store: Path) -> DiskInfo | Unreadable:
    """statvfs of the model store, or of its nearest existing parent."""
    probe = model_store.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError as e:
        return Unreadable("model store", f"statvfs {probe}: {e.strerror}")
    mib = 1024 * 1024
    return DiskInfo(
        model_store=str(model_store),
        measured_at=str(probe),
        free_mib=st.f_bavail * st.f_frsize // mib,
        total_mib=st.f_blocks * st.f_frsize // mib,
    )


def gather(
    *,
    sys_root: Path,
    proc_root: Path,
    model_store: Path,
    nvml: Callable[[], NvmlReport],
) -> HardwareReport:
    """Read everything once. The only function here that touches the host."""
    cpu_text = _read_text(proc_root / "cpuinfo")
    cpu: CpuInfo | Unreadable = (
        CpuInfo.from_cpuinfo(cpu_text)
        if cpu_text is not None
        else Unreadable("cpu", f"cannot read {proc_root / 'cpuinfo'}")
    )
    mem_text = _read_text(proc_root / "meminfo")
    memory: MemoryInfo | Unreadable
    if mem_text is None:
        memory = Unreadable("memory", f"cannot read {proc_root / 'meminfo'}")
    else:
        try:
            memory = MemoryInfo.from_meminfo(mem_text)
        except ValueError as e:
            memory = Unreadable("memory", f"{proc_root / 'meminfo'}: {e}")
    return HardwareReport(
        drm_gpus=read_drm_gpus(sys_root),
        nvidia_driver=read_nvidia_proc(proc_root),
        nvml=nvml(),
        cpu=cpu,
        memory=memory,
        disk=read_disk(model_store),
    )


# --------------------------------------------------------------------------- deciding


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

    if isinstance(report.cpu, Unreadable):
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

    if isinstance(report.memory, Unreadable):
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

    if isinstance(report.disk, Unreadable):
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


# --------------------------------------------------------------------------- output


def render_text(report: HardwareReport, decision: Decision) -> str:
    """The human form: what was found, then the decision."""
    lines: list[str] = []
    if report.drm_gpus:
        for g in report.drm_gpus:
            extra = ", ".join(
                x for x in (
                    f"device {g.device_id}" if g.device_id else "",
                    f"driver {g.driver}" if g.driver else "",
                    g.pci_address or "",
                ) if x
            )
            detail = f"{g.vendor_id}, {extra}" if extra else g.vendor_id
            lines.append(f"gpu       {g.card}: {g.vendor.value} ({detail})")
    else:
        lines.append("gpu       none in /sys/class/drm")
    nd = report.nvidia_driver
    lines.append(
        f"nvidia    kernel module {nd.version or 'loaded'}; {len(nd.gpus)} GPU(s)"
        if nd.present
        else "nvidia    kernel module not loaded (/proc/driver/nvidia missing)"
    )
    for gpu in nd.gpus:
        lines.append(f"          {gpu}")
    nv = report.nvml
    if nv.available:
        lines.append(f"nvml      driver {nv.driver_version}; {len(nv.gpus)} GPU(s)")
        for n in nv.gpus:
            lines.append(f"          {n.index}: {n.name} {n.uuid} {n.memory_total_mib} MiB")
    else:
        value = "" if nv.error_value is None else f" [{nv.error_value}]"
        lines.append(f"nvml      unavailable{value}: {nv.error}")
    if isinstance(report.cpu, CpuInfo):
        flags = " ".join(report.cpu.notable_flags) or "none of note"
        lines.append(f"cpu       {report.cpu.model}; {report.cpu.logical_cpus} logical; {flags}")
    else:
        lines.append(f"cpu       unreadable: {report.cpu.reason}")
    if isinstance(report.memory, MemoryInfo):
        m = report.memory
        lines.append(f"memory    {m.available_mib} MiB available of {m.total_mib} MiB")
    else:
        lines.append(f"memory    unreadable: {report.memory.reason}")
    if isinstance(report.disk, DiskInfo):
        d = report.disk
        lines.append(
            f"disk      {d.free_mib} MiB free of {d.total_mib} MiB for {d.model_store} "
            f"(on {d.measured_at})"
        )
    else:
        lines.append(f"disk      unreadable: {report.disk.reason}")
    for note in decision.notes:
        lines.append(f"note      {note}")
    for problem in decision.problems:
        lines.append(f"error     {problem.message} [exit {int(problem.code)}]")
    chosen = decision.accelerator.value if decision.accelerator else "none"
    lines.append(f"result    {'ok' if decision.ok else 'FAILED'}: accelerator {chosen}")
    return "\n".join(lines) + "\n"


def render_json(report: HardwareReport, decision: Decision, req: Requirements) -> str:
    document = {
        "schema_version": SCHEMA_VERSION,
        "requirements": {
            "accelerator": req.accelerator.value if req.accelerator else "auto",
            "allow_cpu_fallback": req.allow_cpu_fallback,
            "min_free_disk_mib": req.min_free_disk_mib,
            "min_available_memory_mib": req.min_available_memory_mib,
            "required_cpu_flags": list(req.required_cpu_flags),
        },
        "found": report.to_json(),
        "decision": decision.to_json(),
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


# --------------------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exit code 2 == USAGE; keep the type
        self.print_usage(sys.stderr)
        self.exit(int(PreflightExit.USAGE), f"{self.prog}: error: {message}\n")


def _nonnegative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dubnium-preflight",
        description=(
            "Detect accelerators (NVIDIA via NVML and /proc/driver/nvidia; AMD and Intel via "
            "/sys/class/drm), CPU flags, memory and free disk for the model store; choose the "
            "accelerator; exit non-zero with a clear message when the workload cannot start."
        ),
    )
    p.add_argument(
        "--accelerator",
        choices=["auto", *(a.value for a in Accelerator)],
        default="auto",
        help="required accelerator; auto = CUDA when usable (default: auto)",
    )
    p.add_argument(
        "--allow-cpu-fallback",
        action="store_true",
        help="use the CPU when the accelerator is missing, instead of failing",
    )
    p.add_argument("--model-store", type=Path, default=None,
                   help="the model directory (default: where EXO puts models for this $HOME)")
    p.add_argument("--min-free-disk-mib", type=_nonnegative, default=1024,
                   help="free space the model store needs (default: 1024)")
    p.add_argument("--min-available-memory-mib", type=_nonnegative, default=0,
                   help="available memory needed (default: 0, not checked)")
    p.add_argument("--require-cpu-flag", action="append", default=[], metavar="FLAG",
                   help="a /proc/cpuinfo flag that must be present (repeatable), e.g. avx2")
    p.add_argument("--sys-root", type=Path, default=Path("/sys"),
                   help="where sysfs is mounted (tests pass a small tree; default: /sys)")
    p.add_argument("--proc-root", type=Path, default=Path("/proc"),
                   help="where procfs is mounted (default: /proc)")
    p.add_argument("--no-nvml", action="store_true",
                   help="do not ask NVML (reported as unavailable)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `dubnium-preflight`; returns the exit code (see PreflightExit)."""
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    req = Requirements(
        accelerator=None if args.accelerator == "auto" else Accelerator(args.accelerator),
        allow_cpu_fallback=args.allow_cpu_fallback,
        min_free_disk_mib=args.min_free_disk_mib,
        min_available_memory_mib=args.min_available_memory_mib,
        required_cpu_flags=tuple(args.require_cpu_flag),
        platform=sys.platform,
    )
    nvml: Callable[[], NvmlReport] = (
        (lambda: NvmlReport.unavailable("not asked (--no-nvml)")) if args.no_nvml else read_nvml
    )
    report = gather(
        sys_root=args.sys_root,
        proc_root=args.proc_root,
        model_store=args.model_store or default_model_store(env),
        nvml=nvml,
    )
    decision = decide(report, req)
    out = render_json(report, decision, req) if args.json else render_text(report, decision)
    sys.stdout.write(out)
    return int(decision.exit_code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
