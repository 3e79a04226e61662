"""The hardware preflight (backends/preflight/) against small sysfs/procfs trees built here,
and once against this machine's real /sys and /proc."""

from __future__ import annotations

import ctypes.util
import json
import os
from pathlib import Path

import attrs
import pytest

from backends.preflight import (
    Accelerator,
    CpuInfo,
    Decision,
    DiskInfo,
    DrmGpu,
    GpuVendor,
    HardwareReport,
    NvidiaProcDriver,
    NvmlReport,
    PreflightExit,
    Problem,
    Requirements,
    decide,
    default_model_store,
    gather,
    main,
    read_nvml,
    render_text,
)
from backends.procfs import ProcFs
from dubnium.facts import MemoryFact

CPUINFO_X86 = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Test CPU 9000
flags\t\t: fpu sse4_2 avx avx2 fma f16c
processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Test CPU 9000
flags\t\t: fpu sse4_2 avx avx2 fma f16c
"""
CPUINFO_OLD = "processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu sse4_2\n"
MEMINFO = "MemTotal:       65536000 kB\nMemFree:        1000 kB\nMemAvailable:   32768000 kB\n"
NVIDIA_VERSION = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n"
    "GCC version:  gcc version 12.2.0\n"
)
NVML_ABSENT = NvmlReport.unavailable("NVML Shared Library Not Found", 12)


def no_nvml() -> NvmlReport:
    return NVML_ABSENT


def make_host(
    root: Path,
    *,
    cards: dict[str, str] | None = None,
    nvidia_driver: bool = False,
    cpuinfo: str = CPUINFO_X86,
    meminfo: str = MEMINFO,
) -> tuple[Path, Path]:
    """Build <root>/sys and <root>/proc with the given DRM cards (name -> PCI vendor id)."""
    sys_root, proc_root = root / "sys", root / "proc"
    drm = sys_root / "class" / "drm"
    drm.mkdir(parents=True)
    for i, (card, vendor) in enumerate((cards or {}).items()):
        pci = sys_root / "devices" / "pci0000:00" / f"0000:0{i + 1}:00.0"
        pci.mkdir(parents=True)
        (pci / "vendor").write_text(vendor + "\n")
        (pci / "device").write_text("0x2684\n")
        driver_name = {"0x10de": "nvidia", "0x1002": "amdgpu", "0x8086": "i915"}[vendor]
        driver = sys_root / "bus" / "pci" / "drivers" / driver_name
        driver.mkdir(parents=True, exist_ok=True)
        (pci / "driver").symlink_to(driver)
        (drm / card).mkdir()
        (drm / card / "device").symlink_to(pci)
        (drm / f"{card}-DP-1").mkdir()  # a connector: not a GPU
    proc_root.mkdir()
    (proc_root / "cpuinfo").write_text(cpuinfo)
    (proc_root / "meminfo").write_text(meminfo)
    if nvidia_driver:
        nv = proc_root / "driver" / "nvidia"
        (nv / "gpus" / "0000:01:00.0").mkdir(parents=True)
        (nv / "version").write_text(NVIDIA_VERSION)
        (nv / "gpus" / "0000:01:00.0" / "information").write_text(
            "Model: \t\t NVIDIA GeForce RTX 4090\nIRQ:   \t\t 150\n"
        )
    return sys_root, proc_root


def report_for(
    tmp_path: Path, nvml: NvmlReport = NVML_ABSENT, **host: object
) -> HardwareReport:
    sys_root, proc_root = make_host(tmp_path, **host)  # type: ignore[arg-type]
    return gather(
        sys_root=sys_root, proc_root=proc_root, model_store=tmp_path / "models", nvml=lambda: nvml
    )


def test_nvidia_present_without_nvml_chooses_cuda_and_reports_nvml_cleanly(tmp_path: Path) -> None:
    """An NVIDIA card with its kernel module loaded is CUDA; no NVML is a note, not a crash."""
    report = report_for(tmp_path, cards={"card0": "0x10de"}, nvidia_driver=True)
    decision = decide(report, Requirements(accelerator=Accelerator.CUDA))
    expected = Decision(
        accelerator=Accelerator.CUDA,
        problems=(),
        notes=("NVML unavailable (NVML error 12): NVML Shared Library Not Found",),
    )
    assert expected == decision
    assert (
        NvidiaProcDriver(
            present=True, version="550.54.14", gpus=("0000:01:00.0: NVIDIA GeForce RTX 4090",)
        )
        == report.nvidia_driver
    )
    assert (
        DrmGpu(
            card="card0", vendor=GpuVendor.NVIDIA, vendor_id="0x10de", device_id="0x2684",
            driver="nvidia", pci_address="0000:01:00.0",
        ),
    ) == report.drm_gpus


def test_nvidia_present_auto_detect_chooses_cuda(tmp_path: Path) -> None:
    """With no accelerator named, a usable NVIDIA GPU is chosen."""
    report = report_for(tmp_path, cards={"card0": "0x10de"}, nvidia_driver=True)
    expected = Accelerator.CUDA
    assert expected == decide(report, Requirements()).accelerator


def test_nvidia_present_text_output(tmp_path: Path) -> None:
    """The human output names what was found and the accelerator chosen."""
    report = report_for(tmp_path, cards={"card0": "0x10de"}, nvidia_driver=True)
    decision = decide(report, Requirements(accelerator=Accelerator.CUDA, min_free_disk_mib=0))
    text = render_text(report, decision)
    disk = report.disk
    assert isinstance(disk, DiskInfo)
    expected = (
        "gpu       card0: nvidia (0x10de, device 0x2684, driver nvidia, 0000:01:00.0)\n"
        "nvidia    kernel module 550.54.14; 1 GPU(s)\n"
        "          0000:01:00.0: NVIDIA GeForce RTX 4090\n"
        "nvml      unavailable [12]: NVML Shared Library Not Found\n"
        "cpu       Test CPU 9000; 2 logical; sse4_2 avx avx2 fma f16c\n"
        "memory    32000 MiB available of 64000 MiB\n"
        f"disk      {disk.free_mib} MiB free of {disk.total_mib} MiB for {tmp_path / 'models'} "
        f"(on {tmp_path})\n"
        "note      NVML unavailable (NVML error 12): NVML Shared Library Not Found\n"
        "result    ok: accelerator cuda\n"
    )
    assert expected == text


def test_nvidia_absent_fails_with_stable_code(tmp_path: Path) -> None:
    """CUDA asked for on a machine without an NVIDIA GPU fails with ACCELERATOR_MISSING."""
    report = report_for(tmp_path)
    decision = decide(report, Requirements(accelerator=Accelerator.CUDA))
    expected = Problem(
        PreflightExit.ACCELERATOR_MISSING,
        "requested accelerator 'cuda': no NVIDIA GPU (no DRM device has PCI vendor 0x10de); "
        "allow CPU fallback (--allow-cpu-fallback) or fix the driver",
    )
    assert (None, (expected,), PreflightExit.ACCELERATOR_MISSING) == (
        decision.accelerator, decision.problems, decision.exit_code
    )


def test_nvidia_absent_falls_back_to_cpu_when_allowed(tmp_path: Path) -> None:
    """With CPU fallback allowed, a missing NVIDIA GPU means CPU, and the note says why."""
    report = report_for(tmp_path)
    decision = decide(report, Requirements(accelerator=Accelerator.CUDA, allow_cpu_fallback=True))
    expected = Decision(
        accelerator=Accelerator.CPU,
        problems=(),
        notes=(
            "requested accelerator 'cuda': no NVIDIA GPU (no DRM device has PCI vendor "
            "0x10de); falling back to CPU",
        ),
    )
    assert expected == decision


def test_nvidia_card_without_kernel_module_names_the_module(tmp_path: Path) -> None:
    """An NVIDIA card whose driver is not loaded is not CUDA, and the message says why."""
    report = report_for(tmp_path, cards={"card0": "0x10de"})
    decision = decide(report, Requirements(accelerator=Accelerator.CUDA))
    expected = (
        "requested accelerator 'cuda': an NVIDIA GPU is present but the nvidia kernel module is "
        "not loaded (/proc/driver/nvidia missing); allow CPU fallback (--allow-cpu-fallback) or "
        "fix the driver"
    )
    assert expected == decision.problems[0].message


def test_amd_present_is_detected_but_not_usable(tmp_path: Path) -> None:
    """An AMD GPU (0x1002) is found and reported; EXO on Linux cannot use it, so CPU (allowed)."""
    report = report_for(tmp_path, cards={"card0": "0x1002", "card1": "0x8086"})
    decision = decide(report, Requirements(allow_cpu_fallback=True))
    found = [(GpuVendor.AMD, "amdgpu"), (GpuVendor.INTEL, "i915")]
    assert found == [(g.vendor, g.driver) for g in report.drm_gpus]
    expected = Decision(
        accelerator=Accelerator.CPU,
        problems=(),
        notes=(
            "GPUs EXO cannot use on Linux (no ROCm/oneAPI/Vulkan backend): card0 (amd), "
            "card1 (intel)",
            "no usable GPU: no NVIDIA GPU (no DRM device has PCI vendor 0x10de); "
            "falling back to CPU",
        ),
    )
    assert expected == decision


@pytest.mark.parametrize(
    ("accelerator", "message"),
    [
        (
            Accelerator.ROCM,
            "accelerator 'rocm' is not available: upstream EXO has no ROCm backend (on Linux it "
            "runs MLX on CUDA or on the CPU); choose 'cuda' or 'cpu'",
        ),
        (
            Accelerator.MLX,
            "accelerator 'mlx' (Apple Silicon, Metal) exists only on macOS; on Linux EXO runs "
            "MLX on CUDA or on the CPU: choose 'cuda' or 'cpu'",
        ),
    ],
)
def test_rocm_and_mlx_are_refused_on_linux(
    tmp_path: Path, accelerator: Accelerator, message: str
) -> None:
    """rocm and mlx are refused on Linux even with an AMD GPU and CPU fallback allowed."""
    report = report_for(tmp_path, cards={"card0": "0x1002"})
    decision = decide(report, Requirements(accelerator=accelerator, allow_cpu_fallback=True))
    expected = Decision(
        accelerator=None,
        problems=(Problem(PreflightExit.ACCELERATOR_UNSUPPORTED, message),),
        notes=(),
    )
    assert expected == decision


def test_cpu_only_machine_runs_on_cpu(tmp_path: Path) -> None:
    """No GPU and `cpu` asked for: CPU, no problems, CPU facts parsed from /proc/cpuinfo."""
    report = report_for(tmp_path)
    decision = decide(report, Requirements(accelerator=Accelerator.CPU))
    assert Decision(accelerator=Accelerator.CPU, problems=(), notes=()) == decision
    assert (
        CpuInfo(
            model="Test CPU 9000", logical_cpus=2,
            flags=("avx", "avx2", "f16c", "fma", "fpu", "sse4_2"),
        )
        == report.cpu
    )
    assert MemoryFact(total_mib=64000, available_mib=32000) == report.memory


def test_cpu_without_avx2_is_slow_and_a_required_flag_blocks(tmp_path: Path) -> None:
    """A missing required CPU flag blocks with CPU_FEATURE_MISSING; no AVX2 is noted as slow."""
    report = report_for(tmp_path, cpuinfo=CPUINFO_OLD)
    decision = decide(
        report, Requirements(accelerator=Accelerator.CPU, required_cpu_flags=("avx2",))
    )
    expected = Decision(
        accelerator=Accelerator.CPU,
        problems=(
            Problem(PreflightExit.CPU_FEATURE_MISSING, "CPU lacks required flag(s) avx2 (Old CPU)"),
        ),
        notes=("CPU inference without AVX2/ASIMD will be very slow",),
    )
    assert expected == decision


def test_too_little_disk_fails(tmp_path: Path) -> None:
    """Less free space for the model store than required fails with DISK_LOW."""
    report = report_for(tmp_path)
    disk = DiskInfo(model_store="/var/lib/exo/models", measured_at="/var/lib", free_mib=100,
                    total_mib=1000)
    decision = decide(
        attrs.evolve(report, disk=disk), Requirements(accelerator=Accelerator.CPU)
    )
    expected = Problem(
        PreflightExit.DISK_LOW,
        "100 MiB free for the model store /var/lib/exo/models (on /var/lib), 1024 MiB required",
    )
    assert ((expected,), PreflightExit.DISK_LOW) == (decision.problems, decision.exit_code)


def test_too_little_disk_exit_code_from_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command exits 34 when the real filesystem under the store has less than asked."""
    sys_root, proc_root = make_host(tmp_path)
    argv = [
        "--sys-root", str(sys_root), "--proc-root", str(proc_root), "--no-nvml",
        "--accelerator", "cpu", "--model-store", str(tmp_path / "store" / "models"),
        "--min-free-disk-mib", str(2**50), "--json",
    ]
    code = main(argv, environ={})
    document = json.loads(capsys.readouterr().out)
    assert (34, ["disk_low"], str(tmp_path)) == (
        code,
        [p["name"] for p in document["decision"]["problems"]],
        document["found"]["disk"]["measured_at"],
    )


