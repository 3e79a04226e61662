"""The idle watcher: polls, decides with `dubnium.idle.decide`, and acts through the reconciler.

Called by the CLI (`mode idle watch|status|pause|resume|wake`), the Gherkin steps and the
simulator's automation campaign. One `tick()` observes the host (HostFacts through the
reconciler, IdleFacts through the backend's `idle_facts()`), reads the persisted `IdleState`
(`idle.json`, written only here) and the owner's `IdleControl` (`idle-control.json`, written
only by the pause/resume/wake verbs, so the two never race), decides, and then at most one
thing happens: a guarded request for compute or desktop through `Reconciler.request` with
`by="idle automation"` (one audit record, as for any request), or one `idle-block` audit
record per idle period when the guards refuse. `run()` loops on the injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dubnium import idle as i
from dubnium import plan as p
from dubnium.backend import iso_timestamp
from dubnium.errors import DubniumError, StateCorrupt
from dubnium.facts import HostFacts, Unavailable
from dubnium.guards import evaluate
from dubnium.modes import Mode
from dubnium.observe import Observation
from dubnium.reconcile import Reconciler, Result

STATE_FILE = "idle.json"
CONTROL_FILE = "idle-control.json"
NS = i.NS


@attrs.frozen
class Evaluation:
    """One look at the host: the facts, the conditions and the decision (nothing done yet)."""

    observation: Observation
    idle_facts: i.IdleFacts
    inputs: i.Inputs
    control: i.IdleControl
    decision: i.Decision
    now_ns: int


@attrs.frozen
class Tick:
    evaluation: Evaluation
    result: Result | None = None  # the request made, if any
    recorded_block: bool = False


class IdleWatcher:
    """Composes a reconciler (backend, policy, runtime state, audit) and an idle source."""

    def __init__(self, reconciler: Reconciler, source: i.IdleSource | None = None) -> None:
        self.rec = reconciler
        backend = reconciler.backend
        if source is None:
            if not isinstance(backend, i.IdleSource):
                source = _NoIdleSource(f"the {backend.name} backend cannot read idle facts")
            else:
                source = backend
        self.source = source
        self.policy = reconciler.policy
        self.clock = backend.clock

    # ----------------------------------------------------------------- persisted

    def read_state(self) -> i.IdleState:
        data = self.rec.state.read_json(STATE_FILE)
        try:
            return i.IdleState() if data is None else i.IdleState.from_json(data)
        except ValueError as exc:
            raise StateCorrupt(f"{self._where(STATE_FILE)}: {exc}") from None

    def write_state(self, state: i.IdleState) -> None:
        self.rec.state.write_json(STATE_FILE, state.to_json())

    def read_control(self) -> i.IdleControl:
        data = self.rec.state.read_json(CONTROL_FILE)
        try:
            return i.IdleControl() if data is None else i.IdleControl.from_json(data)
        except ValueError as exc:
            raise StateCorrupt(f"{self._where(CONTROL_FILE)}: {exc}") from None

    def _write_control(self, control: i.IdleControl) -> None:
        self.rec.state.write_json(CONTROL_FILE, control.to_json())

    def _where(self, name: str) -> str:
        where = self.rec.state.where
        return f"{where}/{name}" if where else name

    # ----------------------------------------------------------------- the owner's verbs

    def pause(self, for_s: float | None, by: str = "mode idle pause") -> i.IdleControl:
        now = self.clock.wall_ns()
        until = None if for_s is None else now + int(for_s * NS)
        control = attrs.evolve(self.read_control(), paused=True, paused_until_ns=until)
        self._write_control(control)
        self._audit("idle-pause", by, {"until": iso_timestamp(until) if until else None})
        return control

    def resume(self, by: str = "mode idle resume") -> i.IdleControl:
        """Unpause, and acknowledge the last failed transition (if any)."""
        last = self._last_transition()
        ack = str(last.get("attempt", "")) if last.get("outcome") in i.FAILED_OUTCOMES else ""
        control = attrs.evolve(self.read_control(), paused=False, paused_until_ns=None,
                               acknowledged_attempt=ack or self.read_control()
                               .acknowledged_attempt)
        self._write_control(control)
        self._audit("idle-resume", by, {"acknowledged": ack or None})
        return control

    def wake(self, by: str = "mode idle wake") -> i.IdleControl:
        control = attrs.evolve(self.read_control(), wake_requested_ns=self.clock.wall_ns())
        self._write_control(control)
        self._audit("idle-wake", by, {})
        return control

    def _audit(self, kind: str, by: str, extra: Mapping[str, Any]) -> None:
        self.rec.audit.append({"kind": kind, "by": by, "at": self.rec.now(), **extra})

    def _last_transition(self) -> dict[str, Any]:
        try:
            return self.rec.state.last_transition() or {}
        except StateCorrupt:
            return {}

    # ----------------------------------------------------------------- looking

    def evaluate(self, state: i.IdleState | None = None) -> Evaluation:
        """Observe and decide, without acting or writing anything."""
        state = self.read_state() if state is None else state
        control = self.read_control()
        facts, observation = self.rec.observe()
        idle_facts = self.source.idle_facts()
        now = self.clock.wall_ns()
        last = self._last_transition()
        try:
            desired = self.rec.state.read_json("desired.json") or {}
        except StateCorrupt:
            desired = {}
        sessions = () if isinstance(idle_facts.sessions, Unavailable) else idle_facts.sessions
        console = idle_facts.console_input_ns
        inputs = i.Inputs(
            conditions=i.conditions(facts, idle_facts, self.policy, now),
            observed=observation.state,
            lock_held=self.rec.state.store.lock_held() is not None,
            last_outcome=last.get("outcome"),
            last_attempt=str(last.get("attempt", "")),
            desired_by=str(desired.get("by", "")),
            sessions=sessions,
            console_input_ns=None if isinstance(console, Unavailable) else console,
        )
        decision = i.decide(inputs, state, control, self.policy.idle, now)
        if decision.action is i.Action.CHECK_GUARDS:
            inputs = attrs.evolve(inputs, guard_blocking=self._guards(facts, observation))
            decision = i.decide(inputs, state, control, self.policy.idle, now)
        return Evaluation(observation, idle_facts, inputs, control, decision, now)

    def _guards(self, facts: HostFacts, observation: Observation) -> tuple[str, ...]:
        """The guards a compute request would check now, on these facts."""
        the_plan = p.plan(observation.state, Mode.COMPUTE, self.policy)
        return tuple(
            v.guard.value
            for leg in the_plan.legs
            for v in evaluate(leg.guards, facts, self.policy, leg.target).blocking
        )

    # ----------------------------------------------------------------- acting

    def tick(self) -> Tick:
        """One poll: decide, do at most one thing, persist the state."""
        ev = self.evaluate()
        decision = ev.decision
        state = decision.state
        result: Result | None = None
        recorded = False
        if decision.action is i.Action.PROMOTE:
            result = self.rec.request(Mode.COMPUTE, by=i.BY)
            if result.outcome.value in ("converged", "degraded"):
                state = i.entered(state, result.record.attempt,
                                  self.clock.wall_ns(), ev.inputs.sessions)
                state = attrs.evolve(state, last_state=_state_of(result, state.last_state))
            else:
                state = attrs.evolve(state, block_recorded_period=state.period)
        elif decision.action is i.Action.WAKE:
            result = self.rec.request(Mode.DESKTOP, by=f"{i.BY} ({decision.wake_cause})")
        elif decision.action is i.Action.RECORD_BLOCK:
            self._audit("idle-block", i.BY, {
                "requested": Mode.COMPUTE.value,
                "blocking": list(ev.inputs.guard_blocking or ()),
                "period": state.period,
                "idle_for_s": round(decision.idle_for_s, 3),
                "summary": decision.blocks[0].reason,
            })
            recorded = True
        self.write_state(state)
        return Tick(ev, result, recorded)

    def run(self, *, ticks: int | None = None, for_s: float | None = None,
            stop: Callable[[], bool] = lambda: False,
            on_tick: Callable[[Tick], None] = lambda t: None,
            on_error: Callable[[DubniumError], None] | None = None) -> int:
        """Poll every `idle.poll_interval_s` until `stop()`, `ticks` polls or `for_s` pass.

        With `on_error`, a poll that fails with a DubniumError (a bus that is down, a busy
        lock, a damaged state file) is reported there and the next poll comes as usual; the
        long-running watcher outlives a daemon restart. Without it, the error propagates.
        """
        start = self.clock.monotonic_ns()
        count = 0
        while not stop():
            try:
                on_tick(self.tick())
            except DubniumError as exc:
                if on_error is None:
                    raise
                on_error(exc)
            count += 1
            if ticks is not None and count >= ticks:
                break
            if for_s is not None and self.clock.monotonic_ns() - start >= for_s * NS:
                break
            self.clock.sleep(self.policy.idle.poll_interval_s)
        return count


def _state_of(result: Result, default: str) -> str:
    obs = result.observation
    return obs.state.value if obs is not None else default


class _NoIdleSource:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    def idle_facts(self) -> i.IdleFacts:
        return i.IdleFacts(Unavailable(self.reason), Unavailable(self.reason),
                           Unavailable(self.reason))


def status_json(ev: Evaluation, state: i.IdleState) -> dict[str, Any]:
    """`mode idle status --json`: each condition, how long idle, what blocks and until when."""
    d = ev.decision
    control = ev.control
    facts = ev.idle_facts
    inhibitors = ([] if isinstance(facts.inhibitors, Unavailable)
                  else [attrs.asdict(x) | {"what": list(x.what)} for x in facts.inhibitors])
    sessions = ([] if isinstance(facts.sessions, Unavailable)
                else [attrs.asdict(s) for s in facts.sessions])
    until = d.blocked_until_ns
    return {
        "observed": ev.observation.state.value,
        "conditions": [c.to_json() for c in ev.inputs.conditions],
        "all_held": all(c.held for c in ev.inputs.conditions),
        "idle_since": iso_timestamp(state.idle_since_ns) if state.idle_since_ns else None,
        "idle_for_s": round(d.idle_for_s, 3),
        "would": d.action.value,
        "blocking": [b.to_json() for b in d.blocks],
        "blocked_until": iso_timestamp(until) if until else None,
        "paused": control.paused_at(ev.now_ns),
        "paused_until": (iso_timestamp(control.paused_until_ns)
                         if control.paused_at(ev.now_ns) and control.paused_until_ns else None),
        "cooldown_until": (iso_timestamp(state.cooldown_until_ns)
                           if state.cooldown_until_ns and state.cooldown_until_ns > ev.now_ns
                           else None),
        "compute_by_automation": state.entered_attempt or None,
        "sessions": sessions,
        "inhibitors": inhibitors,
        "unavailable": {k: v.reason for k, v in attrs.asdict(facts, recurse=False).items()
                        if isinstance(v, Unavailable)},
    }


def status_text(data: Mapping[str, Any]) -> str:
    lines = [f"observed {data['observed']}; would: {data['would']}"]
    for c in data["conditions"]:
        lines.append(f"  [{'x' if c['held'] else ' '}] {c['id']:17} {c['value']}")
    lines.append(f"idle for {data['idle_for_s']:.0f} s" + (
        f" (since {data['idle_since']})" if data["idle_since"] else ""))
    for b in data["blocking"]:
        lines.append(f"blocked: {b['id']}: {b['reason']}" + (
            f" (until {b['until']})" if b["until"] else ""))
    if not data["blocking"]:
        lines.append("nothing blocks")
    if data["compute_by_automation"]:
        lines.append(f"compute was entered by idle automation ({data['compute_by_automation']})")
    return "\n".join(lines)
