"""Fault campaigns: run fault plans against the simulated workstation and check them.

Called by `mode-sim campaign` / `mode-sim replay` (`simulator.cli`, a thin layer over
`run_campaign` and `replay_lines`), by the campaign test in `tests/unit/`
and by the benchmarks. One seed is one `Run`: a `Station` (world + the real `Reconciler` +
in-memory runtime state and audit log) whose hooks (`Hooks`: the world's `Recorder` and the
reconciler's `Reporter` in one object) feed the invariant `Checker` after every event, fire
the plan's mid-transition faults, and, when asked, write the JSON-lines trace. After the
plan's operations every fault is healed and liveness is checked: the last request, then a
request for desktop, each end within the liveness bound with an explicit outcome and the
lock released, and desktop is reached.

Determinism: a run depends on nothing but its plan (virtual time, seeded streams, no
`hash()` order), so `replay_lines(seed)` writes the same bytes in any process; the campaign
re-runs a sample of seeds in freshly spawned interpreters (other hash seeds) and compares
trace digests.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from enum import IntEnum
from typing import Any

import attrs

from dubnium import plan as p
from dubnium.errors import StorageError
from dubnium.facts import HostFacts
from dubnium.modes import Mode
from dubnium.observe import Markers, Observation, classify
from dubnium.policy import Policy
from dubnium.reconcile import Reporter
from dubnium.records import Record, to_json
from simulator import iofaults
from simulator.faults import (
    ControllerKilled,
    FaultKind,
    FaultPlan,
    OpKind,
    Triggers,
    draw_plan,
    heal,
    inject,
    is_armed,
)
from simulator.gpu import SimInvariantError
from simulator.harness import CONTROLLER_PID, Station
from simulator.invariants import (
    LIVENESS,
    SAFETY,
    Checker,
    Violation,
    liveness_bound_s,
)
from simulator.trace import Recorder

TRACE_VERSION = 1
# The observer `mode current` uses (a test swaps in a weaker one to show the oracle sees it).
Classifier = Callable[[HostFacts, Policy, Markers], Observation]
EXPLICIT = frozenset({"converged", "already-converged", "blocked", "rolled-back", "degraded",
                      "failed-transition"})


class CampaignExit(IntEnum):
    """`mode-sim campaign` exit codes (the worst finding wins, in this order)."""

    OK = 0
    SAFETY = 40  # a safety invariant broke (also: a fake broke a physical law)
    LIVENESS = 41  # after healing, a request did not end explicitly, in time, lock released
    CRASH = 42  # an exception escaped the controller or the simulator
    NONDETERMINISTIC = 43  # a re-run of a seed wrote a different trace


class TraceWriter:
    """JSON-lines trace: compact, key-sorted lines; kept as text, or only hashed."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.lines: list[str] = []
        self._hash = hashlib.blake2b(digest_size=16)

    def write(self, value: Mapping[str, Any]) -> None:
        line = json.dumps(value, sort_keys=True, separators=(",", ":"))
        self._hash.update(line.encode())
        self._hash.update(b"\n")
        if self.keep:
            self.lines.append(line)

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()


