"""Journal entries written by `mode request` on the test host, read back with journalctl.

The CLI's host backend sends one structured entry per attempt and step through pystemd's
`sd_journal_sendv` binding to the namespace's own journald; `journalctl -o json` shows them
with their MESSAGE_ID and fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dubnium.journal_entries import MessageId
from tests.host.testhost import TestHost

pytestmark = pytest.mark.host


@pytest.fixture(autouse=True)
def back_to_desktop(host: TestHost) -> Iterator[None]:
    yield
    host.restore_desktop()


def entries(host: TestHost, attempt: str) -> list[dict[str, Any]]:
    host.run("journalctl", "--sync", check=False)
    out = host.run("journalctl", "--no-pager", "-o", "json", "SYSLOG_IDENTIFIER=mode",
                   f"ATTEMPT={attempt}").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_shell_request_is_in_the_journal(host: TestHost) -> None:
    """studio-local from a root shell: attempt started, each step started and finished, the
    outcome with MODE_FROM, MODE_TO, OUTCOME, EXIT_CODE — all read back from journald."""
    proc = host.mode("request", "studio-local", "--json")
    record = json.loads(proc.stdout)
    assert (proc.returncode, record["outcome"]) == (0, "converged")
    found = entries(host, record["attempt"])
    kinds = [e["MESSAGE_ID"] for e in found]
    steps = len(record["steps"])
    assert (kinds[0], kinds.count(MessageId.STEP_STARTED), kinds.count(MessageId.STEP_FINISHED),
            kinds[-1]) == (MessageId.ATTEMPT_STARTED, steps, steps, MessageId.ATTEMPT_FINISHED)
    last = found[-1]
    assert {k: last[k] for k in ("MODE_FROM", "MODE_TO", "OUTCOME", "EXIT_CODE")} == {
        "MODE_FROM": "desktop", "MODE_TO": "studio-local", "OUTCOME": "converged",
        "EXIT_CODE": "0"}


def test_a_blocked_request_names_its_guard_in_the_journal(host: TestHost) -> None:
    """A playing stream blocks compute: a GUARD=audio_idle entry with EXIT_CODE=11."""
    with host.playing_audio():
        proc = host.mode("request", "compute", "--json")
    record = json.loads(proc.stdout)
    blocked = [e for e in entries(host, record["attempt"])
               if e["MESSAGE_ID"] == MessageId.GUARD_BLOCKED]
    assert [(e["GUARD"], e["EXIT_CODE"]) for e in blocked] == [("audio_idle", "11")]
