"""A Station: one simulated world with the real controller wired to it, in one process.

Used by the Gherkin steps (tests/bdd), the hypothesis state machine (tests/stateful) and the
fault campaigns: they all drive the same world API and the same `Reconciler` the `mode` CLI
uses. The controller's policy is the world's (`World.policy`, one object: a step that edits
the configuration calls `World.set_policy`). The runtime state and the audit log live in
memory (`MemoryStore`, `MemoryAuditLog`) so that thousands of transitions a second are
possible; their bytes are the same as on disk.
"""

from __future__ import annotations

import attrs

from dubnium.audit import MemoryAuditLog
from dubnium.modes import Mode
from dubnium.observe import Classifier, Observation, classify
from dubnium.policy import Policy
from dubnium.reconcile import Reconciler, Reporter, Result, read_record
from dubnium.records import Record
from dubnium.state import MemoryStore, RuntimeState
from simulator.backend import SimBackend
from simulator.world import World

CONTROLLER_PID = 4100


@attrs.define
class Station:
    world: World
    store: MemoryStore = attrs.field(factory=MemoryStore)
    audit: MemoryAuditLog = attrs.field(factory=MemoryAuditLog)
    reporter: Reporter | None = None
    pid: int = CONTROLLER_PID
    classifier: Classifier = classify  # the controller's observer (a test may weaken it)

    @classmethod
    def create(cls, seed: int = 0, gpus: int = 2, policy: Policy | None = None) -> Station:
        """A world booted to desktop (`World.create` adapts the default policy to `gpus`)."""
        return cls(World.create(seed=seed, gpus=gpus, policy=policy))

    @property
    def policy(self) -> Policy:
        """The controller's policy: the world's."""
        return self.world.policy

    @property
    def backend(self) -> SimBackend:
        return SimBackend(self.world)

    @property
    def state(self) -> RuntimeState:
        return RuntimeState(self.store)

    def controller(self, pid: int | None = None) -> Reconciler:
        return Reconciler(self.backend, self.policy, self.state, self.audit,
                          pid=pid or self.pid, reporter=self.reporter,
                          classifier=self.classifier)

    def request(self, mode: Mode) -> Result:
        return self.controller().request(mode)

    def boot(self) -> Result:
        return self.controller().boot()

    def observe(self) -> Observation:
        return self.controller().observe()[1]

    def records(self) -> list[Record]:
        """The audit log's records, typed (lines that are not records are left out)."""
        return [r for e in self.audit.entries()
                if e.record is not None and (r := read_record(e.record)) is not None]
