"""The read verbs' output: the JSON contract's stamp, a record as JSON and as text, an
observation and a lock as text.

Called by `dubnium.render` (which re-exports all of it for the CLI) and by `dubnium.status`
and `dubnium.readverbs` (the read verbs `status`, `desired`, `history`, `last-transition`
answered without the full CLI): kept apart from the rendering of plans and guard reports so
that those verbs import no planner and no guards. The JSON contract is described in
`dubnium.render`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dubnium.errors import RecordUnreadable
from dubnium.records import AbandonedRecord, AttemptRecord, from_json

if TYPE_CHECKING:
    from dubnium.observe import Observation

JSON_SCHEMA_VERSION = 1


def stamp(data: Mapping[str, Any]) -> dict[str, Any]:
    """The output with its schema version (the contract's, first)."""
    return {**data, "schema_version": JSON_SCHEMA_VERSION}


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


def observation_text(obs: Observation) -> str:
    lines = [f"{obs.state.value} (confidence {obs.confidence.value})"]
    lines += [f"  conflict: {c}" for c in obs.conflicts]
    missing = obs.evidence.get("unavailable") or {}
    lines += [f"  unavailable: {k}: {v}" for k, v in missing.items()]
    return "\n".join(lines)


def last_transition_text(record: AttemptRecord) -> str:
    return (f"{record.outcome.value}: {record.summary}\n"
            f"  requested {record.requested.value} from {record.from_state} at "
            f"{record.started_at}, finished {record.finished_at}")


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
