"""The preflight for `mode doctor`: the host's accelerators, CPU, memory and model store.

Called by `backends.host.HostBackend.hardware_findings` (the doctor's optional
`dubnium.doctor.HardwareProbe`). The same reads and decision as `dubnium-preflight`, with the
requirements taken from the policy instead of the command line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from backends.nvml import NvmlAdapter
from backends.preflight.cli import render_json, render_text
from backends.preflight.decide import Requirements, decide
from backends.preflight.facts import NvmlReport
from backends.preflight.read import gather, read_nvml
from dubnium.doctor import HardwareFindings
from dubnium.policy import Policy

NVML_LEFT_ALONE = "not read: studio-local is in force (NVML left alone)"


def requirements(policy: Policy) -> Requirements:
    """The accelerator is chosen, never required (a missing GPU is a note here; the doctor's
    evidence and GPU topology already name it as a problem); the model store needs the free
    space the `persistence_paths_ready` guard asks for."""
    return Requirements(
        accelerator=None,
        allow_cpu_fallback=True,
        min_free_disk_mib=policy.thresholds.model_store_free_min_mib,
        platform=sys.platform,
    )


def findings(
    policy: Policy,
    *,
    sys_root: Path,
    proc_root: Path,
    model_store: Path,
    nvml: NvmlAdapter | None,
) -> HardwareFindings:
    """Read, decide, and give the doctor the text, the problems and the JSON document.
    `nvml` None: NVML is not asked (studio-local is in force)."""
    req = requirements(policy)
    report = gather(
        sys_root=sys_root, proc_root=proc_root, model_store=model_store,
        nvml=(lambda: NvmlReport.unavailable(NVML_LEFT_ALONE)) if nvml is None
        else (lambda: read_nvml(nvml)),
    )
    decision = decide(report, req)
    return HardwareFindings(
        summary=tuple(render_text(report, decision).splitlines()),
        problems=tuple(p.message for p in decision.problems),
        data=json.loads(render_json(report, decision, req)),
    )
