"""Automation campaigns: seeded operations against the idle watcher, with its invariants.

Called by `mode-sim idle-campaign` and tests/unit/test_idle_campaign.py. One seed is one
`Station` (world + the real reconciler) with idle automation on (after/cooldown drawn from
the seed), driven by the real `IdleWatcher` while a seeded stream of operations changes the
world the way its owner and its applications would: idle hints set and cleared, inhibitor
locks taken and released, audio, exclusive applications, load, logins, keys at the seat,
owner requests (studio-local, desktop, compute), pauses and resumes, a failing compute
(rolled back), and time passing with the watcher polling.

The invariant is judged from the world's own state and the campaign's own record of the
owner's pauses, never from the watcher's reading of them: idle automation never starts a
transition to compute while the studio overlay runs, while a blocking inhibitor lock of the
policy's kinds is held, or during a pause. It is checked at the moment automation asks, by
`CheckedReconciler` (the real reconciler; `request` checks before it runs). Also: every
automatic request ends with exactly one audit record whose `by` says idle automation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from dubnium.idle import BY
from dubnium.idlewatch import IdleWatcher
from dubnium.modes import Mode
from dubnium.policy import Idle, default_policy
from dubnium.reconcile import Reconciler, Result
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.harness import Station
from simulator.rng import Streams
from simulator.world import World, WorldError

# Operations and their weights: what clears a blocker is drawn more often than what sets
# one, so that automation gets to act (a campaign where nothing is ever idle proves nothing).
OPS = {"hint_on": 4, "hint_off": 1, "inhibit": 1, "release": 2, "audio_on": 1, "audio_off": 2,
       "app_on": 1, "app_off": 2, "load_high": 1, "load_low": 2, "key": 1, "login": 1,
       "owner_studio": 1, "owner_desktop": 2, "owner_compute": 1, "pause": 1, "pause_for": 1,
       "resume": 2, "fail_next_compute": 1, "wait": 8}
EXCLUSIVE = "steam"
POLL_S = 60.0


@attrs.frozen
class Violation:
    seed: int
    op_index: int
    rule: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class CheckedReconciler(Reconciler):
    """The real reconciler; a request by idle automation is judged before it runs."""

    check: Callable[[Mode, str], None] = staticmethod(lambda target, by: None)

    def request(self, target: Mode, *, by: str = "mode request") -> Result:
        self.check(target, by)
        return super().request(target, by=by)


@attrs.define
class SeedRun:
    seed: int
    ops: int
    violations: list[Violation] = attrs.field(factory=list)
    automatic: int = 0  # automation's requests
    promotions: int = 0  # of which to compute, converged
    wakes: int = 0  # of which to desktop
    trail: list[str] = attrs.field(factory=list)


class IdleRun:
    """One seed: the station, the watcher, the campaign's own model of the owner's pauses."""

    def __init__(self, seed: int, ops: int = 60,
                 watcher: Callable[[Reconciler], IdleWatcher] = IdleWatcher) -> None:
        self.seed = seed
        self.rng = Streams(seed).stream("idle.campaign")
        idle = Idle(enable=True, after_s=float(self.rng.choice((120, 600, 1800))),
                    cooldown_s=float(self.rng.choice((0, 900, 3600))), poll_interval_s=POLL_S,
                    exclusive_apps=(EXCLUSIVE,))
        self.policy = attrs.evolve(default_policy(), idle=idle)
        self.station = Station.create(seed=seed, policy=self.policy)
        self.result = SeedRun(seed, ops)
        self.paused_until_ns: int | None = None
        self.paused = False
        self.op_index = -1
        self._make_watcher = watcher

    @property
    def world(self) -> World:
        return self.station.world

    def watcher(self) -> IdleWatcher:
        st = self.station
        rec = CheckedReconciler(st.backend, st.policy, st.state, st.audit, pid=st.pid)
        rec.check = self._check
        return self._make_watcher(rec)

    # ------------------------------------------------------------------ the invariant

    def _check(self, target: Mode, by: str) -> None:
        if not by.startswith(BY):
            return
        self.result.automatic += 1
        if target is not Mode.COMPUTE:
            self.result.wakes += 1
            return
        w = self.world
        units = self.policy.units
        if w.systemd.is_up(units.studio_policy) or w.systemd.is_up(units.audio_priority):
            self._fail("never-from-studio-local", "automation requested compute while the "
                                                  "studio overlay runs")
        kinds = set(self.policy.idle.inhibitor_kinds)
        live = {p.pid for p in w.processes.procs.values()}
        held = [x.who for x in w.seat.inhibitors
                if x.mode == "block" and kinds & set(x.what) and x.pid in live]
        if held:
            self._fail("never-while-inhibited", f"automation requested compute while "
                                                f"{', '.join(held)} held an inhibitor lock")
        now = w.clock.wall_ns()
        if self.paused and (self.paused_until_ns is None or now < self.paused_until_ns):
            self._fail("never-while-paused", "automation requested compute during a pause")

    def _fail(self, rule: str, detail: str) -> None:
        self.result.violations.append(Violation(self.seed, self.op_index, rule, detail))

    # ------------------------------------------------------------------ operations

    def run(self) -> SeedRun:
        for index in range(self.result.ops):
            self.op_index = index
            op = self.rng.choices(tuple(OPS), weights=tuple(OPS.values()))[0]
            self.result.trail.append(op)
            with contextlib.suppress(WorldError):  # the op did not apply here
                self.apply(op)
        self._check_records()
        return self.result

    def apply(self, op: str) -> None:
        w, rng = self.world, self.rng
        seat = w.seat
        if op == "hint_on":
            seat.set_idle_hint(True)
        elif op == "hint_off":
            seat.set_idle_hint(False)
        elif op == "inhibit":
            seat.take_inhibitor(rng.choice(("idle", "sleep", "idle:sleep", "shutdown")),
                                rng.choice(("obs", "player", "backup")), "campaign",
                                rng.choice(("block", "block", "delay")))
        elif op == "release" and seat.inhibitors:
            seat.release_inhibitor(rng.choice(sorted({x.who for x in seat.inhibitors})))
        elif op == "audio_on":
            w.start_audio_stream("campaign-music")
        elif op == "audio_off":
            w.stop_audio_stream("campaign-music")
        elif op == "app_on":
            seat.start_app(EXCLUSIVE)
        elif op == "app_off":
            seat.stop_app(EXCLUSIVE)
        elif op == "load_high":
            w.set_load(float(w.host.load.cpus))
        elif op == "load_low":
            w.set_load(0.2)
        elif op == "key":
            seat.press_key()
        elif op == "login":
            w.add_session("tty")
        elif op.startswith("owner_"):
            self.station.controller().request(Mode(op.removeprefix("owner_").replace(
                "studio", "studio-local")))
        elif op == "pause":
            self.watcher().pause(None)
            self.paused, self.paused_until_ns = True, None
        elif op == "pause_for":
            seconds = float(rng.choice((600, 3600, 7200)))
            self.watcher().pause(seconds)
            self.paused, self.paused_until_ns = True, w.clock.wall_ns() + int(seconds * 1e9)
        elif op == "resume":
            self.watcher().resume()
            self.paused, self.paused_until_ns = False, None
        elif op == "fail_next_compute":
            w.inject_action_fault(ActionFault("isolate", FaultEffect.ERROR,
                                              self.policy.units.compute_target, False))
        elif op == "wait":
            minutes = rng.choice((1, 5, 20, 45, 90))
            self.watcher().run(for_s=minutes * 60.0)

    def _check_records(self) -> None:
        """Every automatic request has exactly one transition record by idle automation."""
        records = [e.record for e in self.station.audit.entries()
                   if e.record is not None and e.record.get("kind", "transition") == "transition"
                   and str(e.record.get("by", "")).startswith(BY)]
        self.result.promotions = sum(1 for r in records if r.get("requested") == "compute"
                                     and r.get("outcome") in ("converged", "degraded"))
        if len(records) != self.result.automatic:
            self._fail("one-record-per-request", f"{self.result.automatic} automatic requests, "
                                                 f"{len(records)} records by idle automation")


def run_idle_campaign(seeds: Iterable[int], ops: int = 60,
                      watcher: Callable[[Reconciler], IdleWatcher] = IdleWatcher,
                      ) -> list[SeedRun]:
    return [IdleRun(seed, ops, watcher).run() for seed in seeds]


def summary(runs: list[SeedRun]) -> dict[str, Any]:
    return {
        "seeds": len(runs),
        "ops": sum(r.ops for r in runs),
        "automatic_requests": sum(r.automatic for r in runs),
        "promotions": sum(r.promotions for r in runs),
        "wakes": sum(r.wakes for r in runs),
        "violations": [v.to_json() for r in runs for v in r.violations],
    }
