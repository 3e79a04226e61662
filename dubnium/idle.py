"""Idle automation, the pure part: idle facts, the named idle conditions, and the decision.

Called by `dubnium.idlewatch` (the watcher loop and `mode idle status`), the simulator's
automation campaign and the tests. Nothing here reads the host or a clock: the watcher
passes the facts (`HostFacts` for audio, load and processes; `IdleFacts` for logind's idle
hints and inhibitor locks and the console's last key), the persisted `IdleState`, the owner's
`IdleControl` (pause, acknowledgement, wake), the policy and the wall time, and `decide`
answers with a frozen `Decision`: what to do, what blocks promotion and until when, and the
next `IdleState`. Every condition and every block has a stable id (the `--json` contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import attrs

from dubnium.facts import HostFacts, Unavailable
from dubnium.modes import ObservedState
from dubnium.policy import DAYS, Idle, Policy

NS = 1_000_000_000
BY = "idle automation"  # the `by` of every record the automation writes
# Outcomes after which automation stays off until the owner acknowledges.
FAILED_OUTCOMES = ("failed-transition", "rolled-back")
_COMPUTE_STATES = (ObservedState.COMPUTE, ObservedState.DEGRADED_COMPUTE)


# ------------------------------------------------------------------------- facts


@attrs.frozen
class SessionIdle:
    """One logind session's idle hint (org.freedesktop.login1.Session IdleHint/IdleSinceHint)."""

    id: str
    user: str
    type: str  # wayland, x11, tty
    class_: str  # user, greeter, ...
    state: str = "active"
    seat: str = "seat0"
    remote: bool = False
    idle_hint: bool = False
    idle_since_ns: int = 0  # wall time the hint last changed; 0: never set

    @property
    def graphical(self) -> bool:
        return self.type in ("wayland", "x11") and self.state != "closing"

    @property
    def local_user(self) -> bool:
        """A person at this machine: a local (not remote) user session, not closing.

        Not keyed on the seat: a session without one (a container's, the test host's) is
        still somebody's desktop."""
        return self.class_ == "user" and not self.remote and self.state != "closing"


@attrs.frozen
class Inhibitor:
    """One logind inhibitor lock (ListInhibitors: what, who, why, mode, uid, pid)."""

    what: tuple[str, ...]
    who: str
    why: str
    mode: str  # block or delay
    uid: int
    pid: int

    def describe(self) -> str:
        return f"{self.who} (pid {self.pid}, uid {self.uid}, {':'.join(self.what)}): {self.why}"


@attrs.frozen
class IdleFacts:
    """What the idle conditions read beyond `HostFacts`; unreadable groups are Unavailable."""

    sessions: tuple[SessionIdle, ...] | Unavailable
    inhibitors: tuple[Inhibitor, ...] | Unavailable
    console_input_ns: int | Unavailable | None = None  # wall time of the last console key


@runtime_checkable
class IdleSource(Protocol):
    """A backend that can read idle facts (SimBackend, HostBackend)."""

    def idle_facts(self) -> IdleFacts: ...


def hint_problems(idle: IdleFacts, enabled: bool) -> list[str]:
    """For `mode doctor`: graphical sessions none of which ever set IdleHint (Wayland
    compositors do not; hypridle or swayidle must), or unreadable idle evidence."""
    if not enabled:
        return []
    if isinstance(idle.sessions, Unavailable):
        return [f"idle hints unavailable: {idle.sessions.reason}"]
    graphical = [s for s in idle.sessions if s.graphical and s.local_user]
    if graphical and not any(s.idle_hint or s.idle_since_ns for s in graphical):
        ids = ", ".join(s.id for s in graphical)
        return [f"idle automation: no graphical session ({ids}) has ever set logind's IdleHint;"
                " it will never see the desktop idle (let hypridle or swayidle call"
                " SetIdleHint: docs/nixos.md)"]
    return []


# ------------------------------------------------------------------------- conditions


