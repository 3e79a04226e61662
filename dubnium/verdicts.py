"""A guard's verdict and a report of verdicts: the values, without the checks.

Kept apart from `dubnium.guards` (which evaluates them against the facts and the policy) so
that reading a transition record back (`dubnium.records`, and with it `mode history` and
`mode last-transition`) needs no guard logic, no evidence rules and no policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import attrs

from dubnium.codes import ExitCode, GuardId
from dubnium.modes import Mode

SCHEMA_VERSION = 1


class Severity(StrEnum):
    HARD = "hard"
    SOFT = "soft"


class Status(StrEnum):
    PASS = "pass"
    BLOCK = "block"
    ERROR = "error"


class Phase(StrEnum):
    PRE = "pre-action"  # checked before anything changes
    POST = "post-action"  # checked after the GUI is gone (the release predicate)


@attrs.frozen
class Verdict:
    guard: GuardId
    severity: Severity
    status: Status
    reason: str
    evidence: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def exit_code(self) -> int:
        if self.status is Status.PASS:
            return 0
        if self.status is Status.ERROR:
            return int(ExitCode.GUARD_CHECK_ERROR)
        return self.guard.exit_code

    @property
    def blocks(self) -> bool:
        return self.status is Status.ERROR or (
            self.status is Status.BLOCK and self.severity is Severity.HARD
        )

    @property
    def warns(self) -> bool:
        return self.status is Status.BLOCK and self.severity is Severity.SOFT

    def to_json(self) -> dict[str, Any]:
        return {
            "guard": self.guard.value,
            "severity": self.severity.value,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "evidence": dict(self.evidence),
        }


@attrs.frozen
class GuardReport:
    target: Mode
    verdicts: tuple[Verdict, ...]

    @property
    def blocking(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.blocks)

    @property
    def warnings(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.warns)

    @property
    def exit_code(self) -> int:
        """The first blocking guard's code, in evaluation order; 0 when nothing blocks."""
        return self.blocking[0].exit_code if self.blocking else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target.value,
            "passed": not self.blocking,
            "exit_code": self.exit_code,
            "blocking": [v.guard.value for v in self.blocking],
            "warnings": [v.guard.value for v in self.warnings],
            "verdicts": [v.to_json() for v in self.verdicts],
        }
