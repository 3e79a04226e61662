"""`mode doctor`: what this backend can observe, what it cannot and why; state and log health.

Called by `dubnium.verbs_read` (`mode doctor`). Reads the backend's facts, the runtime state
files and the audit log's newest lines (from its end, never the whole log); changes nothing.
Returns the JSON-ready data and the text together. A backend that can probe its hardware
(`HardwareProbe`: the host, through `backends.preflight`) adds the preflight's findings: what
accelerators, CPU, memory and disk it has, and what keeps compute from starting.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from dubnium.audit import AuditLog
from dubnium.backend import Backend
from dubnium.errors import StateCorrupt
from dubnium.facts import HostFacts, Unavailable
from dubnium.idle import IdleSource, hint_problems
from dubnium.policy import Policy
from dubnium.state import RuntimeState

EVIDENCE_GROUPS = ("units", "sessions", "processes", "audio", "gpus", "load", "memory",
                   "pressure", "slices", "paths")
STATE_FILES = ("desired.json", "current.json", "last-transition.json", "last-guards.json")
AUDIT_LINES_CHECKED = 1000  # the newest lines of the audit log that doctor parses


def audit_health(audit: AuditLog, lines: int = AUDIT_LINES_CHECKED) -> dict[str, Any]:
    """The damaged lines among the log's newest `lines` (read from its end: the cost is that
    of `lines`, not of the log), newest last, each by segment and byte offset."""
    newest = list(itertools.islice(audit.newest_first(), lines))
    return {"lines_checked": len(newest),
            "damaged": [e.where for e in reversed(newest) if e.damaged]}


@attrs.frozen
class HardwareFindings:
    """The hardware preflight's report: its text lines, its blocking problems, its JSON."""

    summary: tuple[str, ...]
    problems: tuple[str, ...]
    data: Mapping[str, Any]


@runtime_checkable
class HardwareProbe(Protocol):
    """A backend that can run the hardware preflight (the host; the simulator cannot)."""

    def hardware_findings(self, facts: HostFacts) -> HardwareFindings:
        """The preflight on this host; `facts` is the doctor's observation (NVML is left
        alone while studio-local is in force)."""
        ...


@attrs.frozen
class Diagnosis:
    data: dict[str, Any]
    text: str
    missing: bool  # some evidence could not be read


def diagnose(backend: Backend, policy: Policy, runtime: RuntimeState, audit: AuditLog,
             state_dir: Path, *, simulated: bool) -> Diagnosis:
    facts = backend.observe()
    problems: list[str] = []
    files: dict[str, str] = {}
    for name in STATE_FILES:
        try:
            files[name] = "missing" if runtime.read_json(name) is None else "ok"
        except StateCorrupt as exc:
            files[name] = f"corrupt: {exc}"
            problems.append(str(exc))
    seen = None if isinstance(facts.gpus, Unavailable) else [g.index for g in facts.gpus]
    topology = {
        "configured_present": list(policy.hardware.present_gpus),
        "display_gpu": policy.hardware.display_gpu,
        "compute_gpus": list(policy.hardware.compute_gpus),
        "seen": seen,
        "matches": seen is not None and sorted(seen) == sorted(policy.hardware.present_gpus),
    }
    missing = facts.unavailable()
    problems += [f"{k} unavailable: {v}" for k, v in missing.items()]
    if isinstance(backend, IdleSource):  # idle automation needs sessions that set IdleHint
        problems += hint_problems(backend.idle_facts(), policy.idle.enable)
    if seen is not None and not topology["matches"]:
        problems.append(f"GPU topology: configured {topology['configured_present']}, seen {seen}")
    hardware = backend.hardware_findings(facts) if isinstance(backend, HardwareProbe) else None
    if hardware is not None:
        problems += [f"hardware: {p}" for p in hardware.problems]
    evidence = {k: ("unavailable: " + missing[k]) if k in missing else "ok"
                for k in EVIDENCE_GROUPS}
    data = {
        "backend": dict(backend.describe()),
        "simulated": simulated,
        "evidence": evidence,
        "state_dir": str(state_dir),
        "state_files": files,
        "audit_log": audit_health(audit),
        "gpu_topology": topology,
        "problems": problems,
    }
    if hardware is not None:
        data["hardware"] = dict(hardware.data)
    lines = ["backend: " + ("sim (SIMULATOR: a simulated workstation)" if simulated else "host")]
    lines += [f"  {k}: {v}" for k, v in evidence.items()]
    lines.append(f"state dir {state_dir}: " + ", ".join(f"{k} {v}" for k, v in files.items()))
    lines.append(f"GPU topology: configured {topology['configured_present']}, seen {seen}")
    if hardware is not None:
        lines.append("hardware (the preflight of dubnium-preflight):")
        lines += [f"  {line}" for line in hardware.summary]
    lines += [f"problem: {p}" for p in problems] or ["no problems found"]
    return Diagnosis(data, "\n".join(lines), bool(missing))
