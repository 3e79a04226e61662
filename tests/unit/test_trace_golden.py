"""The simulator decides exactly as before: recomputed trace digests equal the recorded ones.

When a change alters the controller's or the world's behaviour on purpose, rewrite the
fixture with `scripts/trace-digests --write` and say why in the commit (tests/unit/
trace_golden.py says what each digest covers).
"""

from __future__ import annotations

import json

from tests.unit import trace_golden

RECORDED = json.loads(trace_golden.FIXTURE.read_text())
REWRITE = "the simulator decides differently; if on purpose: scripts/trace-digests --write"


def test_campaign_seed_traces_are_byte_for_byte_unchanged() -> None:
    """Every recorded seed's trace, audit log, state files and end world hash as recorded."""
    fresh = {seed: trace_golden.seed_digest(int(seed)) for seed in RECORDED["seeds"]}
    assert RECORDED["seeds"] == fresh, REWRITE


def test_transition_loop_end_state_is_unchanged() -> None:
    """The benchmark's alternating transitions (1 and 2 GPUs) end in the recorded state."""
    fresh = {gpus: trace_golden.loop_digest(int(gpus)) for gpus in RECORDED["loops"]}
    assert RECORDED["loops"] == fresh, REWRITE


def test_recorded_seeds_cover_every_fault_kind() -> None:
    """The fixture's seeds draw every fault kind, so no kind's path goes unguarded."""
    from simulator.faults import FaultKind, draw_plan

    drawn = {k for seed in RECORDED["seeds"] for k in draw_plan(int(seed)).kinds}
    assert set(FaultKind) == drawn
