"""The simulated systemd: units, jobs, transactions and isolate.

Owned by `simulator.world.World`, which routes backend actions here and implements the
`UnitHooks` (what a unit's start or stop does to the rest of the world: the display manager
logs in, vLLM allocates GPU memory). The semantics follow systemd's closely enough that a
controller that is wrong on the real host is wrong here too:

- `start` pulls in the Requires=/Wants= closure (and each service's Slice=), stops every unit
  that conflicts with a unit started (Conflicts= is symmetric); `stop` propagates to units
  that Require the stopped one and to units PartOf it. A transaction that would both start
  and stop a unit is refused, as systemd refuses a destructive transaction.
- `isolate` is refused unless the target has AllowIsolate=; it starts the target's closure
  and stops every other unit not marked IgnoreOnIsolate=.
- The graph is Nix's (`simulator.unitgraph`, from simulator/unit-graph.json).
- Jobs run when the jobs they are ordered after are done (After=; targets are implicitly
  After= their Wants=/Requires= unless those are After= the target; stops run before starts
  of ordered units and in reverse order). A running job shows `activating`/`deactivating`
  for its duration, then the unit is `active` (oneshot without RemainAfterExit= goes back
  to `inactive`), `inactive`, or `failed`; start jobs of units that Require a failed one
  end with result "dependency".
- A new job for a unit replaces its pending job of the other type.
"""

from __future__ import annotations

import random
from enum import StrEnum
from typing import Any, Protocol

import attrs

from dubnium.errors import BackendError
from dubnium.facts import ActiveState, LoadState, SliceFact, SliceSettings, UnitFact, Units
from dubnium.modes import Mode
from dubnium.policy import Policy
from simulator import jsonutil
from simulator.clock import Scheduler, seconds_to_ns
from simulator.trace import Recorder

BASE_TARGET = "multi-user.target"
DBUS = "dbus.service"
LOGIND = "systemd-logind.service"
JOB_DONE = "job_done"  # the event kind of a finished job


class UnitType(StrEnum):
    TARGET = "target"
    SERVICE = "service"
    SLICE = "slice"
    SCOPE = "scope"


class JobType(StrEnum):
    START = "start"
    STOP = "stop"


@attrs.frozen
class UnitSpec:
    """A unit file: the dependencies and flags systemd reads from it."""

    name: str
    wants: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    part_of: tuple[str, ...] = ()
    slice: str = ""
    allow_isolate: bool = False
    ignore_on_isolate: bool = False
    oneshot: bool = False
    remain_after_exit: bool = False
    resources: bool = False  # runtime cgroup settings (every slice has them anyway)

    @property
    def type(self) -> UnitType:
        return UnitType(self.name.rsplit(".", 1)[-1])

    @property
    def hard_requirements(self) -> tuple[str, ...]:
        """Requires= plus the implicit Requires= on the unit's slice."""
        return (*self.requires, self.slice) if self.slice else self.requires


@attrs.frozen
class UnitBehaviour:
    """How a unit's jobs go: durations (seconds, before jitter) and injected faults."""

    start_s: float = 0.0
    stop_s: float = 0.0
    start_fails: bool = False
    start_hangs: bool = False  # the start job never finishes
    stop_hangs: bool = False  # the stop job never finishes


@attrs.define
class Unit:
    spec: UnitSpec
    behaviour: UnitBehaviour
    active: ActiveState = ActiveState.INACTIVE
    job: int = 0  # id of the unit's pending job; 0 when none
    result: str = "success"  # systemd's Result of the last job: success, exit-code
    settings: SliceSettings | None = None  # slices only
    fact: UnitFact | None = attrs.field(default=None, eq=False, repr=False)


@attrs.define
class Job:
    id: int
    unit: str
    type: JobType
    running: bool = False


class UnitHooks(Protocol):
    """What the rest of the world does when a unit's jobs run (implemented by World)."""

    def job_started(self, unit: str, job_type: JobType) -> None: ...

    def start_succeeds(self, unit: str) -> bool: ...

    def state_changed(self, unit: str, old: ActiveState, new: ActiveState) -> None: ...


