"""The attempt's write-ahead journal: durable before each step, enough to finish it.

Written by the attempt (`dubnium.attempt`) into the state directory (`journal.json`, through
`RuntimeState`) before every step it runs, forward, in rollback and in recovery, and removed
once its record is written. Read by the reconciler when it takes the lock: a journal whose
attempt has no record belongs to a controller that died, and `recovery_target` says what
finishing it means. Pure values and their JSON; no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import attrs

from dubnium import plan as p
from dubnium.facts import SliceSettings
from dubnium.modes import Mode
from dubnium.records import StepEntry, from_step_json, step_json

JOURNAL_FILE = "journal.json"
JOURNAL_VERSION = 1

# Steps that change the host (or the controller's own undo data). A journal that never got
# to one of these has nothing to undo.
MUTATING = (p.StartUnit, p.StopUnit, p.Isolate, p.ApplySlices, p.RestoreSlices,
            p.TerminateSessions, p.WriteGpuProfiles)


class Phase(StrEnum):
    FORWARD = "forward"
    ROLLBACK = "rollback"  # undoing after a failure, a block midway or a signal
    RECOVERY = "recovery"  # a later controller finishing a dead one's attempt


@attrs.frozen
class Journal:
    """One attempt's progress and what undoing it needs, as of the step about to run."""

    attempt: str
    pid: int
    requested: Mode
    prior_safe: Mode  # the safe mode a rollback restores
    started_at: str
    written_at: str
    phase: Phase
    leg: str
    step_index: int  # 1-based, within the leg
    step_count: int
    step: str  # the step about to run, described
    changed: bool  # a step that can change the host has started
    boot_id: str = ""  # a journal from an earlier boot has nothing left to undo
    started_units: tuple[str, ...] = ()  # units (and targets) the attempt has started
    slice_snapshot: Mapping[str, SliceSettings] | None = None  # saved on studio entry
    steps: tuple[StepEntry, ...] = ()  # the record so far

    def found(self) -> str:
        """The journal's last step, as a recovery reports it."""
        return (f"{self.leg} step {self.step_index} of {self.step_count} ({self.phase.value}): "
                f"{self.step}")

    def recovery_target(self, boot_id: str) -> Mode | None:
        """What finishing the attempt means: None when it changed nothing yet, or when the
        host has rebooted since (boot normalises to desktop; nothing is replayed).

        An exit to desktop is completed (desktop is the safe mode, and completing it restores
        the overlay's saved settings); a way out of compute never re-enters compute (ADR
        0007): desktop; anything else is rolled back to the prior safe mode.
        """
        if not self.changed or (self.boot_id and boot_id and boot_id != self.boot_id):
            return None
        if self.requested is Mode.DESKTOP or (
                self.prior_safe is Mode.COMPUTE and self.requested is not Mode.COMPUTE):
            return Mode.DESKTOP
        return self.prior_safe

    def to_json(self) -> dict[str, Any]:
        return {
            "journal_version": JOURNAL_VERSION,
            "attempt": self.attempt,
            "pid": self.pid,
            "requested": self.requested.value,
            "prior_safe": self.prior_safe.value,
            "started_at": self.started_at,
            "written_at": self.written_at,
            "phase": self.phase.value,
            "leg": self.leg,
            "step_index": self.step_index,
            "step_count": self.step_count,
            "step": self.step,
            "changed": self.changed,
            "boot_id": self.boot_id,
            "started_units": list(self.started_units),
            "slice_snapshot": None if self.slice_snapshot is None else {
                name: value.to_json() for name, value in self.slice_snapshot.items()},
            "steps": [step_json(s) for s in self.steps],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Journal:
        """Raises KeyError, ValueError or TypeError for anything that is not a journal."""
        if data.get("journal_version") != JOURNAL_VERSION:
            raise ValueError(f"journal version {data.get('journal_version')!r}")
        snapshot = data.get("slice_snapshot")
        return cls(
            attempt=str(data["attempt"]), pid=int(data["pid"]),
            requested=Mode(data["requested"]), prior_safe=Mode(data["prior_safe"]),
            started_at=str(data["started_at"]), written_at=str(data["written_at"]),
            phase=Phase(data["phase"]), leg=str(data["leg"]),
            step_index=int(data["step_index"]), step_count=int(data["step_count"]),
            step=str(data["step"]), changed=bool(data["changed"]),
            boot_id=str(data.get("boot_id", "")),
            started_units=tuple(str(u) for u in data.get("started_units", ())),
            slice_snapshot=None if snapshot is None else {
                str(name): SliceSettings.from_json(value) for name, value in snapshot.items()},
            steps=tuple(from_step_json(s) for s in data.get("steps", ())),
        )
