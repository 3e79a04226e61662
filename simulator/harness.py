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
from dubnium.facts import HostFacts
from dubnium.modes import Mode
from dubnium.observe import Classifier, Markers, Observation, classify
from dubnium.policy import Policy
from dubnium.reconcile import Reconciler, Reporter, Result, read_record
from dubnium.records import Record
from dubnium.state import MemoryStore, RuntimeState
from simulator.backend import SimBackend
from simulator.world import World

CONTROLLER_PID = 4100


class Remembered:
    """A classifier that answers again without classifying when asked about the very same
    facts, policy and markers as last time (a pure function: same inputs, same answer).

    An attempt classifies the same unchanged host several times in a row (its final
    observation, its record, `mode current`): three calls in four (issue 16).
    """

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self._last: tuple[HostFacts, Policy, Markers, Observation] | None = None

    def __call__(self, facts: HostFacts, policy: Policy, markers: Markers) -> Observation:
        last = self._last
        if last is not None and last[1] is policy and last[0] == facts and last[2] == markers:
            return last[3]
        observation = self.inner(facts, policy, markers)
        self._last = (facts, policy, markers, observation)
        return observation


@attrs.define
class Station:
    world: World
    store: MemoryStore = attrs.field(factory=MemoryStore)
    audit: MemoryAuditLog = attrs.field(factory=MemoryAuditLog)
    reporter: Reporter | None = None
    pid: int = CONTROLLER_PID
    classifier: Classifier = classify  # the controller's observer (a test may weaken it)
    _remembered: Remembered | None = attrs.field(default=None, init=False, repr=False,
                                                 eq=False)
    _backend: SimBackend | None = attrs.field(default=None, init=False, repr=False, eq=False)

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
        """The controller's view of the station's world (one while the world is the same:
        it keeps the last snapshot, issue 16)."""
        if self._backend is None or self._backend.world is not self.world:
            self._backend = SimBackend(self.world)
        return self._backend

    @property
    def state(self) -> RuntimeState:
        return RuntimeState(self.store)

    def controller(self, pid: int | None = None) -> Reconciler:
        return Reconciler(self.backend, self.policy, self.state, self.audit,
                          pid=pid or self.pid, reporter=self.reporter,
                          classifier=self.classify)

    @property
    def classify(self) -> Remembered:
        """`classifier`, remembering its last answer."""
        if self._remembered is None or self._remembered.inner is not self.classifier:
            self._remembered = Remembered(self.classifier)
        return self._remembered

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