class Hooks(Recorder, Reporter):
    """The station's one listener: invariants, fault triggers and the trace."""

    def __init__(self, checker: Checker, triggers: Triggers, trace: TraceWriter | None) -> None:
        self.checker = checker
        self.triggers = triggers
        self.trace = trace

    # world (Recorder)
    def event(self, at_ns: int, kind: str, args: Mapping[str, Any]) -> None:
        self.checker.check_world()  # the state the previous event left
        if self.trace is not None:
            self.trace.write({"t": at_ns, "event": kind, "args": dict(args)})

    def unit_state(self, at_ns: int, unit: str, old: str, new: str) -> None:
        self.checker.dirty = True
        if self.trace is not None:
            self.trace.write({"t": at_ns, "unit": unit, "from": old, "to": new})

    def job(self, at_ns: int, unit: str, job_type: str, result: str) -> None:
        self.checker.dirty = True
        if self.trace is not None:
            self.trace.write({"t": at_ns, "job": unit, "type": job_type, "result": result})

    def session(self, at_ns: int, session_id: str, state: str) -> None:
        self.checker.dirty = True
        if self.trace is not None:
            self.trace.write({"t": at_ns, "session": session_id, "state": state})

    def gpu_memory(self, at_ns: int, index: int, used_mib: int, why: str) -> None:
        self.checker.dirty = True
        if self.trace is not None:
            self.trace.write({"t": at_ns, "gpu": index, "used_mib": used_mib, "why": why})

    def action(self, at_ns: int, name: str, args: Mapping[str, Any]) -> None:
        self.checker.dirty = True
        self.checker.action(name)
        if self.trace is not None:
            self.trace.write({"t": at_ns, "action": name, "args": dict(args)})

    def observed(self, at_ns: int) -> None:
        self.checker.check_world()
        if self.trace is not None:
            self.trace.write({"t": at_ns, "observed": True})
        self.triggers.observed()
        self.checker.observed()  # what this observation shows, mid-transition faults included

    def world_change(self, at_ns: int, what: str, args: Mapping[str, Any]) -> None:
        self.checker.check_world()
        self.checker.dirty = True
        if self.trace is not None:
            self.trace.write({"t": at_ns, "change": what, "args": dict(args)})

    def notification(self, at_ns: int, summary: str, body: str) -> None:
        if self.trace is not None:
            self.trace.write({"t": at_ns, "notify": summary})

    # controller (Reporter)
    def attempt_started(self, attempt_id: str, target: Mode) -> None:
        self.checker.attempt_started(attempt_id)
        if self.trace is not None:
            self.trace.write({"t": self.checker.world.now_ns, "attempt": attempt_id,
                              "target": target.value})

    def step_started(self, leg: str, step: p.Step) -> None:
        self.checker.check_world()
        if self.trace is not None:
            self.trace.write({"t": self.checker.world.now_ns, "leg": leg,
                              "step": step.describe()})
        self.triggers.step_started()

    def step_finished(self, leg: str, step: p.Step, status: str, detail: str) -> None:
        self.checker.step_finished(step, status, detail)
        if self.trace is not None:
            self.trace.write({"t": self.checker.world.now_ns, "leg": leg, "status": status,
                              "detail": detail})

    def attempt_finished(self, record: Record) -> None:
        data = to_json(record)
        self.checker.attempt_finished(data)
        if self.trace is not None:
            self.trace.write({"t": self.checker.world.now_ns, "record": data})


@attrs.frozen
class SeedResult:
    """What one seed did and found."""

    seed: int
    attempts: int
    transitions: int  # attempts that changed something or tried to (not blocked/already)
    faults: Mapping[str, int]  # injected (or armed and fired) by kind
    outcomes: Mapping[str, int]
    violations: tuple[Violation, ...]
    crash: str | None
    sim_ns: int
    digest: str | None = None

    @property
    def verdict(self) -> CampaignExit:
        kinds = {v.kind for v in self.violations}
        if SAFETY in kinds:
            return CampaignExit.SAFETY
        if LIVENESS in kinds:
            return CampaignExit.LIVENESS
        if self.crash is not None:
            return CampaignExit.CRASH
        return CampaignExit.OK


