"""Nothing on a hot path reads the whole audit log: the metrics' counters read what was
appended since the last tick, doctor the newest lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dubnium.audit import AuditEntry, FileAuditLog, encode
from dubnium.doctor import audit_health
from dubnium.tally import Tally, tally_of, updated_tally


class CountingLog(FileAuditLog):
    """The real log, counting the lines it parses for the tally."""

    parsed = 0

    def complete_entries(self, segment: Path, start: int) -> Iterator[tuple[AuditEntry, int]]:
        for item in super().complete_entries(segment, start):
            self.parsed += 1
            yield item


def _record(n: int) -> dict[str, object]:
    outcome = ("converged", "blocked", "rolled-back")[n % 3]
    return {"kind": "transition", "attempt": f"a{n}", "requested": "compute",
            "outcome": outcome, "duration_s": n / 7,
            "blocking": ["audio_idle"] if outcome == "blocked" else []}


def _full_count(log: FileAuditLog) -> Tally:
    return tally_of(e.record for e in log.entries() if e.record is not None)


def test_a_tick_parses_only_the_lines_appended_since_the_last(tmp_path: Path) -> None:
    """After one full count, a tick reads the two new lines, not the 3,000 before them."""
    path = tmp_path / "events.jsonl"
    path.write_text("".join(encode(_record(n)) + "\n" for n in range(3000)))
    log = CountingLog(path)
    updated_tally(log)
    log.append(_record(3000))
    log.append(_record(3001))
    log.parsed = 0
    tally = updated_tally(log)
    assert (2, _full_count(log)) == (log.parsed, tally)


def test_the_tally_follows_rotations_and_equals_a_full_count(tmp_path: Path) -> None:
    """Across several rotations between ticks, the kept counts equal a recount of the log."""
    log = CountingLog(tmp_path / "events.jsonl", rotate_bytes=900)
    for n in range(50):
        log.append(_record(n))
        if n % 11 == 0:
            updated_tally(log)
    tally = updated_tally(log)
    assert len(log.segments()) > 5
    assert (_full_count(log), 50) == (tally, sum(tally.outcomes.values()))


def test_a_torn_last_line_is_counted_once_it_is_complete(tmp_path: Path) -> None:
    """A line still being written is not counted; once the next writer ends it, it is."""
    path = tmp_path / "events.jsonl"
    path.write_text(encode(_record(0)) + "\n" + encode(_record(1))[:20])
    log = CountingLog(path)
    assert {"converged": 1} == dict(updated_tally(log).outcomes)
    log.append(_record(2))
    tally = updated_tally(log)
    assert (_full_count(log), {"converged": 1, "rolled-back": 1}) == (tally, dict(tally.outcomes))


def test_a_replaced_or_foreign_checkpoint_means_a_recount(tmp_path: Path) -> None:
    """A log replaced under the checkpoint, or a checkpoint that is not ours, is recounted."""
    path = tmp_path / "events.jsonl"
    log = FileAuditLog(path)
    for n in range(6):
        log.append(_record(n))
    updated_tally(log)
    path.unlink()
    for n in range(6, 8):
        log.append(_record(n))
    assert _full_count(log) == updated_tally(log)
    log.tally_path.write_text(json.dumps({"version": 1, "rotated": "x"}))
    assert _full_count(log) == updated_tally(log)


class CountingNewest(FileAuditLog):
    """The real log, counting the lines it parses from its end."""

    parsed = 0

    def newest_first(self) -> Iterator[AuditEntry]:
        for entry in super().newest_first():
            self.parsed += 1
            yield entry


def test_doctor_parses_only_the_newest_lines_of_the_log(tmp_path: Path) -> None:
    """doctor checks the newest 1,000 of 5,000 lines, and names the damaged one among them."""
    path = tmp_path / "events.jsonl"
    good = [encode(_record(n)) + "\n" for n in range(5000)]
    good[10] = good[4990] = "{torn\n"
    path.write_text("".join(good))
    log = CountingNewest(path)
    health = audit_health(log)
    where = f"events.jsonl byte {sum(len(x) for x in good[:4990])}"
    assert ({"lines_checked": 1000, "damaged": [where]}, 1000) == (health, log.parsed)
