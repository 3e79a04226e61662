"""Typed transition records: one serializer, a lossless round trip, old lines still readable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dubnium.errors import RecordUnreadable
from dubnium.records import (
    RECORD_VERSION,
    AbandonedRecord,
    AttemptRecord,
    Outcome,
    from_json,
    to_json,
)
from dubnium_app.compose import main as mode_main
from simulator.campaign import Run
from simulator.cli import main as sim_main
from simulator.faults import FaultKind, FaultPlan, fault, request

OLD_LINES = Path(__file__).parent / "data" / "audit-record-v1.jsonl"


def _run(kind: FaultKind, *ops: object) -> Run:
    run = Run(FaultPlan(7, 2, (kind,), tuple(ops)))  # type: ignore[arg-type]
    run.run()
    return run


@pytest.mark.parametrize(("kind", "ops", "outcome"), [
    (FaultKind.UNIT_START_FAILS, (fault("unit_start_fails", unit="vllm"), request("compute")),
     Outcome.ROLLED_BACK),
    (FaultKind.CONTROLLER_KILLED,
     (fault("controller_killed", after_steps=4, torn_record=True), request("compute")),
     Outcome.ABANDONED),
    (FaultKind.GPU_RELEASE_PARTIAL,
     (fault("gpu_release_partial", residual_mib=900), request("compute")), Outcome.DEGRADED),
])
def test_records_round_trip_through_the_one_serializer(
        kind: FaultKind, ops: tuple[object, ...], outcome: Outcome) -> None:
    """Every record a faulted run writes reads back as the same typed value."""
    records = _run(kind, *ops).station.records()
    assert outcome in {r.outcome for r in records}
    assert records == [from_json(to_json(r)) for r in records]


def test_a_rollback_record_carries_its_rollback_and_rollback_steps() -> None:
    """A rolled-back attempt has a typed Rollback and steps marked as rollback."""
    run = _run(FaultKind.UNIT_START_FAILS, fault("unit_start_fails", unit="vllm"),
               request("compute"))
    first = run.station.records()[0]
    assert isinstance(first, AttemptRecord)
    assert (first.rollback is not None and first.rollback.to.value, any(
        s.rollback for s in first.steps)) == ("desktop", True)


def test_schema_1_lines_read_as_typed_records_with_the_same_keys() -> None:
    """Lines written before the types existed read back; re-serialised they keep every key."""
    for line in OLD_LINES.read_text().splitlines():
        old = json.loads(line)
        record = from_json(old)
        expected = {k: v for k, v in old.items() if k != "schema_version"}
        assert {**expected, "record_version": RECORD_VERSION} == to_json(record)


def test_an_abandoned_record_has_no_exit_code() -> None:
    """The abandoned record serialises with exit_code null and reads back as its type."""
    record = AbandonedRecord("dead-1", "compute", 7, "t0", "died", "t1")
    data = to_json(record)
    assert (None, "abandoned", record) == (data["exit_code"], data["outcome"], from_json(data))


def test_a_foreign_object_is_not_a_record() -> None:
    """An object of an unknown record version is refused, not guessed at."""
    with pytest.raises(RecordUnreadable):
        from_json({"kind": "transition", "record_version": 99, "outcome": "converged"})


def test_mode_history_reads_an_old_audit_log(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`mode history` lists the lines of a schema-1 audit log like its own."""
    state = tmp_path / "state"
    with pytest.raises(SystemExit):
        sim_main(["--state-dir", str(state), "create", "--seed", "5"])
    (state / "events.jsonl").write_text(OLD_LINES.read_text())
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        mode_main(["--backend", "sim", "--state-dir", str(state), "history"])
    lines = capsys.readouterr().out.splitlines()
    assert (0, ["studio-local", "compute", "desktop", "desktop"],
            ["converged", "converged", "converged", "already-converged"]) == (
        stopped.value.code, [x.split()[1] for x in lines], [x.split()[2] for x in lines])
