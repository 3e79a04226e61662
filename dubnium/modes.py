"""Requested modes and observed states.

Used by every other module: the policy, the observer, the planner, the CLI. String-valued
enums so that their JSON and plain-text forms are the names the seeds use.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """A mode an operator can request."""

    DESKTOP = "desktop"
    STUDIO_LOCAL = "studio-local"
    COMPUTE = "compute"

    @classmethod
    def parse(cls, text: str) -> Mode:
        """The mode named by `text`, or ValueError naming the choices."""
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown mode {text!r}; expected one of: {choices}") from None


class ObservedState(StrEnum):
    """What the observer can say about the host: a mode, or an honest non-mode."""

    DESKTOP = "desktop"
    STUDIO_LOCAL = "studio-local"
    COMPUTE = "compute"
    TRANSITIONING = "transitioning"
    DEGRADED_DESKTOP = "degraded-desktop"
    DEGRADED_COMPUTE = "degraded-compute"
    FAILED_TRANSITION = "failed-transition"
    UNKNOWN = "unknown"
    MAINTENANCE = "maintenance"  # reserved (seed 002); never produced in v1

    @property
    def mode(self) -> Mode | None:
        """The mode this state satisfies exactly, if any."""
        try:
            return Mode(self.value)
        except ValueError:
            return None

    @property
    def is_safe_resting(self) -> bool:
        """A state a failed transition may roll back to."""
        return self.mode is not None


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
