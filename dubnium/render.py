"""Rendering at the CLI's edge: the text a person reads and the one JSON contract of the verbs.

Called by the verbs of `mode` (`dubnium.verbs_read`, `dubnium.verbs_switch`) only. Records,
reports and observations keep the names their owners give them (the transition record's
`requested`, `final_state`); every `--json` output goes through one function here that gives
it the contract of docs/schemas/: a `schema_version`, and one field name per concept across
verbs —

- `observed_state`: what observation shows (never the target),
- `target`: the mode a request, a plan or a guard check is for,
- `blocking`: the guard ids that block (a list, empty when none).

A test validates every verb's output against its schema. The parts the read verbs need
(`stamp`, `record_json`, record, observation and lock text) live in `dubnium.readout`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dubnium.guards import PHASES, GuardReport, Phase, Status
from dubnium.plan import Plan
from dubnium.readout import JSON_SCHEMA_VERSION as JSON_SCHEMA_VERSION  # noqa: PLC0414
from dubnium.readout import dumps as dumps  # noqa: PLC0414 (re-exported for the CLI)
from dubnium.readout import history_line as history_line  # noqa: PLC0414
from dubnium.readout import json_line as json_line  # noqa: PLC0414
from dubnium.readout import last_transition_text as last_transition_text  # noqa: PLC0414
from dubnium.readout import lock_text as lock_text  # noqa: PLC0414
from dubnium.readout import observation_text as observation_text  # noqa: PLC0414
from dubnium.readout import record_json as record_json  # noqa: PLC0414
from dubnium.readout import stamp as stamp  # noqa: PLC0414
from dubnium.records import AttemptRecord, StepStatus

# ----------------------------------------------------------------------- the JSON contract


def plan_json(plan: Plan) -> dict[str, Any]:
    """A plan: `observed_state` it starts from, `target`, its legs."""
    raw = plan.to_json()
    return stamp({"observed_state": raw["from"], "target": raw["to"], "noop": raw["noop"],
                  "legs": raw["legs"]})


def report_json(report: GuardReport) -> dict[str, Any]:
    return stamp(report.to_json())


# ----------------------------------------------------------------------- text


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