class Run:
    """One seed's station, hooks and checks."""

    def __init__(self, plan: FaultPlan, trace: TraceWriter | None = None,
                 classifier: Classifier = classify) -> None:
        self.plan = plan
        self.trace = trace
        self.classifier = classifier
        station = Station.create(seed=plan.seed, gpus=plan.gpus)
        self.disk = iofaults.SimDisk()
        self.store = iofaults.FaultyStore(self.disk)
        station.audit = iofaults.FaultyAuditLog(self.disk, self.store)
        station.store = self.store
        station.classifier = classifier
        self.station = station
        self.policy = station.policy
        self.defaults = {name: u.behaviour for name, u in station.world.systemd.units.items()}
        self.checker = Checker(station, self.policy, self.store, self.current_state)
        self.triggers = Triggers(station)
        self.hooks = Hooks(self.checker, self.triggers, trace)
        station.world.recorder = self.hooks
        station.reporter = self.hooks
        self.attempts = 0
        self.transitions = 0
        self.faults: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.crash: str | None = None
        self.last_mode: Mode | None = None
        self.log: list[str] = []  # every request's outcome, in order (liveness ones too)

    def current_state(self) -> str:
        """`mode current` now (the observer on a snapshot that fires no armed fault)."""
        station = self.station
        markers = station.controller().markers()
        facts = station.backend.snapshot()
        return station.classify(facts, self.policy, markers).state.value

    def _note(self, value: Mapping[str, Any]) -> None:
        if self.trace is not None:
            self.trace.write({"t": self.station.world.now_ns, **value})

    def request(self, mode: Mode, stop: Callable[[], str | None] | None = None) -> str:
        """One request; returns its outcome ("killed" when the controller was killed).
        `stop`: the signal handler's flag, asked at each step boundary (Ctrl-C)."""
        station = self.station
        self.attempts += 1
        self.last_mode = mode
        # Each `mode request` is a new process: a new pid (the attempt id is pid + wall ns).
        pid = CONTROLLER_PID + self.attempts
        try:
            controller = station.controller(pid)
            if stop is not None:
                controller.stop = stop
            result = controller.request(mode)
        except ControllerKilled:
            self.checker.killed()
            self.store.holder_alive = None  # its process is gone
            self._torn_leftovers()
            outcome = "killed"
        except StorageError:  # `mode` exits 8; its process is gone, the lock with it
            self.checker.storage_failed(pid)
            self.store.holder_alive = None
            outcome = "storage-failed"
        else:
            outcome = result.outcome.value
        if outcome not in ("blocked", "already-converged", "lock-busy"):
            self.transitions += 1
        self.outcomes[outcome] += 1
        self.log.append(outcome)
        self._note({"result": outcome})
        return outcome

    def _torn_leftovers(self) -> None:
        """A kill mid-write: a torn audit line and a temp file, if the plan says so."""
        fired = self.triggers.fired[-1] if self.triggers.fired else None
        if fired is None or not fired.params.get("torn_record"):
            return
        audit = self.station.audit
        line = '{"attempt": "' + (self.checker.started[-1] if self.checker.started else "?")
        audit.lines.append(line + '", "kind": "transi')
        self.store.files[".last-transition.json.4100.tmp"] = b'{"schema_version": 1, "att'

    def run(self) -> SeedResult:
        try:
            self._run()
        except SimInvariantError as exc:
            self.checker.fail("fakes keep physical laws", str(exc))
        except Exception:
            self.crash = traceback.format_exc(limit=12)
            self._note({"crash": self.crash.splitlines()[-1]})
        self.faults.update(self.triggers.fired_kinds)
        result = SeedResult(
            self.plan.seed, self.attempts, self.transitions, dict(sorted(self.faults.items())),
            dict(sorted(self.outcomes.items())), tuple(self.checker.violations), self.crash,
            self.station.world.now_ns, self.trace.digest if self.trace is not None else None)
        self._note({"end": {"violations": [v.to_json() for v in result.violations],
                            "crash": result.crash is not None}})
        return result

    def _run(self) -> None:
        plan, station, checker = self.plan, self.station, self.checker
        if self.trace is not None:
            self.trace.write({"trace": "dubnium-sim", "version": TRACE_VERSION,
                              "seed": plan.seed, "plan": plan.to_json()})
        for op in plan.ops:
            self._note({"op": op.to_json()})
            if op.kind is OpKind.REQUEST:
                assert op.mode is not None
                self.request(op.mode)
            elif op.kind is OpKind.ADVANCE:
                station.world.advance(op.seconds)
            else:
                assert op.fault is not None
                self.inject(op.fault)
            checker.check_now()
            if checker.violations:
                return
        self.heal_and_check_liveness()

    def inject(self, the_fault: Any) -> bool:
        if the_fault.kind is FaultKind.STATE_FILE_CORRUPT and the_fault.params.get("file") \
                == "lock":
            self.checker.lock_record_destroyed()
        applied = inject(self.station, the_fault, self.triggers)
        if applied and not is_armed(the_fault):  # armed ones count when they fire
            self.faults[the_fault.kind.value] += 1
        self._note({"fault": the_fault.kind.value, "applied": applied})
        return applied

    def heal_and_check_liveness(self) -> None:
        """Heal every fault, then each request must end explicitly, in time, lock released."""
        station, checker = self.station, self.checker
        heal(station, self.triggers, self.defaults)
        self._note({"healed": True})
        station.world.settle()
        checker.check_now()
        bound_ns = round(liveness_bound_s(self.policy) * 1e9)
        for mode in dict.fromkeys((self.last_mode or Mode.DESKTOP, Mode.DESKTOP)):
            t0 = station.world.now_ns
            outcome = self.request(mode)
            took = station.world.now_ns - t0
            if outcome not in EXPLICIT:
                checker.fail("explicit outcome after heal", f"{mode.value}: {outcome}",
                             LIVENESS)
            if took > bound_ns:
                checker.fail("bounded time after heal",
                             f"{mode.value} took {took / 1e9:.1f} s", LIVENESS)
            if self.store.lock_held() is not None or "lock" in self.store.files:
                checker.fail("lock released after heal", f"after {mode.value}", LIVENESS)
            if mode is Mode.DESKTOP and outcome not in ("converged", "already-converged"):
                records = station.records()
                checker.fail("desktop reachable after heal",
                             f"{outcome}: {records[-1].summary if records else ''}", LIVENESS)
        checker.check_audit(final=True)


