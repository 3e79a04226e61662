"""The simulated process table: the processes the controller looks for.

Owned by `simulator.world.World`; read by `SimBackend.observe()` as `ProcessFact`s whose
`runtime_s` grows with virtual time. Only processes of interest live here: compositors, vLLM,
audio applications, JACK clients, REAPER and long-running user jobs. Pids are allocated from a
counter whose start is drawn from the seed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from dubnium.facts import ProcessFact
from simulator import jsonutil
from simulator.clock import NS_PER_S

OWNER_UID = 1000


class ProcessRole(StrEnum):
    """Why the simulator keeps the process (for the world's bookkeeping, not observed)."""

    COMPOSITOR = "compositor"
    VLLM = "vllm"
    EXO = "exo"
    AUDIO = "audio"
    JACK = "jack"
    REAPER = "reaper"
    JOB = "job"
    APP = "app"  # an application (exclusive ones block idle automation), a lock holder


@attrs.define
class Process:
    pid: int
    comm: str
    uid: int
    start_ns: int
    role: ProcessRole
    session_id: str = ""


class ProcessTable:
    def __init__(self, next_pid: int = 1000) -> None:
        self.procs: dict[int, Process] = {}
        self.next_pid = next_pid
        self._facts: tuple[ProcessFact, ...] | None = None
        self._facts_at = -1

    def spawn(self, comm: str, role: ProcessRole, now_ns: int, *, uid: int = OWNER_UID,
              session_id: str = "", start_ns: int | None = None) -> Process:
        process = Process(self.next_pid, comm[:15], uid,
                          now_ns if start_ns is None else start_ns, role, session_id)
        self.next_pid += 1
        self.procs[process.pid] = process
        self._facts = None
        return process

    def kill(self, pid: int) -> Process | None:
        self._facts = None
        return self.procs.pop(pid, None)

    def by_role(self, role: ProcessRole) -> list[Process]:
        return [p for p in self.procs.values() if p.role is role]

    def in_session(self, session_id: str) -> list[Process]:
        return [p for p in self.procs.values() if p.session_id == session_id]

    def clear(self) -> None:
        self.procs.clear()
        self._facts = None

    def facts(self, now_ns: int) -> tuple[ProcessFact, ...]:
        if self._facts is None or self._facts_at != now_ns:
            self._facts = tuple(
                ProcessFact(p.pid, p.comm, p.uid, (now_ns - p.start_ns) / NS_PER_S,
                            p.session_id)
                for p in self.procs.values()
            )
            self._facts_at = now_ns
        return self._facts

    def to_json(self) -> dict[str, Any]:
        return {
            "next_pid": self.next_pid,
            "processes": [jsonutil.to_json(p) for p in self.procs.values()],
        }

    @classmethod
    def from_json(cls, data: Any) -> ProcessTable:
        table = cls(int(data["next_pid"]))
        for raw in data["processes"]:
            process = jsonutil.from_json(Process, raw)
            table.procs[process.pid] = process
        return table
