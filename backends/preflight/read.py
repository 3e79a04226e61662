"""Reading the host for the preflight: sysfs DRM devices, /proc, NVML and the model store.

Called by `backends.preflight.cli.main` (and by tests with small sysfs/procfs trees). Every
root is injectable (`sys_root`, `proc_root`), NVML is a probe passed in (`read_nvml` on the
real host, which asks the shared adapter `backends.nvml.NvmlAdapter`), and /proc/meminfo is
parsed by the shared `backends.procfs.parse_meminfo`. `gather()` is the only function here
that touches the host; a fact it cannot read becomes `Unavailable` with the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from backends.nvml import NvmlAdapter, NvmlUnavailable
from backends.preflight.facts import (
    CpuInfo,
    DiskInfo,
    DrmGpu,
    GpuVendor,
    HardwareReport,
    NvidiaProcDriver,
    NvmlReport,
)
from backends.procfs import parse_meminfo
from dubnium.facts import MemoryFact, Unavailable


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


def read_nvml(adapter: NvmlAdapter | None = None) -> NvmlReport:
    """Ask NVML through the shared adapter; why it could not be asked (NVML's error value and
    text, or a missing nvidia-ml-py) becomes the report."""
    try:
        inventory = (adapter or NvmlAdapter()).inventory()
    except NvmlUnavailable as exc:
        return NvmlReport.unavailable(exc.text, exc.value)
    return NvmlReport(available=True, driver_version=inventory.driver_version,
                      gpus=inventory.devices)


def default_model_store(environ: Mapping[str, str]) -> Path:
    """Where EXO keeps models: $EXO_DEFAULT_MODELS_DIR, else $XDG_DATA_HOME/exo/models, else
    ~/.local/share/exo/models (upstream exo/shared/constants.py, Linux)."""
    if "EXO_DEFAULT_MODELS_DIR" in environ:
        return Path(environ["EXO_DEFAULT_MODELS_DIR"]).expanduser()
    if "XDG_DATA_HOME" in environ:
        return Path(environ["XDG_DATA_HOME"]) / "exo" / "models"
    home = environ.get("HOME", str(Path.home()))
    return Path(home) / ".local" / "share" / "exo" / "models"


def read_disk(model_store: Path) -> DiskInfo | Unavailable:
    """statvfs of the model store, or of its nearest existing parent."""
    probe = model_store.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError as e:
        return Unavailable(f"statvfs {probe}: {e.strerror}")
    mib = 1024 * 1024
    return DiskInfo(
        model_store=str(model_store),
        measured_at=str(probe),
        free_mib=st.f_bavail * st.f_frsize // mib,
        total_mib=st.f_blocks * st.f_frsize // mib,
    )


def _read_memory(proc_root: Path) -> MemoryFact | Unavailable:
    path = proc_root / "meminfo"
    text = _read_text(path)
    if text is None:
        return Unavailable(f"cannot read {path}")
    try:
        return parse_meminfo(text)
    except ValueError as e:
        return Unavailable(f"{path}: {e}")


def gather(
    *,
    sys_root: Path,
    proc_root: Path,
    model_store: Path,
    nvml: Callable[[], NvmlReport],
) -> HardwareReport:
    """Read everything once. The only function here that touches the host."""
    cpu_text = _read_text(proc_root / "cpuinfo")
    cpu: CpuInfo | Unavailable = (
        CpuInfo.from_cpuinfo(cpu_text)
        if cpu_text is not None
        else Unavailable(f"cannot read {proc_root / 'cpuinfo'}")
    )
    return HardwareReport(
        drm_gpus=read_drm_gpus(sys_root),
        nvidia_driver=read_nvidia_proc(proc_root),
        nvml=nvml(),
        cpu=cpu,
        memory=_read_memory(proc_root),
        disk=read_disk(model_store),
    )