def test_too_little_memory_fails(tmp_path: Path) -> None:
    """Less available memory than required fails with MEMORY_LOW."""
    report = report_for(tmp_path)
    decision = decide(
        report, Requirements(accelerator=Accelerator.CPU, min_available_memory_mib=40000)
    )
    assert (
        Problem(PreflightExit.MEMORY_LOW, "32000 MiB memory available, 40000 MiB required"),
    ) == decision.problems


def test_unreadable_meminfo_is_reported_not_guessed(tmp_path: Path) -> None:
    """A meminfo without MemAvailable is unreadable evidence, and blocks only when required."""
    report = report_for(tmp_path, meminfo="MemTotal: 1000 kB\n")
    blocked = decide(
        report, Requirements(accelerator=Accelerator.CPU, min_available_memory_mib=1)
    )
    expected = [PreflightExit.UNREADABLE]
    assert expected == [p.code for p in blocked.problems]
    assert decide(report, Requirements(accelerator=Accelerator.CPU)).ok


def test_unreadable_fact_keeps_its_json_form(tmp_path: Path) -> None:
    """A fact that could not be read is published as {"unreadable": what, "reason": why}."""
    report = report_for(tmp_path, meminfo="MemTotal: 1000 kB\n")
    expected = {"unreadable": "memory",
                "reason": f"{tmp_path / 'proc' / 'meminfo'}: MemTotal or MemAvailable missing"}
    assert expected == report.to_json()["memory"]