# ------------------------------------------------------------------ one seed, many seeds


def run_plan(plan: FaultPlan, trace: TraceWriter | None = None,
             classifier: Classifier = classify) -> SeedResult:
    return Run(plan, trace, classifier).run()


def run_seed(seed: int, *, digest: bool = False) -> SeedResult:
    return run_plan(draw_plan(seed), TraceWriter(keep=False) if digest else None)


def replay_lines(plan: FaultPlan) -> list[str]:
    """The full JSON-lines trace of one plan (header first: the seed and the plan)."""
    trace = TraceWriter(keep=True)
    run_plan(plan, trace)
    return trace.lines


def _chunk(seeds: Sequence[int], sample_every: int) -> list[SeedResult]:
    return [run_seed(s, digest=sample_every > 0 and s % sample_every == 0) for s in seeds]


def _digests(seeds: Sequence[int]) -> list[tuple[int, str | None]]:
    return [(s, run_seed(s, digest=True).digest) for s in seeds]


@attrs.frozen
class CampaignResult:
    first: int
    count: int
    results: tuple[SeedResult, ...]
    nondeterministic: tuple[int, ...]
    resampled: int
    wall_s: float
    jobs: int

    @property
    def exit_code(self) -> CampaignExit:
        verdicts = {r.verdict for r in self.results}
        for code in (CampaignExit.SAFETY, CampaignExit.LIVENESS, CampaignExit.CRASH):
            if code in verdicts:
                return code
        return CampaignExit.NONDETERMINISTIC if self.nondeterministic else CampaignExit.OK


def shard_range(seeds: int, shard: tuple[int, int], first: int = 0) -> range:
    """Shard i of n of the seeds first..first+seeds-1: a contiguous range."""
    index, total = shard
    if not (total >= 1 and 0 <= index < total):
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {index}/{total}")
    lo = first + seeds * index // total
    hi = first + seeds * (index + 1) // total
    return range(lo, hi)


def run_campaign(seeds: Iterable[int], *, jobs: int = 1, sample_every: int = 100,
                 chunk: int = 64) -> CampaignResult:
    """Run every seed (in `jobs` processes), then re-run every `sample_every`-th seed in
    fresh interpreters and compare trace digests (0: no determinism check)."""
    todo = list(seeds)
    start = time.perf_counter()
    chunks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
    results: list[SeedResult] = []
    if jobs <= 1:
        for part in chunks:
            results.extend(_chunk(part, sample_every))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for part_results in pool.map(_chunk, chunks, [sample_every] * len(chunks)):
                results.extend(part_results)
    sampled = [r for r in results if r.digest is not None]
    mismatched: list[int] = []
    if sampled:
        spawn = multiprocessing.get_context("spawn")
        parts = [[r.seed for r in sampled[i::max(1, jobs)]] for i in range(max(1, jobs))]
        again: dict[int, str | None] = {}
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=spawn) as pool:
            for pairs in pool.map(_digests, [x for x in parts if x]):
                again.update(pairs)
        mismatched = [r.seed for r in sampled if again.get(r.seed) != r.digest]
    first = todo[0] if todo else 0
    return CampaignResult(first, len(todo), tuple(results), tuple(mismatched), len(sampled),
                          time.perf_counter() - start, jobs)
