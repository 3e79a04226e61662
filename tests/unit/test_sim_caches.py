"""The simulator's caches answer as the work they save would (issue 16): the remembered
classifier, the snapshot reused while nothing changed, the liveness bound per policy."""

from __future__ import annotations

from typing import Any

import attrs

from dubnium.modes import Mode
from dubnium.observe import Markers, Observation, classify
from simulator import invariants, unitgraph
from simulator.harness import Remembered, Station


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, facts: Any, policy: Any, markers: Markers) -> Observation:
        self.calls += 1
        return classify(facts, policy, markers)


def test_remembered_classifier_classifies_only_new_inputs() -> None:
    """Asked twice about the same facts it classifies once; new facts are classified."""
    station = Station.create(seed=3)
    inner = _Counting()
    remembered = Remembered(inner)
    facts = station.backend.snapshot()
    first = remembered(facts, station.policy, Markers())
    again = remembered(facts, station.policy, Markers())
    station.request(Mode.COMPUTE)
    later = station.backend.snapshot()
    third = remembered(later, station.policy, Markers())
    assert (True, 2, classify(later, station.policy, Markers())) == (
        first is again, inner.calls, third)


def test_snapshot_is_reused_only_while_nothing_changes() -> None:
    """Two looks at an unchanged world give one object; a change gives new, equal facts."""
    station = Station.create(seed=3)
    backend = station.backend
    first, again = backend.snapshot(), backend.snapshot()
    station.world.set_load(7.5)
    changed = backend.snapshot()
    backend._last = None  # built from scratch: what the cached one must equal
    fresh = backend.snapshot()
    assert (True, False, 7.5, fresh) == (first is again, changed is first,
                                         changed.load.load1, changed)


def test_liveness_bound_is_computed_per_policy_value() -> None:
    """The cached bound equals a fresh computation for each policy; another policy's
    timeouts give their own bound, not the cached one."""
    one, two = Station.create(seed=1, gpus=1).policy, Station.create(seed=1, gpus=2).policy
    slow = attrs.evolve(two, timeouts=attrs.evolve(two.timeouts, unit_start_s=500.0))
    cached = [invariants.liveness_bound_s(p) for p in (one, two, slow, one)]
    fresh = [invariants._liveness_bound_s(p) for p in (one, two, slow, one)]
    assert (fresh, True) == (cached, fresh[2] > fresh[1])


def test_unit_graph_is_built_per_policy_value() -> None:
    """Each seed's world starts from the cached graph, equal to a fresh build for its
    policy; a policy without vLLM gets its own graph, not the cached one."""
    two = Station.create(seed=1, gpus=2).policy
    no_vllm = attrs.evolve(two, vllm=attrs.evolve(two.vllm, enable=False))
    cached = [unitgraph.default_units(p) for p in (two, no_vllm, two)]
    fresh = [list(unitgraph._default_units(p)) for p in (two, no_vllm, two)]
    assert (fresh, True) == (cached, len(fresh[1]) < len(fresh[0]))


def test_audit_lines_are_the_encoding_of_the_records_kept_for_them() -> None:
    """A campaign's audit log: every line is `encode` of the record kept for it (the commit's
    line reused from last-transition.json included), and a line put in otherwise (a torn
    one) has no record kept, so the invariants parse it."""
    import json

    from dubnium.audit import encode
    from simulator.campaign import Run
    from simulator.faults import FaultPlan

    run = Run(FaultPlan(1, 2))
    for mode in (Mode.COMPUTE, Mode.DESKTOP, Mode.COMPUTE):
        run.request(mode)
    audit = run.station.audit
    audit.lines.append('{"attempt": "4105-1", "kind": "transi')
    kept = [audit.record_at(i) for i in range(len(audit.lines))]
    assert [encode(r) if r is not None else None for r in kept] == [
        *audit.lines[:-1], None]
    assert [json.loads(line) for line in audit.lines[:-1]] == [
        {"schema_version": 1, **json.loads(json.dumps(r))} for r in kept[:-1]]