def test_meminfo_is_read_as_the_host_backend_reads_it(tmp_path: Path) -> None:
    """The preflight and the host backend's /proc reader give the same memory fact."""
    _, proc_root = make_host(tmp_path)
    report = gather(sys_root=tmp_path / "sys", proc_root=proc_root,
                    model_store=tmp_path, nvml=no_nvml)
    assert ProcFs(proc_root).memory() == report.memory


@pytest.mark.skipif(bool(ctypes.util.find_library("nvidia-ml")),
                    reason="an NVIDIA driver is present: the no-driver report is moot")
def test_no_driver_nvml_report_has_the_value_and_the_text_apart() -> None:
    """Without a driver, NVML's error value (12) and its text are reported apart."""
    expected = NvmlReport.unavailable("NVML Shared Library Not Found", 12)
    assert expected == read_nvml()


def test_command_nvidia_present_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`dubnium-preflight --json` on an NVIDIA tree exits 0 and names cuda."""
    sys_root, proc_root = make_host(tmp_path, cards={"card0": "0x10de"}, nvidia_driver=True)
    code = main(
        ["--sys-root", str(sys_root), "--proc-root", str(proc_root), "--no-nvml", "--json",
         "--model-store", str(tmp_path), "--min-free-disk-mib", "0"],
        environ={},
    )
    decision = json.loads(capsys.readouterr().out)["decision"]
    expected = (0, "cuda", True)
    assert expected == (code, decision["accelerator"], decision["ok"])


def test_command_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown accelerator is a usage error (exit 2), not a hardware failure."""
    with pytest.raises(SystemExit) as exc:
        main(["--accelerator", "tpu"], environ={})
    usage = 2
    assert usage == exc.value.code
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_default_model_store_follows_exo() -> None:
    """The model store defaults to where upstream EXO puts models for that environment."""
    assert [
        Path("/m"),
        Path("/d/exo/models"),
        Path("/var/lib/exo/.local/share/exo/models"),
    ] == [
        default_model_store({"EXO_DEFAULT_MODELS_DIR": "/m", "XDG_DATA_HOME": "/d"}),
        default_model_store({"XDG_DATA_HOME": "/d"}),
        default_model_store({"HOME": "/var/lib/exo"}),
    ]


