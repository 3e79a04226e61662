"""`mode history`: which audit records to show (`--since`, `--outcome`, `--limit`).

Called by `dubnium.verbs_read` (`mode history`). Pure: takes the audit log's entries
(`dubnium.audit.AuditEntry`) and a query, returns the ones to print, newest last. Damaged lines
are always shown (they are evidence that something went wrong) and count toward the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from dubnium.audit import ROTATION, AuditEntry
from dubnium.errors import QueryError


def parse_since(text: str) -> str:
    """The cut-off as the records write their times (UTC, milliseconds), compared as text."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"--since {text!r}: expected an ISO 8601 time, e.g. 2026-12-01 or "
                         "2026-12-01T04:00:00Z") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds")


@attrs.frozen
class HistoryQuery:
    limit: int = 20
    since: str | None = None  # as parse_since returns it
    outcomes: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, limit: int, since: str | None, outcomes: Iterable[str],
              known: Iterable[str]) -> HistoryQuery:
        wanted = frozenset(outcomes)
        choices = list(known)
        unknown = sorted(wanted - set(choices))
        if unknown:
            raise QueryError(f"unknown outcome {unknown[0]!r}; expected one of: "
                             + ", ".join(choices))
        return cls(limit, parse_since(since) if since else None, wanted)

    def keeps(self, record: Mapping[str, Any]) -> bool:
        if self.outcomes and record.get("outcome") not in self.outcomes:
            return False
        finished = str(record.get("finished_at") or record.get("started_at") or "")
        return self.since is None or finished.rstrip("Z") >= self.since

    def select(self, entries: Iterable[AuditEntry]) -> list[AuditEntry]:
        kept = [e for e in entries if e.record is None or self.keeps(e.record)]
        return kept[-self.limit:]

    def select_from_end(self, newest_first: Iterable[AuditEntry]) -> list[AuditEntry]:
        """What `select` keeps, read from the log's end (`AuditLog.newest_first`): stops
        after `limit` entries, or at the first record that finished before `since` (the
        log is appended in time order), so the time and memory are those of the answer,
        not of the log. Rotation records are the log's own bookkeeping: not shown."""
        out: list[AuditEntry] = []
        for entry in newest_first:
            if len(out) >= self.limit:
                break
            record = entry.record
            if record is not None:
                if record.get("kind") == ROTATION:
                    continue
                finished = str(record.get("finished_at") or record.get("started_at") or "")
                if self.since is not None and finished and finished.rstrip("Z") < self.since:
                    break
                if not self.keeps(record):
                    continue
            out.append(entry)
        out.reverse()
        return out
