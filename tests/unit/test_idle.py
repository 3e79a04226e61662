"""The pure idle decision (dubnium.idle): conditions, hysteresis, wake, and the state files."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from dubnium import idle as i
from dubnium.errors import ConfigError
from dubnium.facts import AudioGraph, AudioNode, LoadFact, ProcessFact, Unavailable
from dubnium.modes import ObservedState
from dubnium.policy import Idle, default_policy
from dubnium.policyload import load_policy_data
from tests.factories import SINK, desktop

NS = i.NS
T0 = 1_800_000_000 * NS  # 2027-01-15T08:00:00Z, a Friday
POLICY = attrs.evolve(default_policy(), idle=Idle(enable=True, after_s=600, cooldown_s=900,
                                                  exclusive_apps=("steam",)))
GUI = i.SessionIdle("2", "owner", "wayland", "user", idle_hint=True, idle_since_ns=T0 - NS)
IDLE = i.IdleFacts((GUI,), ())
HELD = i.Inhibitor(("idle",), "obs", "Recording", "block", 1000, 4321)


def ids(conds: tuple[i.Condition, ...]) -> dict[str, bool]:
    return {c.id.value: c.held for c in conds}


def inputs(observed: ObservedState = ObservedState.DESKTOP, **changes: object) -> i.Inputs:
    conds = i.conditions(desktop(), IDLE, POLICY, T0)
    return attrs.evolve(i.Inputs(conds, observed), **changes)  # type: ignore[arg-type]


def run(state: i.IdleState, at_s: float, inp: i.Inputs | None = None,
        control: i.IdleControl | None = None) -> i.Decision:
    return i.decide(inp or inputs(guard_blocking=()), state, control or i.IdleControl(),
                    POLICY.idle,
                    T0 + int(at_s * NS))


def test_every_condition_holds_on_an_idle_silent_desktop() -> None:
    """An idle hint, no lock, no app, silence, low load, no schedule: all six conditions hold."""
    assert {c.value: True for c in i.ConditionId} == ids(i.conditions(desktop(), IDLE, POLICY, T0))


def test_an_idle_inhibitor_breaks_no_inhibitor_and_names_its_holder() -> None:
    """A blocking idle lock makes no_inhibitor fail, naming who holds it and why."""
    cond = i.conditions(desktop(), attrs.evolve(IDLE, inhibitors=(HELD,)), POLICY, T0)[1]
    assert (False, ("obs (pid 4321, uid 1000, idle): Recording",)) == (cond.held, cond.holders)


def test_a_delay_lock_or_an_unlisted_kind_does_not_block() -> None:
    """Only block-mode locks of the policy's kinds count (delay sleep locks are routine)."""
    others = (attrs.evolve(HELD, mode="delay"), attrs.evolve(HELD, what=("handle-lid-switch",)))
    cond = i.conditions(desktop(), attrs.evolve(IDLE, inhibitors=others), POLICY, T0)[1]
    assert True is cond.held


def test_an_active_session_audio_an_app_and_load_each_break_their_condition() -> None:
    """A session without IdleHint, a running stream, an exclusive app and high load."""
    busy = attrs.evolve(GUI, idle_hint=False)
    stream = AudioNode(40, "firefox", "Stream/Output/Audio", "running")
    facts = desktop(audio=AudioGraph((SINK, stream)),
                    processes=(ProcessFact(77, "steam", 1000, 5.0),),
                    load=LoadFact(16.0, 16.0, 16.0, 16))
    got = ids(i.conditions(facts, i.IdleFacts((busy,), ()), POLICY, T0))
    assert {"session_idle": False, "no_inhibitor": True, "no_exclusive_app": False,
            "no_audio": False, "load_low": False, "schedule": True} == got


def test_unreadable_evidence_never_counts_as_idle() -> None:
    """Sessions or inhibitors that cannot be read make their condition fail."""
    facts = i.IdleFacts(Unavailable("logind down"), Unavailable("logind down"))
    got = ids(i.conditions(desktop(), facts, POLICY, T0))
    assert (False, False) == (got["session_idle"], got["no_inhibitor"])


