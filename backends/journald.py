"""The journal and the service manager's status line, through pystemd's bindings.

Called by the host session (`backends.session`): `JournalSink` is the sink of
`dubnium.journal_entries.JournalReporter`. `send` is `sd_journal_sendv` (pystemd.journal) —
structured fields, no text parsing; `status` is `sd_notify STATUS=` (pystemd.daemon), sent
only when this process runs as a unit (NOTIFY_SOCKET set). Both are best effort: a missing
journal or notify socket never fails a transition (the audit log is the record).
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class JournalSink:
    def __init__(self, *, extra: Mapping[str, str] | None = None) -> None:
        self._extra = dict(extra or {})
        self.errors: list[str] = []

    def send(self, fields: Mapping[str, str]) -> None:
        try:
            from pystemd import journal

            journal.sendv(**{**self._extra, **fields})
        except Exception as exc:  # best effort by contract: remember, never raise
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def status(self, text: str) -> None:
        if not os.environ.get("NOTIFY_SOCKET"):
            return
        try:
            from pystemd import daemon

            daemon.notify(False, status=text)
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