_UP = (ActiveState.ACTIVE, ActiveState.RELOADING)
_DOWN = (ActiveState.INACTIVE, ActiveState.FAILED)
_SUB = {
    ActiveState.ACTIVE: {UnitType.SERVICE: "running", UnitType.TARGET: "active",
                         UnitType.SLICE: "active"},
    ActiveState.INACTIVE: dict.fromkeys(UnitType, "dead"),
    ActiveState.FAILED: dict.fromkeys(UnitType, "failed"),
    ActiveState.ACTIVATING: dict.fromkeys(UnitType, "start"),
    ActiveState.DEACTIVATING: dict.fromkeys(UnitType, "stop"),
    ActiveState.RELOADING: dict.fromkeys(UnitType, "reload"),
}


class Systemd:
    """The units, their pending jobs, and the transaction logic."""

    def __init__(self, scheduler: Scheduler, rng: random.Random, hooks: UnitHooks,
                 recorder: Recorder, jitter: float = 0.1) -> None:
        self.units: dict[str, Unit] = {}
        self.jobs: dict[int, Job] = {}
        self.next_job_id = 1
        self.jitter = jitter
        self._scheduler = scheduler
        self._rng = rng
        self._hooks = hooks
        self.recorder = recorder
        self._facts: Units | None = None
        self._slice_facts: tuple[SliceFact, ...] | None = None
        self._after: dict[str, frozenset[str]] = {}
        self._stop_propagates: dict[str, tuple[str, ...]] = {}
        self._conflicts: dict[str, tuple[str, ...]] = {}
        self._required_by: dict[str, tuple[str, ...]] = {}

    # ----------------------------------------------------------------- building

    def add(self, spec: UnitSpec, behaviour: UnitBehaviour | None = None) -> Unit:
        if spec.name in self.units:
            raise ValueError(f"unit {spec.name} defined twice")
        unit = Unit(spec, behaviour or UnitBehaviour())
        if spec.type is UnitType.SLICE or spec.resources:
            unit.settings = SliceSettings()
        self.units[spec.name] = unit
        self._slice_facts = None
        return unit

    def index(self) -> None:
        """Compute the reverse and implicit dependencies; call after adding units."""
        after: dict[str, set[str]] = {name: set() for name in self.units}
        propagates: dict[str, list[str]] = {name: [] for name in self.units}
        required_by: dict[str, list[str]] = {name: [] for name in self.units}
        conflicts: dict[str, list[str]] = {name: [] for name in self.units}
        for name, unit in self.units.items():
            spec = unit.spec
            after[name].update(spec.after)
            if spec.slice:
                after[name].add(spec.slice)
            if spec.type is UnitType.TARGET:
                # systemd's default target dependency: After= every unit it wants or
                # requires, unless that unit is ordered after the target itself.
                after[name].update(
                    d for d in (*spec.wants, *spec.requires)
                    if d not in self.units or name not in self.units[d].spec.after)
            for dep in spec.hard_requirements:
                if dep in propagates:
                    propagates[dep].append(name)
                    required_by[dep].append(name)
            for owner in spec.part_of:
                if owner in propagates:
                    propagates[owner].append(name)
            for other in spec.conflicts:
                if other in conflicts:
                    conflicts[name].append(other)
                    conflicts[other].append(name)
        self._after = {k: frozenset(v) for k, v in after.items()}
        self._stop_propagates = {k: tuple(dict.fromkeys(v)) for k, v in propagates.items()}
        self._required_by = {k: tuple(dict.fromkeys(v)) for k, v in required_by.items()}
        self._conflicts = {k: tuple(dict.fromkeys(v)) for k, v in conflicts.items()}
        self._facts = None
        self._slice_facts = None

    def set_behaviour(self, name: str, behaviour: UnitBehaviour) -> None:
        self._unit(name).behaviour = behaviour

    # ----------------------------------------------------------------- reading

    def facts(self) -> Units:
        """The units as the observer sees them (cached until a unit changes)."""
        if self._facts is None:
            self._facts = Units(tuple(self._fact(u) for u in self.units.values()))
        return self._facts

    def slice_facts(self) -> tuple[SliceFact, ...]:
        """The slices' runtime settings (cached until one changes)."""
        if self._slice_facts is None:
            self._slice_facts = tuple(SliceFact(name, u.settings)
                                      for name, u in self.units.items() if u.settings is not None)
        return self._slice_facts

    def _fact(self, unit: Unit) -> UnitFact:
        if unit.fact is None:
            sub = _SUB[unit.active][unit.spec.type]
            if sub == "running" and unit.spec.oneshot:
                sub = "exited"
            unit.fact = UnitFact(unit.spec.name, unit.active, LoadState.LOADED, sub)
        return unit.fact

    def state(self, name: str) -> ActiveState:
        return self._unit(name).active

    def is_up(self, name: str) -> bool:
        unit = self.units.get(name)
        return unit is not None and unit.active in _UP

    def has_job(self, name: str) -> bool:
        unit = self.units.get(name)
        return unit is not None and unit.job != 0

    def _unit(self, name: str) -> Unit:
        unit = self.units.get(name)
        if unit is None:
            # what systemd answers: org.freedesktop.systemd1.NoSuchUnit
            raise BackendError(f"Unit {name} not found.")
        return unit

    # ----------------------------------------------------------------- actions

    def start(self, name: str) -> None:
        self._unit(name)
        tx: dict[str, JobType] = {}
        self._tx_start(tx, name, required=True, root=name)
        self._apply(tx)

    def stop(self, name: str) -> None:
        self._unit(name)
        tx: dict[str, JobType] = {}
        self._tx_stop(tx, name, root=name)
        self._apply(tx)

    def isolate(self, name: str) -> None:
        unit = self._unit(name)
        if unit.spec.type is not UnitType.TARGET or not unit.spec.allow_isolate:
            raise BackendError(f"Operation refused, unit {name} may not be isolated.")
        tx: dict[str, JobType] = {}
        self._tx_start(tx, name, required=True, root=name)
        for other, state in self.units.items():
            if other in tx or state.spec.ignore_on_isolate:
                continue
            if state.active not in _DOWN or state.job:
                self._tx_stop(tx, other, root=name)
        self._apply(tx)

    def set_slice(self, name: str, settings: SliceSettings) -> None:
        unit = self._unit(name)
        if unit.settings is None:
            raise BackendError(f"Unit {name} has no runtime resource settings here.")
        unit.settings = settings
        self._slice_facts = None

    def reset_slice(self, name: str, settings: SliceSettings) -> None:
        self._unit(name).settings = settings
        self._slice_facts = None

    def fail(self, name: str) -> None:
        """The unit's main process died: `failed`, and units that Require it are stopped."""
        unit = self._unit(name)
        if unit.job:
            self._drop(self.jobs[unit.job], "canceled")
        unit.result = "exit-code"
        self._set_state(unit, ActiveState.FAILED)
        tx: dict[str, JobType] = {}
        for dependent in self._required_by[name]:
            self._tx_stop(tx, dependent, root=name)
        self._apply(tx)

    def reset_failed(self, name: str) -> None:
        """ResetFailedUnit: a failed unit becomes inactive (others are left as they are)."""
        unit = self._unit(name)
        if unit.active is ActiveState.FAILED:
            unit.result = "success"
            self._set_state(unit, ActiveState.INACTIVE)

    def reset(self) -> None:
        """Power off: every job gone, every unit inactive (a reboot then starts the boot)."""
        self.jobs.clear()
        for unit in self.units.values():
            unit.job = 0
            unit.result = "success"
            self._set_state(unit, ActiveState.INACTIVE)

    # ----------------------------------------------------------------- transactions

    def _tx_start(self, tx: dict[str, JobType], name: str, *, required: bool, root: str) -> None:
        unit = self.units.get(name)
        if unit is None:
            if required:
                raise BackendError(f"Unit {name} not found (required by {root}).")
            return  # a missing Wants= dependency is ignored, as systemd does
        have = tx.get(name)
        if have is JobType.START:
            return
        if have is JobType.STOP:
            raise BackendError(f"Transaction for {root} is destructive ({name} would be "
                               "started and stopped).")
        tx[name] = JobType.START
        for dep in unit.spec.hard_requirements:
            self._tx_start(tx, dep, required=True, root=root)
        for dep in unit.spec.wants:
            self._tx_start(tx, dep, required=False, root=root)
        for other in self._conflicts[name]:
            self._tx_stop(tx, other, root=root)

    def _tx_stop(self, tx: dict[str, JobType], name: str, *, root: str) -> None:
        have = tx.get(name)
        if have is JobType.STOP:
            return
        if have is JobType.START:
            raise BackendError(f"Transaction for {root} is destructive ({name} would be "
                               "started and stopped).")
        tx[name] = JobType.STOP
        for dependent in self._stop_propagates[name]:
            self._tx_stop(tx, dependent, root=root)

    def _apply(self, tx: dict[str, JobType]) -> None:
        for name, job_type in tx.items():
            unit = self.units[name]
            current = self.jobs.get(unit.job) if unit.job else None
            if current is not None and current.type is job_type:
                continue
            if current is None:
                if job_type is JobType.START and unit.active in _UP:
                    continue
                if job_type is JobType.STOP and unit.active in _DOWN:
                    continue
            if current is not None:
                self._drop(current, "canceled")
            job = Job(self.next_job_id, name, job_type)
            self.next_job_id += 1
            self.jobs[job.id] = job
            unit.job = job.id
            self.recorder.job(self._scheduler.now_ns, name, job_type.value, "queued")
        self._dispatch()

    def _must_wait(self, job: Job, other: Job) -> bool:
        """Whether `job` must wait for `other` to finish (systemd's ordering rules)."""
        u_after_v = other.unit in self._after[job.unit]
        v_after_u = job.unit in self._after[other.unit]
        if job.type is JobType.START:
            if other.type is JobType.START:
                return u_after_v
            return u_after_v or v_after_u  # stops run before starts of ordered units
        if other.type is JobType.STOP:
            return v_after_u  # stops run in reverse order
        return False

    def _dispatch(self) -> None:
        """Run every job whose ordering allows it, until none can start."""
        progress = True
        while progress:
            progress = False
            for job in list(self.jobs.values()):
                if job.running or job.id not in self.jobs:
                    continue
                if any(other is not job and self._must_wait(job, other)
                       for other in self.jobs.values()):
                    continue
                self._run(job)
                progress = True

    def _run(self, job: Job) -> None:
        job.running = True
        unit = self.units[job.unit]
        behaviour = unit.behaviour
        self.recorder.job(self._scheduler.now_ns, job.unit, job.type.value, "running")
        if job.type is JobType.START:
            base, hangs = behaviour.start_s, behaviour.start_hangs
            transient = ActiveState.ACTIVATING
        else:
            base, hangs = behaviour.stop_s, behaviour.stop_hangs
            transient = ActiveState.DEACTIVATING
        delay = self._duration_ns(base)
        if delay or hangs:
            self._set_state(unit, transient)
        self._hooks.job_started(job.unit, job.type)
        if hangs:
            return
        if delay:
            self._scheduler.schedule(delay, JOB_DONE, {"job": job.id})
        else:
            self._complete(job)

    def _duration_ns(self, base_s: float) -> int:
        if base_s <= 0:
            return 0
        factor = 1.0 + self.jitter * (2.0 * self._rng.random() - 1.0) if self.jitter else 1.0
        return max(1, seconds_to_ns(base_s * factor))

    def on_job_done(self, job_id: int) -> None:
        """The JOB_DONE event: finish the job (a replaced job's event is ignored)."""
        job = self.jobs.get(job_id)
        if job is None:
            return
        self._complete(job)
        self._dispatch()

    def _complete(self, job: Job) -> None:
        del self.jobs[job.id]
        unit = self.units[job.unit]
        unit.job = 0
        now = self._scheduler.now_ns
        if job.type is JobType.STOP:
            self._set_state(unit, ActiveState.INACTIVE)
            self.recorder.job(now, job.unit, job.type.value, "done")
            return
        ok = not unit.behaviour.start_fails and self._hooks.start_succeeds(job.unit)
        if ok:
            unit.result = "success"
            spec = unit.spec
            done = ActiveState.INACTIVE if spec.oneshot and not spec.remain_after_exit else (
                ActiveState.ACTIVE)
            self._set_state(unit, done)
            self.recorder.job(now, job.unit, job.type.value, "done")
        else:
            unit.result = "exit-code"
            self._set_state(unit, ActiveState.FAILED)
            self.recorder.job(now, job.unit, job.type.value, "failed")
            self._fail_dependents(job.unit)

    def _fail_dependents(self, name: str) -> None:
        for dependent in self._required_by[name]:
            unit = self.units[dependent]
            job = self.jobs.get(unit.job) if unit.job else None
            if job is not None and job.type is JobType.START:
                self._drop(job, "dependency")
                if unit.active is ActiveState.ACTIVATING:
                    self._set_state(unit, ActiveState.INACTIVE)
                self._fail_dependents(dependent)

    def _drop(self, job: Job, result: str) -> None:
        self.jobs.pop(job.id, None)
        unit = self.units[job.unit]
        if unit.job == job.id:
            unit.job = 0
        self.recorder.job(self._scheduler.now_ns, job.unit, job.type.value, result)

    def _set_state(self, unit: Unit, new: ActiveState) -> None:
        old = unit.active
        if old is new:
            return
        unit.active = new
        unit.fact = None
        self._facts = None
        self.recorder.unit_state(self._scheduler.now_ns, unit.spec.name, old.value, new.value)
        self._hooks.state_changed(unit.spec.name, old, new)

    # ----------------------------------------------------------------- persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "jitter": self.jitter,
            "next_job_id": self.next_job_id,
            "units": [
                {
                    "spec": jsonutil.to_json(u.spec),
                    "behaviour": jsonutil.to_json(u.behaviour),
                    "active": u.active.value,
                    "job": u.job,
                    "result": u.result,
                    "settings": u.settings.to_json() if u.settings is not None else None,
                }
                for u in self.units.values()
            ],
            "jobs": [
                {"id": j.id, "unit": j.unit, "type": j.type.value, "running": j.running}
                for j in self.jobs.values()
            ],
        }

    def load_json(self, data: Any) -> None:
        """Replace every unit and job with those of `data` (the form `to_json` writes)."""
        self.units.clear()
        self.jobs.clear()
        self.jitter = float(data["jitter"])
        self.next_job_id = _int(data["next_job_id"], "systemd.next_job_id")
        for raw in data["units"]:
            spec = jsonutil.from_json(UnitSpec, raw["spec"])
            unit = self.add(spec, jsonutil.from_json(UnitBehaviour, raw["behaviour"]))
            unit.active = ActiveState(raw["active"])
            unit.job = _int(raw["job"], f"unit {spec.name} job")
            unit.result = str(raw["result"])
            settings = raw["settings"]
            unit.settings = SliceSettings.from_json(settings) if settings is not None else None
        for raw in data["jobs"]:
            job = Job(_int(raw["id"], "job id"), str(raw["unit"]), JobType(raw["type"]),
                      bool(raw["running"]))
            if job.unit not in self.units:
                raise ValueError(f"job {job.id} names unknown unit {job.unit}")
            self.jobs[job.id] = job
        for unit in self.units.values():
            if unit.job and unit.job not in self.jobs:
                raise ValueError(f"unit {unit.spec.name} names unknown job {unit.job}")
        self.index()


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    return value


def boot_target(policy: Policy) -> str:
    """The target a boot starts: compute when the policy says so, desktop otherwise."""
    if policy.boot_default_mode is Mode.COMPUTE:
        return policy.units.compute_target
    return policy.units.desktop_target
