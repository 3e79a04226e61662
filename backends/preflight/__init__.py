"""Hardware preflight: what accelerators, CPU, memory and disk this node has, and which
accelerator a workload (EXO, vLLM) should use.

Called as the console script `dubnium-preflight`, the `ExecStartPre=` of `exo.service`
(nixos/units/exo.nix), and by `mode doctor` on the host backend
(`backends.host.HostBackend.hardware_findings` -> `doctor.findings`, which reports the same
findings with the requirements taken from the policy). Built on the shared adapters:
NVML through `backends.nvml`, /proc/meminfo through `backends.procfs`, and a fact that could
not be read is `dubnium.facts.Unavailable`.

    facts.py   the frozen report (`HardwareReport` and its parts)
    read.py    `gather()`: the only reads of the host (every root injectable; NVML a probe)
    decide.py  `decide()`: pure; the report and the `Requirements` in, a `Decision` out
    cli.py     `main()`: the command line and the text/JSON rendering; exit codes
               (`PreflightExit`) are a public contract
    doctor.py  `findings()`: the same, for `mode doctor` (`dubnium.doctor.HardwareProbe`)
"""

from __future__ import annotations

from backends.preflight.cli import build_parser, main, render_json, render_text
from backends.preflight.decide import Decision, PreflightExit, Problem, Requirements, decide
from backends.preflight.facts import (
    Accelerator,
    CpuInfo,
    DiskInfo,
    DrmGpu,
    GpuVendor,
    HardwareReport,
    NvidiaProcDriver,
    NvmlReport,
)
from backends.preflight.read import default_model_store, gather, read_nvml

__all__ = [
    "Accelerator",
    "CpuInfo",
    "Decision",
    "DiskInfo",
    "DrmGpu",
    "GpuVendor",
    "HardwareReport",
    "NvidiaProcDriver",
    "NvmlReport",
    "PreflightExit",
    "Problem",
    "Requirements",
    "build_parser",
    "decide",
    "default_model_store",
    "gather",
    "main",
    "read_nvml",
    "render_json",
    "render_text",
]
