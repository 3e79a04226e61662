"""Rendering at the CLI's edge: the text a person reads and the one JSON contract of the verbs.

Called by the verbs of `mode` (`dubnium.verbs_read`, `dubnium.verbs_switch`) only. Records,
reports and observations keep the names their owners give them (the transition record's
`requested`, `final_state`); every `--json` output goes through one function here that gives
it the contract of docs/schemas/: a `schema_version`, and one field name per concept across
verbs —

- `observed_state`: what observation shows (never the target),
- `target`: the mode a request, a plan or a guard check is for,
- `blocking`: the guard ids that block (a list, empty when none).

A test validates every verb's output against its schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from dubnium.guards import PHASES, GuardReport, Phase, Status
from dubnium.observe import Observation
from dubnium.plan import Plan
from dubnium.records import (
    AbandonedRecord,
    AttemptRecord,
    RecordUnreadable,
    StepStatus,
    from_json,
)

JSON_SCHEMA_VERSION = 1

# ----------------------------------------------------------------------- the JSON contract


def stamp(data: Mapping[str, Any]) -> dict[str, Any]:
    """The output with its schema version (the contract's, first)."""
    return {**data, "schema_version": JSON_SCHEMA_VERSION}


def plan_json(plan: Plan) -> dict[str, Any]:
    """A plan: `observed_state` it starts from, `target`, its legs."""
    raw = plan.to_json()
    return stamp({"observed_state": raw["from"], "target": raw["to"], "noop": raw["noop"],
                  "legs": raw["legs"]})


def report_json(report: GuardReport) -> dict[str, Any]:
    return stamp(report.to_json())


def record_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """A transition record (request, reconcile, boot, last-transition, history lines).

    `requested` is the `target`, `final_state` the `observed_state` after the attempt; a
    record without them (lock busy, abandoned, internal error) gets null, not a missing key.
    """
    out = {k: v for k, v in record.items() if k not in ("requested", "final_state")}
    out["target"] = record.get("requested")
    out["observed_state"] = record.get("final_state")
    out["blocking"] = list(record.get("blocking") or [])
    if isinstance(record.get("plan"), Mapping):
        plan = record["plan"]
        out["plan"] = {"observed_state": plan.get("from"), "target": plan.get("to"),
                       "noop": plan.get("noop"), "legs": plan.get("legs", [])}
    return stamp(out)


def dumps(data: Mapping[str, Any] | list[Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True)


def json_line(data: Mapping[str, Any]) -> str:
    """One JSON Lines line (history)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------- text


def observation_text(obs: Observation) -> str:
    lines = [f"{obs.state.value} (confidence {obs.confidence.value})"]
    lines += [f"  conflict: {c}" for c in obs.conflicts]
    missing = obs.evidence.get("unavailable") or {}
    lines += [f"  unavailable: {k}: {v}" for k, v in missing.items()]
    return "\n".join(lines)


def record_text(record: AttemptRecord, summary: str) -> str:
    lines = [f"{record.outcome.value}: {summary}"]
    for step in record.steps:
        mark = "ok " if step.status is StepStatus.OK else "ERR"
        leg = step.leg + (" (rollback)" if step.rollback else "")
        lines.append(f"  [{mark}] {leg}: {step.step} -> {step.detail}")
    for verdict in record.guards:
        if verdict.status is not Status.PASS:
            lines.append(f"  guard {verdict.guard.value} ({verdict.severity.value}): "
                         f"{verdict.status.value} [{verdict.exit_code}] {verdict.reason}")
    if record.final_state is not None:
        lines.append(f"  observed now: {record.final_state}")
    return "\n".join(lines)


def last_transition_text(record: AttemptRecord) -> str:
    return (f"{record.outcome.value}: {record.summary}\n"
            f"  requested {record.requested.value} from {record.from_state} at "
            f"{record.started_at}, finished {record.finished_at}")


def report_lines(report: GuardReport, leg: str) -> list[str]:
    lines = []
    for v in report.verdicts:
        phase = PHASES[v.guard]
        lines.append(f"  {leg} {v.guard.value:30} {v.severity.value:4} {v.status.value:5} "
                     f"[{v.exit_code:2}] {v.reason}" + (
                         " (checked after the GUI is gone)" if phase is Phase.POST else ""))
    return lines


def plan_lines(plan: Plan, reports: Iterable[GuardReport] | None = None) -> list[str]:
    lines = [f"from {plan.current.value} to {plan.target.value}"]
    if plan.noop:
        lines.append("  already there: nothing to do")
    report_list = list(reports) if reports is not None else [None] * len(plan.legs)
    for leg, report in zip(plan.legs, report_list, strict=True):
        lines.append(f"  leg {leg.name}: {leg.source} -> {leg.target.value}")
        lines += [f"    {i}. {s.describe()}" for i, s in enumerate(leg.steps, 1)]
        if report is not None:
            lines += report_lines(report, f"    {leg.name}")
    return lines


def history_line(data: Mapping[str, Any] | None, where: str) -> str:
    """One audit line as text: its record (any record version), or why it is not one."""
    if data is None:
        return f"{where}: damaged (kept as written)"
    kind = str(data.get("kind", ""))
    if kind.startswith("idle-"):  # idle automation's own records (dubnium.idlewatch)
        detail = data.get("summary") or data.get("until") or data.get("acknowledged") or ""
        return f"{data.get('at', '?')}  {kind:12} {'':17} by {data.get('by', '?')}" + (
            f": {detail}" if detail else "")
    try:
        record = from_json(data)
    except RecordUnreadable:
        return f"{where}: not a transition record this version can read"
    requested = (record.requested if isinstance(record, AbandonedRecord)
                 else record.requested.value)
    return (f"{record.finished_at or '?'}  {requested or '?':12} "
            f"{record.outcome.value:17} {record.summary}")


def lock_text(lock: Mapping[str, Any]) -> str:
    """A busy lock as a person reads it; a holder record we may not read is said so."""
    pid = lock.get("pid")
    if not isinstance(pid, int):
        return "held by another transition (its holder record is not readable by this user)"
    text = f"held by pid {pid}"
    if lock.get("target"):
        text += f", switching to {lock['target']}"
    if lock.get("started_at"):
        text += f" since {lock['started_at']}"
    if lock.get("stale"):
        text += (f" (stale: held {lock.get('age_s', 0):.0f} s, over "
                 "timeouts.lock_stale_s)")
    return text

