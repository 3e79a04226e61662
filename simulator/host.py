"""Host-wide numbers of the simulated workstation: load, memory, pressure, persistence paths,
and whether the configured vLLM model is seeded in the model store.

Owned by `simulator.world.World` (set through its API: `set_load`, `fill_memory`,
`set_pressure`, `set_path`, `set_model`); read by `SimBackend.observe()`. Each value is
stored as the
frozen fact the observer reads, so an observation reuses it as is.
"""

from __future__ import annotations

import posixpath
from typing import Any

import attrs

from dubnium.facts import LoadFact, MemoryFact, ModelFact, PathFact, PressureFact
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
    # The configured model's directory ("" when vLLM is disabled) and whether it is seeded
    # there; present only while the model store itself exists.
    model_path: str = ""
    model_seeded: bool = True
    _paths_fact: tuple[PathFact, ...] | None = attrs.field(default=None, eq=False, repr=False)
    _model: tuple[tuple[object, ...], ModelFact] | None = attrs.field(
        default=None, init=False, eq=False, repr=False)

    @classmethod
    def for_policy(cls, policy: Policy) -> HostState:
        host = cls()
        p = policy.paths
        for path in (p.state_dir, posixpath.dirname(p.audit_log), p.model_store):
            host.paths[path] = PathFact(path, True, True, 512_000)
        if policy.vllm.enable:
            host.model_path = policy.vllm_model_path
        return host

    def model_fact(self) -> ModelFact | None:
        """The model as the host backend would find it (None: vLLM disabled)."""
        if not self.model_path:
            return None
        key = (self.model_path, self.model_seeded, tuple(self.paths.items()))
        if self._model is not None and self._model[0] == key:  # the same reading, built once
            return self._model[1]
        store = [p for path, p in self.paths.items()
                 if self.model_path.startswith(path.rstrip("/") + "/")]
        present = self.model_seeded and all(p.exists for p in store)
        fact = (ModelFact(self.model_path, True, 4, 28_000) if present
                else ModelFact(self.model_path, False))
        self._model = (key, fact)
        return fact

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
            "model": {"path": self.model_path, "seeded": self.model_seeded},
        }

    @classmethod
    def from_json(cls, data: Any) -> HostState:
        host = cls(jsonutil.from_json(LoadFact, data["load"]),
                   jsonutil.from_json(MemoryFact, data["memory"]),
                   jsonutil.from_json(PressureFact, data["pressure"]))
        for raw in data["paths"]:
            fact = jsonutil.from_json(PathFact, raw)
            host.paths[fact.path] = fact
        model = data.get("model") or {}
        host.model_path = str(model.get("path", ""))
        host.model_seeded = bool(model.get("seeded", True))
        return host