class ConditionId(StrEnum):
    SESSION_IDLE = "session_idle"  # every graphical session on the seat says IdleHint=yes
    NO_INHIBITOR = "no_inhibitor"  # no blocking logind lock of the kinds policy names
    NO_EXCLUSIVE_APP = "no_exclusive_app"  # none of policy's exclusive applications runs
    NO_AUDIO = "no_audio"  # no running audio stream, no JACK client
    LOAD_LOW = "load_low"  # load per core under idle.load_per_core_max
    SCHEDULE = "schedule"  # inside a window, on a listed day (always, when none are set)


@attrs.frozen
class Condition:
    id: ConditionId
    held: bool
    value: str
    holders: tuple[str, ...] = ()  # what breaks it (inhibitors, applications, streams)
    until_ns: int | None = None  # when it changes by the clock alone (schedule)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id.value, "held": self.held, "value": self.value,
                "holders": list(self.holders), "until_ns": self.until_ns}


def conditions(facts: HostFacts, idle: IdleFacts, policy: Policy,
               now_ns: int) -> tuple[Condition, ...]:
    """Every idle condition, evaluated on one observation."""
    return (
        _session_idle(idle),
        _no_inhibitor(idle, policy.idle),
        _no_exclusive_app(facts, policy.idle),
        _no_audio(facts),
        _load_low(facts, policy.idle),
        schedule_condition(policy.idle, now_ns),
    )


def _session_idle(idle: IdleFacts) -> Condition:
    cid = ConditionId.SESSION_IDLE
    if isinstance(idle.sessions, Unavailable):
        return Condition(cid, False, f"unreadable: {idle.sessions.reason}")
    graphical = [s for s in idle.sessions if s.graphical and s.local_user]
    if not graphical:
        return Condition(cid, True, "no graphical session")
    busy = [s for s in graphical if not s.idle_hint]
    if busy:
        return Condition(cid, False, "active: " + ", ".join(
            f"session {s.id} ({s.user}, {s.type}) IdleHint=no" for s in busy),
            tuple(f"session {s.id}" for s in busy))
    since = max(s.idle_since_ns for s in graphical)
    return Condition(cid, True, f"idle since {_iso(since)}" if since else "idle")


def _no_inhibitor(idle: IdleFacts, policy: Idle) -> Condition:
    cid = ConditionId.NO_INHIBITOR
    if isinstance(idle.inhibitors, Unavailable):
        return Condition(cid, False, f"unreadable: {idle.inhibitors.reason}")
    kinds = set(policy.inhibitor_kinds)
    held = [i for i in idle.inhibitors if i.mode == "block" and kinds & set(i.what)]
    if held:
        return Condition(cid, False, "held by " + "; ".join(i.describe() for i in held),
                         tuple(i.describe() for i in held))
    return Condition(cid, True, f"none of {', '.join(policy.inhibitor_kinds) or 'no kinds'}")


def _no_exclusive_app(facts: HostFacts, policy: Idle) -> Condition:
    cid = ConditionId.NO_EXCLUSIVE_APP
    if not policy.exclusive_apps:
        return Condition(cid, True, "none configured")
    if isinstance(facts.processes, Unavailable):
        return Condition(cid, False, f"unreadable: {facts.processes.reason}")
    names = {name[:15] for name in policy.exclusive_apps}  # the kernel's comm length
    running = sorted({f"{p.comm} (pid {p.pid})" for p in facts.processes if p.comm in names})
    if running:
        return Condition(cid, False, "running: " + ", ".join(running), tuple(running))
    return Condition(cid, True, "none running")


def _no_audio(facts: HostFacts) -> Condition:
    cid = ConditionId.NO_AUDIO
    if isinstance(facts.audio, Unavailable):
        return Condition(cid, False, f"unreadable: {facts.audio.reason}")
    busy = [f"{n.app_name or n.name} (stream)" for n in facts.audio.busy_streams]
    busy += [f"{n.name} (JACK)" for n in facts.audio.jack_clients]
    if busy:
        return Condition(cid, False, "playing: " + ", ".join(busy), tuple(busy))
    return Condition(cid, True, "silent")


