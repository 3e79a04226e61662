"""The audit log's counters for the metrics textfile, kept up to date from what was appended.

`mode current --refresh` (the observer timer, every few seconds) writes `mode.prom`, whose
counters — attempts by outcome, guard blocks, durations by target and outcome — are totals
over the whole audit log. Recounting the log at every tick would cost O(log size); instead
the totals are kept in a checkpoint beside the log (`events.jsonl.tally`, written atomically
by the same root-only writer as the textfile) with the position they were counted up to: the
number of rotated segments and the byte offset just after the last complete line of the
live file. A tick reads only the complete lines appended since (following any rotations in
between: the old live file is then the next numbered segment), so it costs the lines
written between two ticks. A missing, foreign or stale checkpoint (a log replaced under it)
is recounted from the start, once. A line still being written (no newline yet) is counted
when it is complete.

Called by `dubnium.cli_views` (the metrics writer); pure apart from the log and the
checkpoint file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from dubnium import fsutil, strictjson
from dubnium.audit import FileAuditLog

VERSION = 1


@attrs.frozen
class Tally:
    """Totals over transition records: attempts by outcome, blocks by guard, and durations
    as (sum, count) by (target, outcome)."""

    outcomes: Mapping[str, int] = attrs.field(factory=dict)
    blocks: Mapping[str, int] = attrs.field(factory=dict)
    durations: Mapping[tuple[str, str], tuple[float, int]] = attrs.field(factory=dict)

    def plus(self, records: Iterable[Mapping[str, Any]]) -> Tally:
        """These totals with `records` counted too (non-transition records are skipped)."""
        outcomes = Counter(self.outcomes)
        blocks = Counter(self.blocks)
        durations = dict(self.durations)
        for record in records:
            if record.get("kind", "transition") != "transition":
                continue
            outcome = str(record.get("outcome"))
            outcomes[outcome] += 1
            blocks.update(str(g) for g in record.get("blocking") or [])
            duration = record.get("duration_s")
            if isinstance(duration, int | float):
                key = (str(record.get("requested")), outcome)
                total, count = durations.get(key, (0.0, 0))
                durations[key] = (total + float(duration), count + 1)
        return Tally(dict(outcomes), dict(blocks), durations)

    def to_json(self) -> dict[str, Any]:
        return {"outcomes": dict(self.outcomes), "blocks": dict(self.blocks),
                "durations": [[t, o, s, c] for (t, o), (s, c) in self.durations.items()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        """Raises ValueError, TypeError or KeyError for anything not written by `to_json`."""
        outcomes = {str(k): _count(v) for k, v in dict(data["outcomes"]).items()}
        blocks = {str(k): _count(v) for k, v in dict(data["blocks"]).items()}
        durations: dict[tuple[str, str], tuple[float, int]] = {}
        for target, outcome, total, count in data["durations"]:
            if not isinstance(total, int | float) or isinstance(total, bool):
                raise TypeError("a duration sum is not a number")
            durations[(str(target), str(outcome))] = (float(total), _count(count))
        return cls(outcomes, blocks, durations)


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError("a count is not a non-negative integer")
    return value


def tally_of(records: Iterable[Mapping[str, Any]]) -> Tally:
    return Tally().plus(records)


@attrs.frozen
class _Checkpoint:
    tally: Tally
    rotated: int  # numbered segments there were
    offset: int  # in the live file of then, just after its last complete line
    inode: int  # of that live file (it keeps its inode when it is renamed to a segment)

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "rotated": self.rotated, "offset": self.offset,
                "inode": self.inode, "tally": self.tally.to_json()}


def _read_checkpoint(log: FileAuditLog) -> _Checkpoint | None:
    try:
        data = strictjson.loads(fsutil.read_regular(log.tally_path) or b"")
        if data.get("version") != VERSION:
            return None
        return _Checkpoint(Tally.from_json(data["tally"]), _count(data["rotated"]),
                           _count(data["offset"]), _count(data["inode"]))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _resume_at(segments: list[Path], point: _Checkpoint | None) -> tuple[Tally, int, int]:
    """(totals so far, index of the segment to read on from, byte offset in it): where the
    checkpoint left off if the log is still the one it counted, else the very start."""
    if point is None or point.rotated >= len(segments):
        return Tally(), 0, 0
    then_live = segments[point.rotated]  # the live file of then, renamed or not
    if _inode(then_live) != point.inode:
        return Tally(), 0, 0
    try:
        if os.stat(then_live).st_size < point.offset:
            return Tally(), 0, 0
    except OSError:
        return Tally(), 0, 0
    return point.tally, point.rotated, point.offset


def updated_tally(log: FileAuditLog) -> Tally:
    """The totals over the whole log, reading only what was appended since the checkpoint;
    the checkpoint is moved on (best effort: a checkpoint that cannot be written costs a
    recount next time, never a wrong count). A rotation during the read (the live file
    renamed under it) means reading again from the checkpoint."""
    checkpoint = _read_checkpoint(log)
    for _ in range(3):
        segments = log.segments()
        tally, position = _count_on(log, segments, *_resume_at(segments, checkpoint))
        if len(log.segments()) == len(segments):
            break
    inode = _inode(segments[-1])
    if inode is not None:
        point = _Checkpoint(tally, len(segments) - 1, position, inode)
        with contextlib.suppress(OSError):
            fsutil.atomic_write(log.tally_path, json.dumps(point.to_json()).encode(), 0o644)
    return tally


def _count_on(log: FileAuditLog, segments: list[Path], tally: Tally, index: int,
              offset: int) -> tuple[Tally, int]:
    """`tally` plus the complete lines from `offset` in `segments[index]` on; and the offset
    just after the last complete line of the last segment."""
    end = offset
    for i in range(index, len(segments)):
        start = end = offset if i == index else 0

        def records(segment: Path, start: int) -> Iterator[Mapping[str, Any]]:
            nonlocal end
            for entry, after in log.complete_entries(segment, start):
                end = after
                if entry.record is not None:
                    yield entry.record

        tally = tally.plus(records(segments[i], start))
    return tally, end
