"""The trace hook: a recorder whose named methods the world calls as things happen.

`simulator.world.World` takes one `Recorder` (resolvelib-reporter style: every hook does
nothing by default) and calls it for every event it runs, every unit state change, every job,
every backend action and every change made through the world API. A subclass overrides the
hooks it cares about; the fault campaigns (issue 3) write a JSON-lines trace from them.
`CollectingRecorder` keeps every call in a list, for tests and debugging.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Recorder:
    """Named hooks, all no-ops. Arguments are JSON-ready values (str, int, float, bool)."""

    def event(self, at_ns: int, kind: str, args: Mapping[str, Any]) -> None:
        """A scheduled event is about to run."""

    def unit_state(self, at_ns: int, unit: str, old: str, new: str) -> None:
        """A unit's ActiveState changed."""

    def job(self, at_ns: int, unit: str, job_type: str, result: str) -> None:
        """A job was queued ("queued"), began ("running") or ended (done/failed/...)."""

    def session(self, at_ns: int, session_id: str, state: str) -> None:
        """A logind session appeared, changed state, or went away ("gone")."""

    def gpu_memory(self, at_ns: int, index: int, used_mib: int, why: str) -> None:
        """A GPU's used memory changed."""

    def action(self, at_ns: int, name: str, args: Mapping[str, Any]) -> None:
        """The controller called a backend action (before it takes effect)."""

    def observed(self, at_ns: int) -> None:
        """The controller took an observation."""

    def world_change(self, at_ns: int, what: str, args: Mapping[str, Any]) -> None:
        """The world API changed something (a user action or an injected fault)."""

    def notification(self, at_ns: int, summary: str, body: str) -> None:
        """The controller notified the interactive user."""


class CollectingRecorder(Recorder):
    """Keeps every hook call as `(hook name, at_ns, details)`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, dict[str, Any]]] = []

    def event(self, at_ns: int, kind: str, args: Mapping[str, Any]) -> None:
        self.calls.append(("event", at_ns, {"kind": kind, **args}))

    def unit_state(self, at_ns: int, unit: str, old: str, new: str) -> None:
        self.calls.append(("unit_state", at_ns, {"unit": unit, "old": old, "new": new}))

    def job(self, at_ns: int, unit: str, job_type: str, result: str) -> None:
        self.calls.append(("job", at_ns, {"unit": unit, "type": job_type, "result": result}))

    def session(self, at_ns: int, session_id: str, state: str) -> None:
        self.calls.append(("session", at_ns, {"id": session_id, "state": state}))

    def gpu_memory(self, at_ns: int, index: int, used_mib: int, why: str) -> None:
        self.calls.append(("gpu_memory", at_ns, {"index": index, "used_mib": used_mib,
                                                 "why": why}))

    def action(self, at_ns: int, name: str, args: Mapping[str, Any]) -> None:
        self.calls.append(("action", at_ns, {"name": name, **args}))

    def observed(self, at_ns: int) -> None:
        self.calls.append(("observed", at_ns, {}))

    def world_change(self, at_ns: int, what: str, args: Mapping[str, Any]) -> None:
        self.calls.append(("world_change", at_ns, {"what": what, **args}))

    def notification(self, at_ns: int, summary: str, body: str) -> None:
        self.calls.append(("notification", at_ns, {"summary": summary, "body": body}))

    def named(self, hook: str) -> list[dict[str, Any]]:
        """The details of every call to `hook`, in order."""
        return [details for name, _, details in self.calls if name == hook]
