"""Safety invariants, checked after every simulated event; the liveness bound.

Used by `simulator.campaign` (every seed) and by the hypothesis state machine in
`tests/stateful/` (its `@invariant`s call `Checker.check_now`). A `Checker` is told what
happened by the station's hooks (`simulator.campaign.Hooks`: the world's `Recorder` and the
reconciler's `Reporter`) and checks, against the simulated world itself (ground truth, judged
by the independent oracle `simulator.oracle`, never the controller's own classification; this
module does not import the observer, evidence, guards or contracts either):

- honesty: an attempt that reports a mode (converged, already there, rolled back to it, the
  `final_state` of its record) and `mode current` (after every operation) find the world
  meeting that mode's contract; "already" only when the world meets the target's contract;
- the lock: at most one live transition holds it, and the lock file names that attempt;
- no vLLM/EXO memory on the display GPU with a graphical session or compositor, at every
  event, during rollback too: never placed while a GUI the controller observed (or its
  display manager brought up) exists, no GUI brought up by the display manager while compute
  is there, and no attempt (blocked ones aside) ends with both; vLLM never runs while the
  studio-local overlay is up;
- a blocked (refused) request calls no backend action;
- every attempt has exactly one audit record with its outcome (an attempt killed mid-way gets
  its `abandoned` record from the next controller), and attempt ids are unique;
- the runtime state files always parse (except a file a fault corrupted and the controller
  has not rewritten since);
- leaving studio-local restores exactly the slice values saved on entry;
- the fakes keep their physical laws: a GPU never holds more than it has or frees more than
  it holds (also enforced inside `simulator.gpu`), allocations belong to live processes,
  sessions to their leaders, jobs to units, audio nodes to processes; the virtual monotonic
  clock never goes backwards.

Checks run after every event the world's scheduler runs, at every observation the controller
takes, and at every step boundary; each check only looks at the models a hook said changed,
so a campaign can afford it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dubnium import plan as steps
from dubnium.audit import MemoryAuditLog, encode
from dubnium.errors import StateCorrupt
from dubnium.facts import SliceSettings
from dubnium.modes import Mode, ObservedState
from dubnium.plan import Step, plan
from dubnium.policy import Policy
from dubnium.state import LOCK, MemoryStore, RuntimeState
from simulator import oracle
from simulator.harness import Station
from simulator.memo import PerValue
from simulator.processes import ProcessRole
from simulator.world import World

SAFETY = "safety"
LAST_TRANSITION = "last-transition.json"
LIVENESS = "liveness"
CLAIMABLE = frozenset({*(m.value for m in Mode), ObservedState.DEGRADED_COMPUTE.value,
                       ObservedState.DEGRADED_DESKTOP.value})


@attrs.frozen
class Violation:
    """One broken property: which, what was seen, and when (virtual ns)."""

    kind: str  # safety | liveness
    rule: str
    detail: str
    at_ns: int

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class CheckedStore(MemoryStore):
    """A MemoryStore that knows which files a fault corrupted and the controller rewrote."""

    def __init__(self) -> None:
        super().__init__()
        self.corrupted: set[str] = set()
        self.version = 0

    def write(self, name: str, data: bytes) -> None:
        super().write(name, data)
        self.corrupted.discard(name)
        self.version += 1

    def write_later(self, name: str, encode: Callable[[], tuple[bytes, bool]]) -> None:
        super().write_later(name, encode)
        self.corrupted.discard(name)
        self.version += 1

    def remove(self, name: str) -> None:
        super().remove(name)
        self.corrupted.discard(name)
        self.version += 1

    def mark_corrupt(self, name: str) -> None:
        self.corrupted.add(name)
        self.version += 1


class CheckedAuditLog(MemoryAuditLog):
    """A MemoryAuditLog that keeps the record each line it appended encodes, so that the
    invariants count records without parsing back what was just encoded (issue 16). A line
    put there otherwise (a torn line of a killed writer) has none and is parsed."""

    def __init__(self) -> None:
        super().__init__()
        self._records: dict[int, tuple[str, Mapping[str, Any]]] = {}

    def append(self, record: Mapping[str, Any]) -> None:
        self.append_line(encode(record), record)

    def append_line(self, line: str, record: Mapping[str, Any]) -> None:
        """Append `line`, the encoding of `record` (`dubnium.audit.encode`)."""
        self._records[len(self.lines)] = (line, record)
        self.lines.append(line)

    def record_at(self, index: int) -> Mapping[str, Any] | None:
        """The record line `index` encodes, if this log appended that very line; the
        mapping as given (`encode` adds schema_version), shared, not a copy."""
        kept = self._records.get(index)
        if kept is None or index >= len(self.lines) or self.lines[index] is not kept[0]:
            return None
        return kept[1]


# ------------------------------------------------------------------ ground truth


def gui_items(world: World) -> dict[str, bool]:
    """Every graphical session or orphan compositor there is, and whether the display manager
    brought it up (the controller's doing) rather than a person logging in (the world's)."""
    dm = world.policy.units.display_manager
    items: dict[str, bool] = {}
    sessions = world.logind.sessions
    for s in sessions.values():
        if s.type in oracle.GRAPHICAL_TYPES and (
                s.state != "closing" or s.leader in world.processes.procs
                or world.processes.in_session(s.id)):
            items[f"session {s.id} of {s.user}"] = s.owner_unit == dm
    for p in world.processes.by_role(ProcessRole.COMPOSITOR):
        if p.session_id not in sessions:
            items[f"compositor pid {p.pid}"] = False
    return items


# ------------------------------------------------------------------ the checker


def _parses(name: str, data: bytes) -> str | None:
    store = MemoryStore()
    store.files[name] = data
    state = RuntimeState(store)
    try:
        if name == "desired":
            state.read_desired()
        elif name == "current":
            ObservedState(data.decode().strip())
        elif name == LOCK:
            value = json.loads(data)
            if not isinstance(value, dict):
                return "not a JSON object"
        elif name.endswith(".json"):
            state.read_json(name)
        return None
    except (StateCorrupt, ValueError, UnicodeDecodeError) as exc:
        return str(exc) or type(exc).__name__


class Checker:
    """Collects violations for one station; the hooks tell it what changed."""

    def __init__(self, station: Station, policy: Policy, store: CheckedStore,
                 current: Callable[[], str] | None = None) -> None:
        self.station = station
        # `mode current` as the controller answers it now (wired by the campaign, which may
        # import the observer; this module may not): compared with the oracle.
        self.current = current
        self._display_allocs: set[int] = set()
        self._gui_before: set[str] = set()
        self.world = station.world
        self.policy = policy
        self.store = store
        self.violations: list[Violation] = []
        self.last_now = self.world.now_ns
        self.dirty = True
        self._store_version = -1
        self._checked_bytes: dict[str, bytes] = {}
        self._gui_seen: set[str] = set()  # sessions/compositors the controller has observed
        # attempts
        self.live_attempt: str | None = None
        self.actions_in_attempt: list[str] = []
        self.started: list[str] = []
        self.started_set: set[str] = set()
        self.unchecked: list[str] = []  # attempts whose record has not been checked yet
        self.abandoned_pending: set[str] = set()
        self.excused: set[str] = set()  # killed attempts whose lock record a fault destroyed
        self.record_counts: dict[str, int] = {}
        self._audit_seen = 0
        self._audit_copy: list[str] = []
        self.saved_on_entry: dict[str, SliceSettings] | None = None
        self.tuning_on_entry: tuple[object, ...] | None = None

    def fail(self, rule: str, detail: str, kind: str = SAFETY) -> None:
        self.violations.append(Violation(kind, rule, detail, self.world.now_ns))

    # ------------------------------------------------------------- world

    def check_world(self) -> None:
        """The world-level properties (cheap when nothing changed since the last check)."""
        world = self.world
        now = world.now_ns
        if now < self.last_now:
            self.fail("monotonic clock", f"virtual time went back from {self.last_now} to {now}")
        self.last_now = now
        if not self.dirty:
            return
        self.dirty = False
        self._check_fakes()
        self._check_display_exclusion()
        n = self.policy.units
        if (oracle.up(world, n.studio_policy) or oracle.up(world, n.audio_priority)) and (
                oracle.running(world, n.vllm) or world.vllm.pid or world.vllm.allocations):
            self.fail("no vLLM in studio-local", "vLLM runs while the studio overlay is up")

    def _check_display_exclusion(self) -> None:
        """No vLLM/EXO memory on the display GPU with a graphical session or compositor.

        The controller is blamed for what it causes: compute placed there while a GUI it had
        observed (or one its display manager brought up) exists, and a GUI its display manager
        brings up while compute is still there (a rollback that starts the display manager
        before the workloads are gone). A person logging in graphically while compute runs
        is the world's doing; the attempt then running (or the next one) must end without
        both (`attempt_finished`).
        """
        world = self.world
        allocs = set(oracle.display_compute(world, self.policy))
        items = gui_items(world)
        if allocs and items:
            placed = allocs - self._display_allocs
            blame = [k for k, by_dm in items.items() if by_dm or k in self._gui_seen]
            if placed and blame:
                self.fail("no compute on the display GPU with a GUI",
                          f"compute placed on GPU {self.policy.hardware.display_gpu} while "
                          f"{', '.join(blame)} existed")
            new_dm = [k for k, by_dm in items.items() if by_dm and k not in self._gui_before]
            if new_dm:
                self.fail("no compute on the display GPU with a GUI",
                          f"the display manager brought up {', '.join(new_dm)} while compute "
                          f"held GPU {self.policy.hardware.display_gpu}")
        self._display_allocs = allocs
        self._gui_before = set(items)

    def action(self, name: str) -> None:
        """The controller called a backend action."""
        if self.live_attempt is not None:
            self.actions_in_attempt.append(name)

    def observed(self) -> None:
        """The controller is observing: what graphical sessions it can now know about (those
        the last world check found, while nothing has changed since: issue 16)."""
        self._gui_seen.update(gui_items(self.world) if self.dirty else self._gui_before)

    def _check_fakes(self) -> None:
        world = self.world
        procs = world.processes.procs
        for gpu in world.gpus.values():
            used = gpu.used_mib
            if not 0 <= used <= gpu.spec.total_mib:
                self.fail("fake GPU memory", f"GPU {gpu.spec.index} uses {used} MiB of "
                          f"{gpu.spec.total_mib}")
            for alloc in gpu.allocations.values():
                if alloc.mib <= 0 or (alloc.pid and alloc.pid not in procs):
                    self.fail("fake GPU allocation", f"GPU {gpu.spec.index}: {alloc!r}")
        for index, alloc_id in world.vllm.allocations:
            if alloc_id not in world.gpus[index].allocations:
                self.fail("fake vLLM", f"vLLM shard {alloc_id} missing on GPU {index}")
        for session in world.logind.sessions.values():
            if session.type in ("wayland", "x11") and session.leader not in procs:
                self.fail("fake logind", f"session {session.id} lost its leader")
        jobs = world.systemd.jobs
        for name, unit in world.systemd.units.items():
            if unit.job and (unit.job not in jobs or jobs[unit.job].unit != name):
                self.fail("fake systemd", f"{name} points at job {unit.job} that is not its")
        for node in world.audio.nodes.values():
            if node.app_pid and node.app_pid not in procs:
                self.fail("fake PipeWire", f"node {node.name} outlived its process")

    # ------------------------------------------------------------- runtime state

    def check_store(self) -> None:
        """Every runtime state file parses, except one a fault corrupted and nobody rewrote."""
        store = self.store
        if store.version == self._store_version:
            return
        self._store_version = store.version
        checked = self._checked_bytes
        files = store.files
        touched, files.touched = files.touched, set()  # the others were checked before
        for name in [n for n in files if n in touched]:
            # Bytes the state's JSON encoder wrote (`MemoryStore.encoded`), or will write
            # when read (`later`), parse by construction: only files put there otherwise
            # (plain-text ones, injected faults) are parsed here.
            if name in store.corrupted or name.startswith(".") or files.later(name):
                continue
            data = files[name]
            if checked.get(name) is data or store.encoded(name, data):
                continue
            checked[name] = data  # bytes are immutable: the same object parsed the same
            problem = _parses(name, data)
            if problem is not None:
                self.fail("state files parse", f"{name}: {problem}")

    # ------------------------------------------------------------- attempts

    def attempt_started(self, attempt_id: str) -> None:
        if self.live_attempt is not None:
            self.fail("one lock holder", f"{attempt_id} started while {self.live_attempt} "
                      "still holds the lock")
        held = self.store.lock_held()
        if held is None or held.get("attempt") != attempt_id:
            self.fail("one lock holder", f"{attempt_id} runs but the lock names {held!r}")
        self.live_attempt = attempt_id
        self.actions_in_attempt = []
        self._started(attempt_id)
        self._read_audit()

    def _started(self, attempt: str) -> None:
        if attempt in self.started_set:
            self.fail("one audit record per attempt", f"attempt id {attempt} reused")
        self.started.append(attempt)
        self.started_set.add(attempt)
        self.unchecked.append(attempt)

    def lock_record_destroyed(self) -> None:
        """A fault garbled the lock file: a dead holder's attempt can no longer be named."""
        self.excused |= self.abandoned_pending

    def killed(self) -> None:
        """The live attempt's controller was killed: its record is owed by the next one."""
        if self.live_attempt is not None:
            self.abandoned_pending.add(self.live_attempt)
        self.live_attempt = None
        self.saved_on_entry = None
        self.tuning_on_entry = None

    def step_finished(self, step: Step, status: str, detail: str) -> None:
        if status == "ok" and isinstance(step, _SAVES_OR_RESTORES):
            self._saved_or_restored(step, detail)
        self.check_world()
        self.check_store()

    def _saved_or_restored(self, step: Step, detail: str) -> None:
        """What studio-local's entry saved, and whether its exit restored exactly that."""
        if isinstance(step, steps.SaveStudioTuning):
            # The world's own clock and governors before studio-local changed them (none
            # when an unfinished entry's snapshot was kept: the world is already tuned).
            self.tuning_on_entry = (None if detail.startswith("kept") else
                                    _tuning_now(self.world))
        elif isinstance(step, steps.RestoreStudioTuning):
            if self.tuning_on_entry is not None and detail.startswith("restored") and (
                    _tuning_now(self.world) != self.tuning_on_entry):
                self.fail("studio exit restores the saved values",
                          f"tuning after restore {_tuning_now(self.world)}, saved on entry "
                          f"{self.tuning_on_entry}")
            self.tuning_on_entry = None
        if isinstance(step, steps.SaveSlices):
            try:
                self.saved_on_entry = RuntimeState(self.store).saved_slices()
            except StateCorrupt:
                self.saved_on_entry = None
        elif isinstance(step, steps.RestoreSlices):
            if self.saved_on_entry is not None and detail.startswith("restored"):
                now = {name: u.settings for name, u in self.world.systemd.units.items()
                       if u.settings is not None}
                wrong = {name: (now.get(name), value)
                         for name, value in self.saved_on_entry.items()
                         if now.get(name) != value}
                if wrong:
                    self.fail("studio exit restores the saved values",
                              f"after restore: {wrong}")
            self.saved_on_entry = None

    def attempt_finished(self, record: Mapping[str, Any]) -> None:
        attempt = str(record.get("attempt"))
        if self.live_attempt is not None and attempt != self.live_attempt:
            self.fail("one lock holder", f"{attempt} finished while {self.live_attempt} ran")
        self.live_attempt = None
        if record.get("outcome") == "blocked" and self.actions_in_attempt:
            self.fail("a refused request changes nothing",
                      f"attempt {attempt} was blocked after {self.actions_in_attempt}")
        display = self.policy.hardware.display_gpu
        gui = oracle.gui_present(self.world)
        if record.get("outcome") not in ("blocked", "lock-busy") and gui and \
                oracle.display_compute(self.world, self.policy):
            self.fail("no compute on the display GPU with a GUI",
                      f"attempt {attempt} ({record.get('outcome')}) ended with compute on GPU "
                      f"{display} and {', '.join(gui)}")
        if record.get("outcome") == "lock-busy":
            self._started(attempt)
        self.check_durable(record)
        self.check_honesty(record)
        self.check_world()
        self.check_store()

    def check_durable(self, record: Mapping[str, Any]) -> None:
        """No record claims success unless its state is durable: `last-transition.json`
        holds this very record (written before the audit line and the report)."""
        if record.get("outcome") not in ("converged", "already-converged", "degraded"):
            return
        attempt = record.get("attempt")
        # The record as our encoder wrote it, while those bytes are the file's; else parsed.
        last: Mapping[str, Any] | None = self.store.document(LAST_TRANSITION)
        try:
            if last is None:
                last = RuntimeState(self.store).last_transition()
        except StateCorrupt as exc:
            last, why = None, str(exc)
        else:
            why = "missing" if last is None else f"names {last.get('attempt')}"
        if last is None or last.get("attempt") != attempt or \
                last.get("outcome") != record.get("outcome"):
            self.fail("no success without durable state",
                      f"attempt {attempt} reports {record.get('outcome')} but "
                      f"last-transition.json is {why}")

    def storage_failed(self, pid: int) -> None:
        """Process `pid` stopped on a storage error (disk full, EIO, read-only): it is gone
        and released the lock. Its attempt (possibly stopped before it was reported
        started) has an audit record only if the log could take it, and a dead holder it
        was recovering may never get its `abandoned` one: missing records are excused."""
        named = []
        for line in self.station.audit.lines[self._audit_seen:]:
            try:
                named.append(str(json.loads(line).get("attempt")))
            except (ValueError, AttributeError):
                continue
        lock = self.store.files.get(LOCK)  # a record left when removing it failed too
        if lock is not None:
            with contextlib.suppress(ValueError, AttributeError):
                named.append(str(json.loads(lock).get("attempt")))
        for attempt in named:
            if attempt.startswith(f"{pid}-") and attempt not in self.started_set:
                self._started(attempt)
                self.excused.add(attempt)
        if self.live_attempt is not None:
            self.excused.add(self.live_attempt)
        self.excused |= self.abandoned_pending
        self.live_attempt = None
        self.saved_on_entry = None

    def check_honesty(self, record: Mapping[str, Any]) -> None:
        """A record that names a mode is believed only if the world is in it."""
        outcome, requested = record.get("outcome"), record.get("requested")
        claims: list[str] = []
        if outcome in ("converged", "already-converged") and requested:
            claims.append(str(requested))
        if outcome == "degraded":
            claims.append(ObservedState.DEGRADED_COMPUTE.value if requested == "compute"
                          else ObservedState.DEGRADED_DESKTOP.value)
        final = record.get("final_state")
        if final in CLAIMABLE:
            claims.append(str(final))
        for claim in dict.fromkeys(claims):
            why = oracle.missing(self.world, self.policy, claim)
            if why:
                self.fail("never report a mode the world is not in",
                          f"attempt {record.get('attempt')} ({outcome}) claims {claim}: "
                          f"{'; '.join(why)}")

    def check_current(self) -> None:
        """`mode current` names a mode (or degraded-compute) only when the world is in it."""
        if self.current is None:
            return
        state = self.current()
        if state in CLAIMABLE:
            why = oracle.missing(self.world, self.policy, state)
            if why:
                self.fail("never report a mode the world is not in",
                          f"mode current says {state}: {'; '.join(why)}")

    def _read_audit(self) -> None:
        """Count the records appended since the last call (the log only grows)."""
        audit = self.station.audit
        lines = audit.lines
        kept = audit.record_at if isinstance(audit, CheckedAuditLog) else None
        for line in lines[self._audit_seen:]:  # islice would walk every earlier line
            record = kept(self._audit_seen) if kept is not None else None
            self._audit_seen += 1
            if record is None:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn line (a killed writer): not a record
            if not isinstance(record, dict) or record.get("kind") != "transition":
                continue
            attempt = str(record.get("attempt"))
            count = self.record_counts[attempt] = self.record_counts.get(attempt, 0) + 1
            if "outcome" not in record:
                self.fail("one audit record per attempt", f"{attempt}: record without outcome")
            if count > 1:
                self.fail("one audit record per attempt", f"{attempt}: {count} records")
            if attempt not in self.started_set and not (attempt == "None" and self.excused):
                self.fail("one audit record per attempt", f"record for unknown attempt {attempt}")

    def check_audit(self, final: bool = False) -> None:
        """Every attempt so far has exactly one record (a killed one: after the next runs);
        no earlier line was lost or changed."""
        lines = self.station.audit.lines
        kept = self._audit_copy
        if lines[:len(kept)] != kept:
            self.fail("the audit never loses an earlier line",
                      f"{len(kept)} lines seen before, now {len(lines)} and not the same")
        self._audit_copy = list(lines)
        self._read_audit()
        waiting = []
        for attempt in self.unchecked:
            count = self.record_counts.get(attempt, 0)
            pending = attempt in self.abandoned_pending and attempt == self.started[-1]
            if count == 0 and attempt in self.excused:
                continue
            if count == 0 and pending and not final:
                waiting.append(attempt)
            elif count == 0:
                self.fail("one audit record per attempt", f"{attempt}: no record")
        self.unchecked = waiting

    def check_now(self) -> None:
        """Everything that can be checked between operations."""
        self.dirty = True
        self.check_world()
        self.check_store()
        self.check_audit()
        self.check_current()


def liveness_bound_s(policy: Policy) -> float:
    """The longest a request may take: twice the longest plan's bounds (plan + rollback),
    plus the retries' sleeps. Any request that ends later breaks liveness. Computed once
    per policy value (27 plans; every seed of a campaign asks)."""
    return _BOUNDS(policy)


def _liveness_bound_s(policy: Policy) -> float:
    longest = 0.0
    for current in ObservedState:
        for target in Mode:
            legs = plan(current, target, policy).legs
            total = sum(getattr(step, "bound_s", 0.0) for leg in legs for step in leg.steps)
            longest = max(longest, total)
    return 2 * longest + 60.0


_SAVES_OR_RESTORES = (steps.SaveStudioTuning, steps.RestoreStudioTuning, steps.SaveSlices,
                      steps.RestoreSlices)


def _tuning_now(world: World) -> tuple[object, ...]:
    """The simulated machine's PipeWire clock settings and cpufreq state, as they are."""
    t = world.studio
    return (t.force_quantum, t.force_rate, dict(t.governors), dict(t.epps))


_BOUNDS = PerValue(_liveness_bound_s)