def _load_low(facts: HostFacts, policy: Idle) -> Condition:
    cid = ConditionId.LOAD_LOW
    if isinstance(facts.load, Unavailable):
        return Condition(cid, False, f"unreadable: {facts.load.reason}")
    per_core = facts.load.per_core
    held = per_core < policy.load_per_core_max
    return Condition(cid, held, f"{per_core:.2f} per core "
                                f"({'<' if held else '>='} {policy.load_per_core_max:g})")


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def schedule_condition(policy: Idle, now_ns: int) -> Condition:
    """Inside a window on an allowed day; `until_ns` is when that next changes."""
    cid = ConditionId.SCHEDULE
    if not policy.windows and not policy.days:
        return Condition(cid, True, "always")
    zone = ZoneInfo(policy.timezone)
    now = datetime.fromtimestamp(now_ns / NS, tz=UTC).astimezone(zone)
    inside = _inside(policy, now)
    # The next change, minute by minute over a week (at most 10,080 cheap checks; windows
    # and days are minute-aligned).
    start = now.replace(second=0, microsecond=0)
    until: int | None = None
    for step in range(1, 7 * 24 * 60 + 2):
        moment = start + timedelta(minutes=step)
        if _inside(policy, moment) != inside:
            until = int(moment.astimezone(UTC).timestamp()) * NS
            break
    where = (f"{', '.join(policy.windows) or 'all day'} on "
             f"{', '.join(policy.days) or 'every day'} ({policy.timezone})")
    return Condition(cid, inside, ("inside " if inside else "outside ") + where,
                     until_ns=until)


def _inside(policy: Idle, moment: datetime) -> bool:
    day = DAYS[moment.weekday()]
    minute = moment.hour * 60 + moment.minute
    if not policy.windows:
        return not policy.days or day in policy.days
    for window in policy.windows:
        begin, end = _minutes(window[:5]), _minutes(window[6:])
        if begin < end:
            if begin <= minute < end and (not policy.days or day in policy.days):
                return True
        else:  # wraps midnight: the day is the one the window opened on
            opened = DAYS[(moment - timedelta(days=1)).weekday()] if minute < end else day
            if (minute >= begin or minute < end) and (not policy.days or opened in policy.days):
                return True
    return False


# ------------------------------------------------------------------------- state


@attrs.frozen
class IdleState:
    """The watcher's memory between polls (runtime state file `idle.json`)."""

    idle_since_ns: int | None = None  # first poll at which every condition held
    period: int = 0  # idle periods seen (a new one starts when all conditions hold again)
    block_recorded_period: int = -1  # the period whose guard block is already in the log
    last_state: str = ""  # the observed state at the last poll
    cooldown_until_ns: int | None = None
    entered_attempt: str = ""  # the automation attempt that entered compute ("" if none)
    entered_at_ns: int | None = None
    sessions_at_entry: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "sessions_at_entry": list(self.sessions_at_entry)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IdleState:
        """ValueError (naming the field) unless `data` is what `to_json` wrote."""
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if field.name not in data:
                continue
            value = data[field.name]
            if field.name == "sessions_at_entry":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{field.name}: expected a list of session ids")
                value = tuple(value)
            elif field.name in ("last_state", "entered_attempt"):
                if not isinstance(value, str):
                    raise ValueError(f"{field.name}: expected a string")
            else:
                nullable = field.name not in ("period", "block_recorded_period")
                is_int = isinstance(value, int) and not isinstance(value, bool)
                if not (is_int or (nullable and value is None)):
                    raise ValueError(f"{field.name}: expected an integer")
            values[field.name] = value
        return cls(**values)


@attrs.frozen
class IdleControl:
    """The owner's say (`mode idle pause|resume|wake`; file `idle-control.json`)."""

    paused: bool = False
    paused_until_ns: int | None = None  # None with paused: until resumed
    acknowledged_attempt: str = ""  # a failed attempt the owner has seen (`mode idle resume`)
    wake_requested_ns: int | None = None  # `mode idle wake`

    def paused_at(self, now_ns: int) -> bool:
        return self.paused and (self.paused_until_ns is None or now_ns < self.paused_until_ns)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IdleControl:
        paused = data.get("paused", False)
        ack = data.get("acknowledged_attempt", "")
        if not isinstance(paused, bool) or not isinstance(ack, str):
            raise ValueError("paused/acknowledged_attempt: wrong type")
        times = {}
        for name in ("paused_until_ns", "wake_requested_ns"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name}: expected an integer or null")
            times[name] = value
        return cls(paused=paused, acknowledged_attempt=ack, **times)