def test_schedule_window_wrapping_midnight_and_when_it_opens() -> None:
    """22:00-07:00 on weekdays: Friday 08:00 is outside; it opens at 22:00 the same day."""
    idle = attrs.evolve(POLICY.idle, windows=("22:00-07:00",), days=("mon", "fri"))
    cond = i.schedule_condition(idle, T0)
    opens = int(datetime(2027, 1, 15, 22, 0, tzinfo=UTC).timestamp()) * NS
    assert (False, opens) == (cond.held, cond.until_ns)
    saturday_3am = int(datetime(2027, 1, 16, 3, 0, tzinfo=UTC).timestamp()) * NS
    assert True is i.schedule_condition(idle, saturday_3am).held  # opened on Friday


def test_promotion_only_after_idle_after_s_continuously() -> None:
    """Holding until after_s passes, then request-compute; a break restarts the count."""
    first = run(i.IdleState(), 0)
    early = run(first.state, 599)
    busy = inputs(guard_blocking=(), conditions=(i.Condition(i.ConditionId.NO_AUDIO, False,
                                                              "playing"),))
    broken = run(early.state, 599.5, busy)
    again = run(broken.state, 600)
    due = run(again.state, 1200)
    assert ([i.Action.NONE, i.Action.NONE, i.Action.NONE, i.Action.PROMOTE],
            [i.BlockId.HOLDING], T0 + 1200 * NS) == (
        [early.action, broken.action, again.action, due.action],
        [b.id for b in again.blocks], again.blocks[0].until_ns)


@pytest.mark.parametrize(("observed", "block"), [
    (ObservedState.STUDIO_LOCAL, i.BlockId.STUDIO_LOCAL),
    (ObservedState.TRANSITIONING, i.BlockId.NOT_DESKTOP),
    (ObservedState.DEGRADED_DESKTOP, i.BlockId.NOT_DESKTOP),
])
def test_never_from_anything_but_desktop(observed: ObservedState, block: i.BlockId) -> None:
    """Long idle in studio-local (or any non-desktop state) never promotes."""
    state = i.IdleState(idle_since_ns=T0 - 10_000 * NS, period=1)
    d = run(state, 0, inputs(observed, guard_blocking=()))
    assert (i.Action.NONE, [block]) == (d.action, [b.id for b in d.blocks])


def test_pause_blocks_until_its_end_then_promotion_resumes() -> None:
    """A pause for an hour blocks with its end as `until`; after it, promotion happens."""
    state = i.IdleState(idle_since_ns=T0 - 10_000 * NS, period=1)
    control = i.IdleControl(paused=True, paused_until_ns=T0 + 3600 * NS)
    during = run(state, 0, control=control)
    after = run(state, 3600, control=control)
    assert ((i.Action.NONE, [i.BlockId.PAUSED], T0 + 3600 * NS), i.Action.PROMOTE) == (
        (during.action, [b.id for b in during.blocks], during.blocked_until_ns), after.action)


def test_failed_transition_blocks_until_acknowledged() -> None:
    """After a rolled-back attempt: blocked; `mode idle resume`'s acknowledgement lifts it."""
    state = i.IdleState(idle_since_ns=T0 - 10_000 * NS, period=1)
    inp = inputs(last_outcome="rolled-back", last_attempt="a1", guard_blocking=())
    blocked = run(state, 0, inp)
    acked = run(state, 0, inp, i.IdleControl(acknowledged_attempt="a1"))
    assert ([i.BlockId.FAILED_UNACKNOWLEDGED], i.Action.PROMOTE) == (
        [b.id for b in blocked.blocks], acked.action)


def test_return_to_desktop_starts_the_cooldown() -> None:
    """compute then desktop: no promotion for cooldown_s even when idle all along."""
    state = i.IdleState(idle_since_ns=T0 - 10_000 * NS, period=1, last_state="compute")
    back = run(state, 0)
    later = run(back.state, 900)
    assert ([i.BlockId.COOLDOWN], T0 + 900 * NS, i.Action.PROMOTE) == (
        [b.id for b in back.blocks], back.state.cooldown_until_ns, later.action)


