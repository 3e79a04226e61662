"""The idle watcher (dubnium.idlewatch) over a simulated station: files, verbs, resilience."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from dubnium import idle as i
from dubnium.doctor import diagnose
from dubnium.errors import BackendError, DubniumError, StateCorrupt
from dubnium.idlewatch import CONTROL_FILE, STATE_FILE, IdleWatcher, status_json
from dubnium.policy import Idle, default_policy
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.harness import Station

POLICY = attrs.evolve(default_policy(), idle=Idle(enable=True, after_s=60, poll_interval_s=30))


def station() -> Station:
    return Station.create(seed=3, policy=POLICY)


class Flaky:
    """An idle source whose first read fails the way a restarting logind does."""

    def __init__(self, inner: i.IdleSource) -> None:
        self.inner = inner
        self.calls = 0

    def idle_facts(self) -> i.IdleFacts:
        self.calls += 1
        if self.calls == 1:
            raise BackendError("logind: Connection refused", temporary=True)
        return self.inner.idle_facts()


def test_a_failing_poll_is_reported_and_the_next_one_comes() -> None:
    """With on_error the loop survives a backend error; without it the error propagates."""
    st = station()
    errors: list[DubniumError] = []
    watcher = IdleWatcher(st.controller(), Flaky(st.backend))
    assert (3, ["logind: Connection refused"]) == (
        watcher.run(ticks=3, on_error=errors.append), [str(e) for e in errors])
    with pytest.raises(BackendError):
        IdleWatcher(st.controller(), Flaky(st.backend)).run(ticks=1)


def test_pause_resume_wake_are_audited_and_kept_apart_from_the_watchers_file() -> None:
    """The verbs write idle-control.json and one audit record each; idle.json is untouched."""
    st = station()
    watcher = IdleWatcher(st.controller())
    watcher.pause(7200)
    watcher.resume()
    watcher.wake()
    kinds = [(e.record or {}).get("kind") for e in st.audit.entries()]
    assert (["idle-pause", "idle-resume", "idle-wake"], None, False) == (
        kinds, st.store.read(STATE_FILE), watcher.read_control().paused)
    assert watcher.read_control().wake_requested_ns is not None


def test_resume_acknowledges_the_last_failed_attempt() -> None:
    """After a rolled-back compute, status blocks on failed_unacknowledged until resume."""
    st = station()
    st.world.seat.set_idle_hint(True)
    st.world.inject_action_fault(ActionFault("isolate", FaultEffect.ERROR, "compute.target",
                                             temporary=False))
    watcher = IdleWatcher(st.controller())
    watcher.run(for_s=200)
    blocked = [b.id for b in watcher.evaluate().decision.blocks]
    watcher.resume()
    after = [b.id for b in watcher.evaluate().decision.blocks]
    assert (True, False) == (i.BlockId.FAILED_UNACKNOWLEDGED in blocked,
                             i.BlockId.FAILED_UNACKNOWLEDGED in after)


def test_a_damaged_state_file_is_state_corrupt_naming_it() -> None:
    """idle.json with a wrong field type: StateCorrupt naming the file and the field."""
    st = station()
    st.state.write_json(STATE_FILE, {"period": "three"})
    st.state.write_json(CONTROL_FILE, {})
    with pytest.raises(StateCorrupt, match=r"idle\.json: period"):
        IdleWatcher(st.controller()).read_state()


def test_status_names_inhibitor_holders_and_what_blocks() -> None:
    """status_json lists the lock with its holder and the conditions block."""
    st = station()
    st.world.seat.set_idle_hint(True)
    pid = st.world.seat.take_inhibitor("idle", "obs", "Recording")
    ev = IdleWatcher(st.controller()).evaluate()
    data = status_json(ev, ev.decision.state)
    assert ([{"what": ["idle"], "who": "obs", "why": "Recording", "mode": "block",
              "uid": 1000, "pid": pid}], ["conditions"], False) == (
        data["inhibitors"], [b["id"] for b in data["blocking"]], data["all_held"])


def test_doctor_says_when_no_session_ever_set_the_idle_hint(tmp_path: Path) -> None:
    """`mode doctor` (dubnium.doctor) on a desktop whose session never set IdleHint, with
    idle automation on: one problem naming IdleHint; after the hint is set: none."""
    st = station()
    backend = st.backend

    def idle_problems() -> list[str]:
        report = diagnose(backend, POLICY, st.state, st.audit, tmp_path, simulated=True)
        return [p for p in report.data["problems"] if "IdleHint" in p]

    never = idle_problems()
    st.world.seat.set_idle_hint(True)
    assert (1, []) == (len(never), idle_problems())
