"""Journal entries for attempts and steps: one MESSAGE_ID per kind, the documented fields."""

from __future__ import annotations

from dubnium.journal_entries import JournalReporter, MemorySink, MessageId
from dubnium.modes import Mode
from simulator.harness import Station


def _station(sink: MemorySink) -> Station:
    station = Station.create(seed=3, gpus=1)
    station.reporter = JournalReporter(sink, station.backend.clock)
    return station


def test_a_converged_switch_logs_attempt_and_every_step() -> None:
    """desktop -> compute: started, 11 step starts and ends, finished with the outcome fields."""
    sink = MemorySink()
    result = _station(sink).request(Mode.COMPUTE)
    kinds = [e["MESSAGE_ID"] for e in sink.entries]
    assert (kinds[0], kinds.count(MessageId.STEP_STARTED), kinds.count(MessageId.STEP_FINISHED),
            kinds[-1]) == (MessageId.ATTEMPT_STARTED, 11, 11, MessageId.ATTEMPT_FINISHED)
    last = sink.entries[-1]
    assert {k: last[k] for k in ("MODE_FROM", "MODE_TO", "OUTCOME", "EXIT_CODE", "ATTEMPT",
                                 "SYSLOG_IDENTIFIER")} == {
        "MODE_FROM": "desktop", "MODE_TO": "compute", "OUTCOME": "converged", "EXIT_CODE": "0",
        "ATTEMPT": result.record.attempt, "SYSLOG_IDENTIFIER": "mode"}
    steps = [e["STEP"] for e in sink.entries if e["MESSAGE_ID"] == MessageId.STEP_FINISHED]
    assert steps[0] == "CheckGuards"
    assert sink.statuses[-1] == f"converged: {result.summary}"


def test_a_blocked_request_logs_the_guard() -> None:
    """An audio stream blocks compute: one GUARD entry with GUARD=audio_idle, exit 11."""
    sink = MemorySink()
    station = _station(sink)
    station.world.start_audio_stream("music")
    station.request(Mode.COMPUTE)
    blocked = [e for e in sink.entries if e["MESSAGE_ID"] == MessageId.GUARD_BLOCKED]
    assert [(e["GUARD"], e["EXIT_CODE"], e["OUTCOME"]) for e in blocked] == [
        ("audio_idle", "11", "blocked")]


def test_notification_delivery_is_an_entry() -> None:
    """Each notify step leaves a NOTIFICATION entry saying whether it was delivered."""
    sink = MemorySink()
    _station(sink).request(Mode.COMPUTE)
    told = [(e["MESSAGE"].split(":")[0], e["DELIVERED"]) for e in sink.entries
            if e["MESSAGE_ID"] == MessageId.NOTIFICATION]
    assert told == [("notification delivered", "1"), ("notification delivered", "1")]