def test_a_guard_block_is_recorded_once_per_idle_period() -> None:
    """record-block at the first poll of a period, then nothing until a new period."""
    state = i.IdleState(idle_since_ns=T0 - 10_000 * NS, period=1)
    inp = inputs(guard_blocking=("user_jobs_safe",))
    first = run(state, 0, inp)
    second = run(first.state, 30, inp)
    busy = inputs(conditions=(i.Condition(i.ConditionId.NO_AUDIO, False, "playing"),))
    gap = run(second.state, 60, busy)
    new_period = run(gap.state, 90, inp)
    assert [i.Action.RECORD_BLOCK, i.Action.NONE, i.Action.NONE, i.Action.NONE] == [
        d.action for d in (first, second, gap, new_period)]
    assert i.Action.RECORD_BLOCK == run(new_period.state, 700, inp).action


def test_ready_without_guard_verdicts_asks_for_them() -> None:
    """When nothing else blocks, decide asks the watcher to evaluate the guards first."""
    state = i.IdleState(idle_since_ns=T0 - 10_000 * NS, period=1)
    assert i.Action.CHECK_GUARDS == run(state, 0, inputs()).action


def test_wake_on_key_login_or_command_only_when_automation_entered() -> None:
    """In automation's compute, a console key, a new local login or `mode idle wake` request
    desktop; the owner's own compute is left alone."""
    ours = i.entered(i.IdleState(), "a1", T0, ())
    theirs = i.IdleState()
    tty = i.SessionIdle("7", "owner", "tty", "user")
    key = inputs(ObservedState.COMPUTE, console_input_ns=T0 + NS, desired_by=i.BY)
    login = inputs(ObservedState.COMPUTE, sessions=(tty,), desired_by=i.BY)
    command = inputs(ObservedState.COMPUTE, desired_by=i.BY)
    woken = i.IdleControl(wake_requested_ns=T0 + NS)
    got = [run(ours, 2, key).action, run(ours, 2, login).action,
           run(ours, 2, command, woken).action, run(theirs, 2, key).action,
           run(ours, 2, attrs.evolve(key, desired_by="mode request")).action]
    assert [i.Action.WAKE, i.Action.WAKE, i.Action.WAKE, i.Action.NONE, i.Action.NONE] == got


def test_state_and_control_round_trip_and_reject_wrong_shapes() -> None:
    """to_json/from_json are inverse; a wrong type is a ValueError naming the field."""
    state = i.entered(i.IdleState(idle_since_ns=5, period=3), "a1", 9, (GUI,))
    control = i.IdleControl(paused=True, paused_until_ns=7, acknowledged_attempt="x")
    assert (state, control) == (i.IdleState.from_json(state.to_json()),
                                i.IdleControl.from_json(control.to_json()))
    with pytest.raises(ValueError, match="period"):
        i.IdleState.from_json({"period": "3"})


def test_policy_idle_section_validates_windows_days_and_timezone() -> None:
    """Bad windows, days, kinds or zones are config errors naming the key."""
    base = default_policy().to_json()
    for key, value, message in (("windows", ["25:00-07:00"], "idle.windows"),
                                ("days", ["monday"], "idle.days"),
                                ("inhibitor_kinds", ["nap"], "idle.inhibitor_kinds"),
                                ("timezone", "Mars/Olympus", "idle.timezone"),
                                ("wake", True, "idle.wake")):
        with pytest.raises(ConfigError, match=message):
            load_policy_data({**base, "idle": {key: value}})


def test_doctor_names_sessions_that_never_set_the_idle_hint() -> None:
    """A graphical session with IdleSinceHint 0 and no hint is a problem when idle is on."""
    never = i.IdleFacts((attrs.evolve(GUI, idle_hint=False, idle_since_ns=0),), ())
    assert (1, [], []) == (len(i.hint_problems(never, True)), i.hint_problems(never, False),
                           i.hint_problems(IDLE, True))


def test_history_shows_the_automations_own_records() -> None:
    """`mode history` prints an idle-block record as what it is, with its `by` and why."""
    from dubnium.render import history_line

    line = history_line({"kind": "idle-block", "by": i.BY, "at": "2027-01-15T08:00:00.000Z",
                         "summary": "guards block compute: user_jobs_safe"}, "line 3")
    assert ("2027-01-15T08:00:00.000Z  idle-block                     by idle automation: "
            "guards block compute: user_jobs_safe") == line
