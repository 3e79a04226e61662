"""Host-wide numbers of the simulated workstation: load, memory, pressure, persistence paths.

Owned by `simulator.world.World` (set through its API: `set_load`, `fill_memory`,
`set_pressure`, `set_path`); read by `SimBackend.observe()`. Each value is stored as the
frozen fact the observer reads, so an observation reuses it as is.
"""

from __future__ import annotations

import posixpath
from typing import Any

import attrs

from dubnium.facts import LoadFact, MemoryFact, PathFact, PressureFact
from dubnium.policy import Policy
from simulator import jsonutil

DEFAULT_LOAD = LoadFact(0.4, 0.5, 0.6, 16)
DEFAULT_MEMORY = MemoryFact(65536, 52000)
DEFAULT_PRESSURE = PressureFact(0.0, 0.0, 0.0)


@attrs.define
class HostState:
    load: LoadFact = DEFAULT_LOAD
    memory: MemoryFact = DEFAULT_MEMORY
    pressure: PressureFact = DEFAULT_PRESSURE
    paths: dict[str, PathFact] = attrs.field(factory=dict)
    _paths_fact: tuple[PathFact, ...] | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def for_policy(cls, policy: Policy) -> HostState:
        host = cls()
        p = policy.paths
        for path in (p.state_dir, posixpath.dirname(p.audit_log), p.model_store):
            host.paths[path] = PathFact(path, True, True, 512_000)
        return host

    def set_path(self, path: str, *, exists: bool, writable: bool, free_mib: int | None) -> None:
        self.paths[path] = PathFact(path, exists, writable, free_mib)
        self._paths_fact = None

    def paths_fact(self) -> tuple[PathFact, ...]:
        if self._paths_fact is None:
            self._paths_fact = tuple(self.paths.values())
        return self._paths_fact

    def to_json(self) -> dict[str, Any]:
        return {
            "load": jsonutil.to_json(self.load),
            "memory": jsonutil.to_json(self.memory),
            "pressure": jsonutil.to_json(self.pressure),
            "paths": [jsonutil.to_json(p) for p in self.paths.values()],
        }

    @classmethod
    def from_json(cls, data: Any) -> HostState:
        host = cls(jsonutil.from_json(LoadFact, data["load"]),
                   jsonutil.from_json(MemoryFact, data["memory"]),
                   jsonutil.from_json(PressureFact, data["pressure"]))
        for raw in data["paths"]:
            fact = jsonutil.from_json(PathFact, raw)
            host.paths[fact.path] = fact
        return host