def test_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    """Against the real /sys and /proc (and real NVML): facts match the kernel's own counts."""
    report = gather(
        sys_root=Path("/sys"), proc_root=Path("/proc"), model_store=Path("/tmp"), nvml=read_nvml
    )
    assert isinstance(report.cpu, CpuInfo)
    assert isinstance(report.memory, MemoryFact)
    mib = 1024 * 1024
    expected_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // mib
    assert (os.sysconf("SC_NPROCESSORS_ONLN"), expected_total) == (
        report.cpu.logical_cpus, report.memory.total_mib
    )
    # NVML either answers or says why not, with the library's error value.
    assert report.nvml.available or (report.nvml.error_value is not None and report.nvml.error)
    code = main(["--json", "--allow-cpu-fallback", "--model-store", "/tmp",
                 "--min-free-disk-mib", "0"])
    document = json.loads(capsys.readouterr().out)
    expected_accelerator = "cuda" if report.cuda_usable else "cpu"
    assert (0, expected_accelerator) == (code, document["decision"]["accelerator"])


@pytest.mark.gpu
@pytest.mark.skipif(not read_nvml().gpus, reason="needs an NVIDIA GPU with its driver (NVML)")
def test_this_machine_gpu_is_cuda() -> None:
    """On a machine with an NVIDIA GPU, NVML lists it and the preflight chooses CUDA."""
    report = gather(
        sys_root=Path("/sys"), proc_root=Path("/proc"), model_store=Path("/tmp"), nvml=read_nvml
    )
    decision = decide(report, Requirements(accelerator=Accelerator.CUDA, min_free_disk_mib=0))
    expected = (Accelerator.CUDA, ())
    assert expected == (decision.accelerator, decision.problems)
    assert all(g.uuid.startswith("GPU-") for g in report.nvml.gpus)
