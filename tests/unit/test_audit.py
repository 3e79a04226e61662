"""The audit log is append-only: torn lines are kept, every earlier line survives."""

from __future__ import annotations

import json
import threading
import tracemalloc
from pathlib import Path

from dubnium.audit import FileAuditLog, reversed_lines


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


def _records(log: FileAuditLog) -> list[int]:
    return [e.record["n"] for e in log.entries() if e.record and "n" in e.record]


def test_rotation_keeps_every_line_in_order(tmp_path: Path) -> None:
    """Size-based rotation renames whole segments: every record survives, in order."""
    log = FileAuditLog(tmp_path / "events.jsonl", rotate_bytes=300)
    for n in range(60):
        log.append({"n": n, "pad": "x" * 20})
    assert list(range(60)) == _records(log)
    names = [p.name for p in log.segments()]
    assert ["events.jsonl." + str(i) for i in range(1, len(names))] == names[:-1]
    assert len(names) > 5


def test_each_rotation_is_recorded_with_its_segment_counts(tmp_path: Path) -> None:
    """The new live file starts with a rotation record naming the segment and its size."""
    log = FileAuditLog(tmp_path / "events.jsonl", rotate_bytes=300)
    for n in range(30):
        log.append({"n": n})
    segments = log.segments()
    first = json.loads(segments[-1].read_text().splitlines()[0])
    newest = segments[-2]
    expected = {"kind": "rotation", "rotated_to": newest.name, "schema_version": 1,
                "segment_lines": len(newest.read_bytes().splitlines()),
                "segment_bytes": newest.stat().st_size, "segments": len(segments) - 1}
    assert expected == first


def test_a_rotated_segment_never_exceeds_the_bound_unless_one_record_does(tmp_path: Path) -> None:
    """Segments stay under rotate_bytes; a record bigger than the bound gets its own."""
    log = FileAuditLog(tmp_path / "events.jsonl", rotate_bytes=400)
    for n in range(40):
        log.append({"n": n, "pad": "y" * (500 if n == 20 else 10)})
    sizes = [p.stat().st_size for p in log.segments()[:-1]]
    big = [s for s in sizes if s > 400]
    assert 1 == len(big)
    assert list(range(40)) == _records(log)


def test_tail_equals_the_end_of_a_full_read_across_segments(tmp_path: Path) -> None:
    """Reading from the end gives the same lines as reading everything and slicing."""
    log = FileAuditLog(tmp_path / "events.jsonl", rotate_bytes=500)
    for n in range(80):
        log.append({"n": n})
    everything = [e for e in log.entries() if e.record and e.record.get("kind") != "rotation"]
    for limit in (1, 7, 25, 200):
        expected = [(e.segment, e.offset, e.raw) for e in everything[-limit:]]
        got = [e for e in log.tail(limit) if e.record and e.record.get("kind") != "rotation"]
        assert expected == [(e.segment, e.offset, e.raw) for e in got]


def test_reversed_lines_handles_lines_longer_than_a_block(tmp_path: Path) -> None:
    """Backward block reading joins lines split across blocks; a torn last line counts."""
    path = tmp_path / "log"
    lines = [b"a" * n for n in (1, 70, 3, 0, 130, 5)] + [b"torn"]
    path.write_bytes(b"\n".join(lines))
    got = list(reversed_lines(path, block=16))
    offsets, expected, at = [], [], 0
    for line in lines:
        if line:
            offsets.append(at)
            expected.append(line)
        at += len(line) + 1
    assert list(zip(offsets, expected, strict=True))[::-1] == got


def test_tail_keeps_a_torn_line_as_damaged(tmp_path: Path) -> None:
    """A torn line read from the end is reported as damaged with its position."""
    path = tmp_path / "events.jsonl"
    path.write_text('{"outcome": "converged"}\n{"outcome": "conv')
    entries = FileAuditLog(path).tail(5)
    assert [False, True] == [e.damaged for e in entries]
    assert "events.jsonl byte 25" == entries[1].where


def test_tail_since_stops_at_the_first_older_record(tmp_path: Path) -> None:
    """--since keeps the records that finished at or after the given time."""
    log = FileAuditLog(tmp_path / "events.jsonl", rotate_bytes=200)
    for day in range(1, 10):
        log.append({"finished_at": f"2026-11-0{day}T00:00:00.000Z", "n": day})
    got = [e.record["n"] for e in log.tail(100, since="2026-11-06") if e.record and "n" in e.record]
    assert [6, 7, 8, 9] == got


def test_tail_memory_does_not_grow_with_the_log(tmp_path: Path) -> None:
    """The last ten lines of a 4 MB log are read with well under a megabyte."""
    path = tmp_path / "events.jsonl"
    line = json.dumps({"schema_version": 1, "summary": "z" * 200}) + "\n"
    path.write_text(line * 20000)
    tracemalloc.start()
    try:
        entries = FileAuditLog(path).tail(10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 10 == len(entries)
    assert peak < 512 * 1024, peak


def test_concurrent_appenders_lose_nothing_across_rotations(tmp_path: Path) -> None:
    """Appenders that race a rotation re-open the new live file; every record survives."""
    log = FileAuditLog(tmp_path / "events.jsonl", rotate_bytes=1000)

    def writer(w: int) -> None:
        own = FileAuditLog(tmp_path / "events.jsonl", rotate_bytes=1000)
        for i in range(100):
            own.append({"n": w * 1000 + i})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = _records(log)
    assert sorted(w * 1000 + i for w in range(4) for i in range(100)) == sorted(got)
    assert len(got) == len(set(got))
