"""The typed records of transition attempts, and their one serializer.

Built by the reconciler (`attempt`, `reconcile`), written by it to `last-transition.json` and
the audit log through `to_json`, and read back through `from_json` by `mode history`,
`mode last-transition` and the simulator's harness. Readers use attributes, never string
keys. `from_json` also reads the records written before these types existed (schema 1: the
same keys, no types), so an old audit log stays readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import attrs

from dubnium.codes import GuardId
from dubnium.errors import RecordUnreadable
from dubnium.facts import VllmProfile
from dubnium.modes import Mode
from dubnium.verdicts import Severity, Status, Verdict

# The record's own version, beside the `schema_version` of the file that holds it (the audit
# log, last-transition.json). 1: untyped dicts with the same keys (no `record_version`);
# 2: these types.
RECORD_VERSION = 2
ROLLBACK_SUFFIX = " (rollback)"

Json = dict[str, Any]


class Outcome(StrEnum):
    CONVERGED = "converged"
    ALREADY = "already-converged"
    BLOCKED = "blocked"
    ROLLED_BACK = "rolled-back"
    DEGRADED = "degraded"
    FAILED = "failed-transition"
    LOCK_BUSY = "lock-busy"
    INTERRUPTED = "interrupted"  # a signal stopped it at a step boundary; rolled back
    ABANDONED = "abandoned"  # a controller died holding the lock; found by the next one
    ERROR = "internal-error"
    CANCELLED = "cancelled"  # `mode cancel` during the grace period: nothing changed


class StepStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


@attrs.frozen
class StepEntry:
    """One executed step: what ran, how it ended, when and for how long."""

    leg: str
    step: str
    status: StepStatus
    detail: str
    at: str
    elapsed_s: float
    rollback: bool = False


@attrs.frozen
class Rollback:
    """The undoing of a failed attempt: toward which safe mode, by which legs, and its error."""

    to: Mode
    legs: tuple[str, ...]
    error: str | None = None


@attrs.frozen
class AttemptStart:
    """What is known of an attempt when it starts: the head of its record."""

    attempt: str
    requested: Mode
    by: str
    pid: int
    started_at: str
    lock_recovered: Mapping[str, Any] | None = None


@attrs.frozen
class AttemptRecord:
    """Everything one attempt did and decided; the value behind `last-transition.json`."""

    attempt: str
    requested: Mode
    by: str
    pid: int
    started_at: str
    outcome: Outcome
    exit_code: int
    summary: str
    finished_at: str
    from_state: str | None = None  # the observed state the attempt started from
    prior_safe: Mode | None = None
    desired_before: Mode | None = None
    plan: Mapping[str, Any] | None = None  # the plan's own JSON (`Plan.to_json`)
    blocking: tuple[str, ...] = ()
    steps: tuple[StepEntry, ...] = ()
    guards: tuple[Verdict, ...] = ()
    vllm_profile: VllmProfile | None = None
    exo_profile: VllmProfile | None = None
    notes: tuple[str, ...] = ()
    final_state: str | None = None
    failure: str | None = None
    rollback: Rollback | None = None
    duration_s: float | None = None
    lock_recovered: Mapping[str, Any] | None = None
    holder: Mapping[str, Any] | None = None  # lock-busy: who holds the lock
    trace: str | None = None  # internal-error: the traceback
    external_changes: tuple[ExternalChange, ...] = ()
    signal: str | None = None  # interrupted: the signal that stopped it

    @classmethod
    def begun(cls, start: AttemptStart, *, outcome: Outcome, exit_code: int, summary: str,
              finished_at: str, **fields: Any) -> AttemptRecord:
        """A record with the head `start`."""
        return cls(attempt=start.attempt, requested=start.requested, by=start.by,
                   pid=start.pid, started_at=start.started_at,
                   lock_recovered=start.lock_recovered, outcome=outcome, exit_code=exit_code,
                   summary=summary, finished_at=finished_at, **fields)


@attrs.frozen
class ExternalChange:
    """A slice property found, at the overlay's exit, at neither the overlay's value nor the
    value saved on entry: someone else changed it while studio-local was in force."""

    slice: str
    field: str
    found: int | str | None  # a number, or a CPU list (allowed_cpus); None: unset
    overlay: int | str | None
    saved: int | str | None

    def describe(self) -> str:
        return (f"{self.slice} {self.field} was changed outside the controller while "
                f"studio-local was in force: found {self.found}, the overlay had set "
                f"{self.overlay}; restored the value saved on entry ({self.saved})")


class RecoveryOutcome(StrEnum):
    NOTHING_TO_UNDO = "nothing-to-undo"  # the dead attempt had changed nothing yet
    ALREADY_RECORDED = "already-recorded"  # it had written its record: nothing to finish
    RESTORED = "restored"  # its undo ran and the host is observed in the recovery target
    NOT_RESTORED = "not-restored"  # its undo ran but the target is not observed


@attrs.frozen
class Recovery:
    """What a controller found in a dead attempt's journal and what it did about it."""

    found: str  # the journal's last step: "T3 step 5 of 9 (forward): stop display-manager"
    outcome: RecoveryOutcome
    target: Mode | None = None  # the safe mode it restored (None: nothing was run)
    steps: tuple[StepEntry, ...] = ()
    final_state: str | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()