# ------------------------------------------------------------------------- decision


class Action(StrEnum):
    NONE = "none"
    CHECK_GUARDS = "check-guards"  # ready but for the guards: evaluate them, decide again
    RECORD_BLOCK = "record-block"  # the guards block: record it (once per idle period)
    PROMOTE = "request-compute"
    WAKE = "request-desktop"


class BlockId(StrEnum):
    DISABLED = "disabled"
    PAUSED = "paused"
    TRANSITION_IN_PROGRESS = "transition_in_progress"
    FAILED_UNACKNOWLEDGED = "failed_unacknowledged"
    STUDIO_LOCAL = "studio_local"
    NOT_DESKTOP = "not_desktop"
    COOLDOWN = "cooldown"
    CONDITIONS = "conditions"
    HOLDING = "holding"  # every condition holds; not yet for idle.after_s
    GUARDS = "guards"


@attrs.frozen
class Block:
    id: BlockId
    reason: str
    until_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id.value, "reason": self.reason, "until_ns": self.until_ns,
                "until": _iso(self.until_ns) if self.until_ns else None}


@attrs.frozen
class Inputs:
    """Everything `decide` reads besides the state, the control, the policy and the time."""

    conditions: tuple[Condition, ...]
    observed: ObservedState
    lock_held: bool = False
    last_outcome: str | None = None  # of the last transition record
    last_attempt: str = ""
    desired_by: str = ""  # who wrote desired last
    sessions: tuple[SessionIdle, ...] = ()  # for wake on login
    console_input_ns: int | None = None
    guard_blocking: tuple[str, ...] | None = None  # None: not evaluated


@attrs.frozen
class Decision:
    action: Action
    blocks: tuple[Block, ...]
    state: IdleState
    idle_for_s: float = 0.0
    wake_cause: str = ""

    @property
    def blocked_until_ns(self) -> int | None:
        """When promotion may next be possible by the clock alone (None: not by the clock)."""
        timed = [b.until_ns for b in self.blocks if b.until_ns is not None]
        untimed = [b for b in self.blocks if b.until_ns is None]
        return max(timed) if timed and not untimed else None


def decide(inputs: Inputs, state: IdleState, control: IdleControl, policy: Idle,
           now_ns: int) -> Decision:
    """The watcher's decision at `now_ns`: pure, total, deterministic."""
    observed = inputs.observed
    # A return from compute to desktop starts the cooldown and ends automation's ownership.
    if state.last_state in _COMPUTE_STATES and observed not in _COMPUTE_STATES \
            and observed is not ObservedState.TRANSITIONING:
        state = attrs.evolve(state, cooldown_until_ns=now_ns + int(policy.cooldown_s * NS),
                             entered_attempt="", entered_at_ns=None, sessions_at_entry=())
    if state.entered_at_ns is not None and not inputs.desired_by.startswith(BY):
        # The owner asked for something since: the compute is theirs now.
        state = attrs.evolve(state, entered_attempt="", entered_at_ns=None,
                             sessions_at_entry=())
    held = all(c.held for c in inputs.conditions)
    if held and state.idle_since_ns is None:
        state = attrs.evolve(state, idle_since_ns=now_ns, period=state.period + 1)
    elif not held:
        state = attrs.evolve(state, idle_since_ns=None)
    state = attrs.evolve(state, last_state=observed.value)
    idle_for = (now_ns - state.idle_since_ns) / NS if state.idle_since_ns is not None else 0.0

    if observed in _COMPUTE_STATES:
        cause = _wake_cause(inputs, state, control, policy)
        blocks: tuple[Block, ...] = (Block(BlockId.NOT_DESKTOP, f"already {observed.value}"),)
        if cause and not inputs.lock_held:
            return Decision(Action.WAKE, blocks, state, idle_for, cause)
        return Decision(Action.NONE, blocks, state, idle_for)

    blocks = _blocks(inputs, state, control, policy, now_ns)
    if blocks:
        return Decision(Action.NONE, blocks, state, idle_for)
    if inputs.guard_blocking is None:
        return Decision(Action.CHECK_GUARDS, (), state, idle_for)
    if inputs.guard_blocking:
        block = Block(BlockId.GUARDS, "guards block compute: " + ", ".join(inputs.guard_blocking))
        if state.block_recorded_period != state.period:
            state = attrs.evolve(state, block_recorded_period=state.period)
            return Decision(Action.RECORD_BLOCK, (block,), state, idle_for)
        return Decision(Action.NONE, (block,), state, idle_for)
    return Decision(Action.PROMOTE, (), state, idle_for)


