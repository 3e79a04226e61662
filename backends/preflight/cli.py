"""`dubnium-preflight`: the command line, and the report in text or JSON.

The console script (pyproject.toml: `backends.preflight:main`) is the `ExecStartPre=` of
`exo.service` (nixos/units/exo.nix). `main()` reads the host once (`read.gather`), decides
(`decide.decide`) and prints; it returns the exit code (`PreflightExit`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from backends.preflight.decide import Decision, PreflightExit, Requirements, decide
from backends.preflight.facts import Accelerator, CpuInfo, DiskInfo, HardwareReport, NvmlReport
from backends.preflight.read import default_model_store, gather, read_nvml
from dubnium.facts import MemoryFact

SCHEMA_VERSION = 1


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
    if isinstance(report.memory, MemoryFact):
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
