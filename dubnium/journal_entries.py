"""Structured journal entries for every transition attempt and step (`journalctl`-readable).

Called by the host session (`backends.session`), which adds a `JournalReporter` to the
reconciler's reporters on the host backend, with `backends.journald.JournalSink` as its sink
(pystemd's binding of `sd_journal_sendv`). One entry per event, each kind with its own
MESSAGE_ID (stable: the catalogue below is a public contract, documented in docs/journal.md),
and these fields:

    MODE_FROM  MODE_TO  OUTCOME  EXIT_CODE  ATTEMPT  LEG  STEP  STEP_STATUS  ELAPSED_S
    BOUND_S  GUARD  SYSLOG_IDENTIFIER=mode

Pure: builds field maps and hands them to the sink; `status` lines go to the sink's
`status()` (sd_notify STATUS= when run as a unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

from dubnium import plan as p
from dubnium.backend import Clock
from dubnium.modes import Mode
from dubnium.reconcile import Reporter
from dubnium.records import AttemptRecord, Record

IDENTIFIER = "mode"


class MessageId(StrEnum):
    """One MESSAGE_ID per kind of event (128-bit, fixed once; never reuse one)."""

    ATTEMPT_STARTED = "56730df119524f38959eeae5920f1664"
    STEP_STARTED = "b262ae83445941a4b3f228c340734fb1"
    STEP_FINISHED = "275bcb95a52d495cad43c5a7acfddcd8"
    ATTEMPT_FINISHED = "0203eed483d3469590dece0239b237ba"
    GUARD_BLOCKED = "fb9b37e176484f01922c6427a6aeb220"
    NOTIFICATION = "63a3bff1e6d44314bf2cc0ebffc45f49"


# syslog priorities
INFO, NOTICE, WARNING, ERR = 6, 5, 4, 3
_OUTCOME_PRIORITY = {"converged": NOTICE, "already-converged": INFO, "blocked": WARNING,
                     "cancelled": NOTICE, "degraded": WARNING, "rolled-back": ERR,
                     "failed-transition": ERR, "lock-busy": WARNING, "abandoned": ERR,
                     "internal-error": ERR}


class Sink(Protocol):
    """Where entries go: the journal on the host, a list in tests."""

    def send(self, fields: Mapping[str, str]) -> None: ...

    def status(self, text: str) -> None: ...


def _fields(message_id: MessageId, message: str, priority: int,
            **extra: object) -> dict[str, str]:
    out = {"MESSAGE_ID": message_id.value, "MESSAGE": message, "PRIORITY": str(priority),
           "SYSLOG_IDENTIFIER": IDENTIFIER}
    out.update({k: str(v) for k, v in extra.items() if v is not None})
    return out


class JournalReporter(Reporter):
    """The reconciler's hooks as journal entries."""

    def __init__(self, sink: Sink, clock: Clock) -> None:
        self.sink = sink
        self.clock = clock
        self.attempt = ""
        self.target = ""
        self._t0 = 0

    def attempt_started(self, attempt_id: str, target: Mode) -> None:
        self.attempt, self.target = attempt_id, target.value
        self.sink.send(_fields(MessageId.ATTEMPT_STARTED, f"switching to {target.value}", INFO,
                               ATTEMPT=attempt_id, MODE_TO=target.value))
        self.sink.status(f"switching to {target.value}")

    def step_started(self, leg: str, step: p.Step) -> None:
        self._t0 = self.clock.monotonic_ns()
        bound = getattr(step, "bound_s", None)
        self.sink.send(_fields(MessageId.STEP_STARTED, f"{leg}: {step.describe()}", INFO,
                               ATTEMPT=self.attempt, MODE_TO=self.target, LEG=leg,
                               STEP=type(step).__name__, BOUND_S=bound))
        self.sink.status(f"to {self.target}: {leg}: {step.describe()}")

    def step_finished(self, leg: str, step: p.Step, status: str, detail: str) -> None:
        elapsed = (self.clock.monotonic_ns() - self._t0) / 1e9
        self.sink.send(_fields(
            MessageId.STEP_FINISHED, f"{leg}: {step.describe()}: {status}: {detail}",
            INFO if status == "ok" else ERR, ATTEMPT=self.attempt, MODE_TO=self.target,
            LEG=leg, STEP=type(step).__name__, STEP_STATUS=status,
            ELAPSED_S=f"{elapsed:.3f}", BOUND_S=getattr(step, "bound_s", None)))
        if isinstance(step, p.NotifyUser):
            self.notification(step.summary, detail.startswith("delivered") and
                              not detail.startswith("delivered to 0 "), detail)

    def attempt_finished(self, record: Record) -> None:
        attempt = record.attempt or self.attempt
        outcome = record.outcome.value
        typed = record if isinstance(record, AttemptRecord) else None
        common = {"ATTEMPT": attempt, "MODE_FROM": typed.from_state if typed else None,
                  "MODE_TO": typed.requested.value if typed else record.requested,
                  "OUTCOME": outcome, "EXIT_CODE": record.exit_code}
        for verdict in typed.guards if typed else ():
            if typed is not None and verdict.guard.value in typed.blocking:
                self.sink.send(_fields(
                    MessageId.GUARD_BLOCKED, f"blocked by {verdict.guard.value}: "
                    f"{verdict.reason}", WARNING, GUARD=verdict.guard.value, **common))
        self.sink.send(_fields(MessageId.ATTEMPT_FINISHED, f"{outcome}: {record.summary}",
                               _OUTCOME_PRIORITY.get(outcome, NOTICE), **common))
        self.sink.status(f"{outcome}: {record.summary}")

    def notification(self, summary: str, delivered: bool, detail: str) -> None:
        """A desktop notification's delivery, as its own entry."""
        self.sink.send(_fields(MessageId.NOTIFICATION,
                               f"notification {'delivered' if delivered else 'NOT delivered'}: "
                               f"{summary} ({detail})", INFO if delivered else WARNING,
                               ATTEMPT=self.attempt, MODE_TO=self.target,
                               DELIVERED=int(delivered), STEP="NotifyUser"))


class MemorySink:
    """Entries kept in a list (tests, and the simulator's record of what would be logged)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []
        self.statuses: list[str] = []

    def send(self, fields: Mapping[str, str]) -> None:
        self.entries.append(dict(fields))

    def status(self, text: str) -> None:
        self.statuses.append(text)
