"""The audit log is append-only: torn lines are kept, every earlier line survives."""

from __future__ import annotations

import json
from pathlib import Path

from dubnium.audit import FileAuditLog


def test_records_are_one_json_object_a_line(tmp_path: Path) -> None:
    """Each append is one line carrying the schema version."""
    log = FileAuditLog(tmp_path / "events.jsonl")
    log.append({"outcome": "converged"})
    log.append({"outcome": "blocked"})
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(x)["outcome"] for x in lines] == ["converged", "blocked"]
    assert all(json.loads(x)["schema_version"] == 1 for x in lines)


def test_a_torn_last_line_is_kept_and_the_next_record_starts_fresh(tmp_path: Path) -> None:
    """A controller killed mid-write leaves a torn line; nothing earlier is lost."""
    path = tmp_path / "events.jsonl"
    path.write_text('{"outcome": "converged"}\n{"outcome": "conv')
    log = FileAuditLog(path)
    log.append({"outcome": "blocked"})
    entries = list(log.entries())
    assert [e.damaged for e in entries] == [False, True, False]
    assert entries[1].raw == '{"outcome": "conv'
    assert path.read_text().startswith('{"outcome": "converged"}\n{"outcome": "conv\n')