@attrs.frozen
class AbandonedRecord:
    """The record a controller writes for a dead one's attempt that has none."""

    attempt: str | None
    requested: str | None
    pid: int | None
    started_at: str | None
    summary: str
    finished_at: str
    recovery: Recovery | None = None

    @property
    def outcome(self) -> Outcome:
        return Outcome.ABANDONED

    @property
    def exit_code(self) -> None:
        return None


Record = AttemptRecord | AbandonedRecord


# --------------------------------------------------------------------- the serializer


def to_json(record: Record) -> Json:
    """The one JSON form of a record (the file's `schema_version` is added by its writer)."""
    if isinstance(record, AbandonedRecord):
        return {
            "kind": "transition",
            "attempt": record.attempt,
            "requested": record.requested,
            "pid": record.pid,
            "started_at": record.started_at,
            "outcome": Outcome.ABANDONED.value,
            "exit_code": None,
            "summary": record.summary,
            "finished_at": record.finished_at,
            "record_version": RECORD_VERSION,
            **({"recovery": _recovery_json(record.recovery)} if record.recovery else {}),
        }
    data: Json = {
        "kind": "transition",
        "record_version": RECORD_VERSION,
        "attempt": record.attempt,
        "requested": record.requested.value,
        "by": record.by,
        "pid": record.pid,
        "started_at": record.started_at,
        "outcome": record.outcome.value,
        "exit_code": record.exit_code,
        "summary": record.summary,
        "finished_at": record.finished_at,
        "blocking": list(record.blocking),
        "steps": [step_json(s) for s in record.steps],
        "guards": [v.to_json() for v in record.guards],
        "vllm_profile": record.vllm_profile.to_json() if record.vllm_profile else None,
        "exo_profile": record.exo_profile.to_json() if record.exo_profile else None,
        "notes": list(record.notes),
    }
    optional: Json = {
        "from": record.from_state,
        "prior_safe": record.prior_safe.value if record.prior_safe else None,
        "plan": dict(record.plan) if record.plan is not None else None,
        "final_state": record.final_state,
        "failure": record.failure,
        "rollback": _rollback_json(record.rollback) if record.rollback else None,
        "duration_s": record.duration_s,
        "lock_recovered": dict(record.lock_recovered) if record.lock_recovered else None,
        "holder": dict(record.holder) if record.holder else None,
        "trace": record.trace,
        "external_changes": [attrs.asdict(c) for c in record.external_changes] or None,
        "signal": record.signal,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    if record.plan is not None:  # written (even when null) by every attempt that planned
        data["desired_before"] = record.desired_before.value if record.desired_before else None
    return data


def step_json(step: StepEntry) -> Json:
    return {
        "leg": step.leg + (ROLLBACK_SUFFIX if step.rollback else ""),
        "step": step.step,
        "status": step.status.value,
        "detail": step.detail,
        "at": step.at,
        "elapsed_s": step.elapsed_s,
    }


def _recovery_json(recovery: Recovery) -> Json:
    return {"found": recovery.found, "outcome": recovery.outcome.value,
            "target": recovery.target.value if recovery.target else None,
            "steps": [step_json(s) for s in recovery.steps],
            "final_state": recovery.final_state, "error": recovery.error,
            "notes": list(recovery.notes)}


def _rollback_json(rollback: Rollback) -> Json:
    return {"to": rollback.to.value, "legs": list(rollback.legs), "error": rollback.error}


# --------------------------------------------------------------------- reading back


def from_json(data: Mapping[str, Any]) -> Record:
    """A record from its JSON (schema 1 or 2); `RecordUnreadable` for anything else."""
    try:
        return _from_json(data)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise RecordUnreadable(f"not a transition record: {exc!r}") from None


def _from_json(data: Mapping[str, Any]) -> Record:
    version = data.get("record_version", 1)
    if version not in (1, RECORD_VERSION) or data.get("kind", "transition") != "transition":
        raise ValueError(f"schema {version}, kind {data.get('kind')}")
    outcome = Outcome(data["outcome"])
    if outcome is Outcome.ABANDONED:
        return AbandonedRecord(
            attempt=_opt_str(data.get("attempt")), requested=_opt_str(data.get("requested")),
            pid=_opt_int(data.get("pid")), started_at=_opt_str(data.get("started_at")),
            summary=str(data.get("summary", "")), finished_at=str(data.get("finished_at", "")),
            recovery=_recovery_from(data.get("recovery")),
        )
    rollback = data.get("rollback")
    return AttemptRecord(
        attempt=str(data["attempt"]),
        requested=Mode(data["requested"]),
        by=str(data.get("by", "")),
        pid=int(data["pid"]),
        started_at=str(data["started_at"]),
        outcome=outcome,
        exit_code=int(data["exit_code"]),
        summary=str(data.get("summary", "")),
        finished_at=str(data.get("finished_at", "")),
        from_state=_opt_str(data.get("from")),
        prior_safe=_opt_mode(data.get("prior_safe")),
        desired_before=_opt_mode(data.get("desired_before")),
        plan=data.get("plan"),
        blocking=tuple(str(b) for b in data.get("blocking", ())),
        steps=tuple(from_step_json(s) for s in data.get("steps", ())),
        guards=tuple(_verdict_from(v) for v in data.get("guards", ())),
        vllm_profile=_profile_from(data.get("vllm_profile")),
        exo_profile=_profile_from(data.get("exo_profile")),
        notes=tuple(str(n) for n in data.get("notes", ())),
        final_state=_opt_str(data.get("final_state")),
        failure=_opt_str(data.get("failure")),
        rollback=None if rollback is None else Rollback(
            Mode(rollback["to"]), tuple(rollback.get("legs", ())), rollback.get("error")),
        duration_s=data.get("duration_s"),
        lock_recovered=data.get("lock_recovered"),
        holder=data.get("holder"),
        trace=_opt_str(data.get("trace")),
        external_changes=tuple(ExternalChange(**c) for c in data.get("external_changes", ())),
        signal=_opt_str(data.get("signal")),
    )


def _recovery_from(data: Mapping[str, Any] | None) -> Recovery | None:
    if data is None:
        return None
    return Recovery(
        found=str(data["found"]), outcome=RecoveryOutcome(data["outcome"]),
        target=_opt_mode(data.get("target")),
        steps=tuple(from_step_json(s) for s in data.get("steps", ())),
        final_state=_opt_str(data.get("final_state")), error=_opt_str(data.get("error")),
        notes=tuple(str(n) for n in data.get("notes", ())),
    )


def from_step_json(data: Mapping[str, Any]) -> StepEntry:
    leg = str(data["leg"])
    rollback = leg.endswith(ROLLBACK_SUFFIX)
    return StepEntry(
        leg=leg.removesuffix(ROLLBACK_SUFFIX), step=str(data["step"]),
        status=StepStatus(data["status"]), detail=str(data.get("detail", "")),
        at=str(data.get("at", "")), elapsed_s=float(data.get("elapsed_s", 0.0)),
        rollback=rollback,
    )


def _verdict_from(data: Mapping[str, Any]) -> Verdict:
    return Verdict(GuardId(data["guard"]), Severity(data["severity"]), Status(data["status"]),
                   str(data.get("reason", "")), dict(data.get("evidence") or {}))


def _profile_from(data: Mapping[str, Any] | None) -> VllmProfile | None:
    if data is None:
        return None
    return VllmProfile(str(data["name"]), tuple(data.get("gpu_uuids", ())),
                       tuple(int(i) for i in data.get("gpu_indices", ())))


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _opt_mode(value: object) -> Mode | None:
    return None if value is None else Mode(str(value))