def _blocks(inputs: Inputs, state: IdleState, control: IdleControl, policy: Idle,
            now_ns: int) -> tuple[Block, ...]:
    out: list[Block] = []
    if not policy.enable:
        out.append(Block(BlockId.DISABLED, "idle automation is off (idle.enable = false)"))
    if control.paused_at(now_ns):
        out.append(Block(BlockId.PAUSED, "paused by the owner (mode idle resume ends it)",
                         control.paused_until_ns))
    if inputs.lock_held:
        out.append(Block(BlockId.TRANSITION_IN_PROGRESS, "a transition holds the lock"))
    if inputs.last_outcome in FAILED_OUTCOMES and \
            inputs.last_attempt != control.acknowledged_attempt:
        out.append(Block(BlockId.FAILED_UNACKNOWLEDGED,
                         f"the last transition ended {inputs.last_outcome}; run `mode reconcile`"
                         " or `mode idle resume` to acknowledge"))
    if inputs.observed is ObservedState.STUDIO_LOCAL:
        out.append(Block(BlockId.STUDIO_LOCAL, "never from studio-local"))
    elif inputs.observed is not ObservedState.DESKTOP:
        out.append(Block(BlockId.NOT_DESKTOP, f"observed {inputs.observed.value}, not desktop"))
    if state.cooldown_until_ns is not None and now_ns < state.cooldown_until_ns:
        out.append(Block(BlockId.COOLDOWN, "cooling down after a return to desktop",
                         state.cooldown_until_ns))
    failing = [c for c in inputs.conditions if not c.held]
    if failing:
        clock_only = all(c.until_ns is not None for c in failing)
        until = max(c.until_ns or 0 for c in failing) if clock_only else None
        out.append(Block(BlockId.CONDITIONS, "; ".join(f"{c.id.value}: {c.value}"
                                                       for c in failing), until))
    elif state.idle_since_ns is not None:
        ready_at = state.idle_since_ns + int(policy.after_s * NS)
        if now_ns < ready_at:
            out.append(Block(BlockId.HOLDING, f"idle for {(now_ns - state.idle_since_ns) / NS:.0f}"
                             f" s of {policy.after_s:g} s", ready_at))
    return tuple(out)


def _wake_cause(inputs: Inputs, state: IdleState, control: IdleControl, policy: Idle) -> str:
    """Why the owner is back, when automation entered compute ("" when not back)."""
    entered = state.entered_at_ns
    if entered is None:
        return ""
    wake = policy.wake_on
    if "command" in wake and control.wake_requested_ns is not None \
            and control.wake_requested_ns >= entered:
        return "wake command (mode idle wake)"
    if "key" in wake and inputs.console_input_ns is not None \
            and inputs.console_input_ns > entered:
        return f"a key on the console at {_iso(inputs.console_input_ns)}"
    if "login" in wake:
        known = set(state.sessions_at_entry)
        new = [s for s in inputs.sessions if s.local_user and s.id not in known]
        if new:
            return f"a login at the seat (session {new[0].id}, {new[0].user}, {new[0].type})"
    return ""


def entered(state: IdleState, attempt: str, now_ns: int,
            sessions: tuple[SessionIdle, ...]) -> IdleState:
    """The state after automation's compute request converged: it owns compute now."""
    return attrs.evolve(state, entered_attempt=attempt, entered_at_ns=now_ns,
                        sessions_at_entry=tuple(s.id for s in sessions),
                        block_recorded_period=state.period)


def _iso(wall_ns: int | None) -> str:
    if not wall_ns:
        return "never"
    moment = datetime.fromtimestamp(wall_ns / NS, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
