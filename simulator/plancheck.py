"""Fault plans from outside (a file given to `mode-sim replay --plan`), checked before the run.

Called by `simulator.cli` (replay) and by the fuzz tests. `FaultPlan.from_json` builds a plan
from a well-formed document; a hand-edited or mutated one used to crash the campaign in the
middle of a run (a KeyError for a missing parameter, a ValueError for `"times": "x"`, an
OverflowError for `"by_s": 1e308`). `check_plan` checks the whole document first, every op's
kind and every fault's parameters against `PARAMS` (type, range, choices, required), and
raises `PlanError` naming the op's index and the field: `ops[3].after_steps: expected an
integer from 0 to 1000, got -1`. The CLI exits 2 with that line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dubnium import fsutil, strictjson
from dubnium.errors import DubniumError
from dubnium.modes import Mode
from dubnium.policy import Policy, default_policy
from simulator import faults as f
from simulator import iofaults
from simulator.faults import PLAN_SCHEMA_VERSION, FaultKind, FaultPlan

MAX_OPS = 10_000
MAX_SEED = 2**64 - 1


class PlanError(DubniumError, ValueError):
    """The plan is malformed; the message names the op index and the field."""


Param = Callable[[Any, str], None]


def _int(low: int, high: int) -> Param:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PlanError(f"{where}: expected an integer from {low} to {high}, got {value!r}")
    return check


def _num(low: float, high: float) -> Param:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and low <= value <= high):
            raise PlanError(f"{where}: expected a finite number from {low:g} to {high:g}, "
                            f"got {value!r}")
    return check


def _one_of(*choices: Any) -> Param:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) != isinstance(choices[0], bool) or value not in choices:
            raise PlanError(f"{where}: expected one of {', '.join(map(str, choices))}, "
                            f"got {value!r}")
    return check


def _bool(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise PlanError(f"{where}: expected true or false, got {value!r}")


def _name(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value or len(value) > 64 or not value.isprintable():
        raise PlanError(f"{where}: expected a name of 1 to 64 printable characters, "
                        f"got {value!r}"[:200])


def _unit(policy: Policy) -> Param:
    roles = tuple(a for a in dir(policy.units) if not a.startswith("_") and a != "all")
    names = policy.units.all()

    def check(value: Any, where: str) -> None:
        if value not in roles and value not in names:
            raise PlanError(f"{where}: expected a unit role ({', '.join(roles)}) or one of "
                            f"the policy's unit names, got {value!r}"[:300])
    return check


_UNIT = _unit(default_policy())
_COUNT = _int(0, 1000)
_TIMES = _int(1, 1000)
_DAY = 86400.0

# Every fault kind's parameters: name -> (check, required). Parameters not listed are refused.
PARAMS: Mapping[FaultKind, Mapping[str, tuple[Param, bool]]] = {
    FaultKind.UNIT_START_FAILS: {"unit": (_UNIT, True)},
    FaultKind.UNIT_START_SLOW: {"unit": (_UNIT, True), "start_s": (_num(0, _DAY), True)},
    FaultKind.UNIT_JOB_HANGS: {"unit": (_UNIT, True), "job": (_one_of("start", "stop"), True)},
    FaultKind.ACTION_TIMEOUT: {"action": (_one_of(*f._ACTIONS), True), "times": (_TIMES, False)},
    FaultKind.ACTION_IGNORED: {"action": (_one_of(*f._ACTIONS), True), "times": (_TIMES, False)},
    FaultKind.SESSION_NEVER_EXITS: {},
    FaultKind.SECOND_SESSION: {
        "type": (_one_of("tty", "x11", "wayland"), True), "user": (_name, True),
        "when": (_one_of("now", "mid_transition"), False),
        "after_observations": (_COUNT, False)},
    FaultKind.LOGIND_ERROR: {"how": (_one_of("error", "unavailable"), True),
                             "temporary": (_bool, False), "times": (_TIMES, False)},
    FaultKind.GPU_RELEASE_LATE: {"delay_s": (_num(0, _DAY), True)},
    FaultKind.GPU_RELEASE_PARTIAL: {"residual_mib": (_int(0, 1 << 20), True)},
    FaultKind.GPU_RELEASE_NEVER: {},
    FaultKind.GPU_HIDDEN_MEMORY: {"gpu": (_int(0, 63), True), "mib": (_int(0, 1 << 20), True)},
    FaultKind.AUDIO_MID_TRANSITION: {"name": (_name, True), "after_observations": (_COUNT, True)},
    FaultKind.JACK_MID_TRANSITION: {"name": (_name, True), "after_observations": (_COUNT, True)},
    FaultKind.VLLM_OOM: {"need_mib": (_int(1, 1 << 20), True)},
    FaultKind.VLLM_CRASH_LOOP: {"times": (_TIMES, True)},
    FaultKind.CONTROLLER_KILLED: {"after_steps": (_COUNT, True), "torn_record": (_bool, False)},
    FaultKind.SLICE_WEIGHTS_CHANGED: {
        "slice": (_one_of(*f._SLICES), True), "cpu_weight": (_int(1, 10000), True),
        "when": (_one_of("now", "mid_transition"), False),
        "after_observations": (_COUNT, False)},
    FaultKind.STATE_FILE_CORRUPT: {"file": (_one_of(*f._STATE_FILES), True),
                                   "how": (_one_of("truncate", "garbage"), True)},
    FaultKind.CLOCK_JUMP: {"by_s": (_num(-3650 * _DAY, 3650 * _DAY), True)},
    FaultKind.EVIDENCE_UNAVAILABLE: {"group": (_one_of(*f._GROUPS), True),
                                     "for_observations": (_COUNT, True)},
    FaultKind.STORAGE_FAULT: {"how": (_one_of(*iofaults.HOWS), True),
                              "free_bytes": (_int(0, 1 << 30), False), "times": (_TIMES, False)},
    FaultKind.DISPLAY_MANAGER_FAILS: {"crash_now": (_bool, False)},
    FaultKind.COMPOSITOR_CRASHES: {"when": (_one_of("now", "mid_transition"), False),
                                   "after_observations": (_COUNT, False)},
    FaultKind.GREETER_RETAKES_GPU: {"stop_s": (_num(0, _DAY), True)},
    FaultKind.SESSION_STUCK_CLOSING: {"when": (_one_of("now", "mid_transition"), False),
                                      "after_observations": (_COUNT, False)},
}


def _fault_params(kind: FaultKind, op: Mapping[str, Any], where: str) -> None:
    spec = PARAMS.get(kind)
    params = {k: v for k, v in op.items() if k not in ("op", "kind")}
    if spec is None:  # a kind added without a spec: scalars only, bounded
        for key, value in params.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise PlanError(f"{where}.{key}: expected a finite number, got {value!r}")
            if not isinstance(value, str | int | float | bool | None):
                raise PlanError(f"{where}.{key}: expected a JSON scalar, got {value!r}"[:200])
        return
    for key in params:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise PlanError(f"{where}.{key[:60]}: unknown parameter for {kind.value} "
                            f"(known: {known})")
    for key, (check, required) in spec.items():
        if key in params:
            check(params[key], f"{where}.{key}")
        elif required:
            raise PlanError(f"{where}.{key}: missing (required by {kind.value})")
    if params.get("when") == "mid_transition" and "after_observations" not in params:
        raise PlanError(f"{where}.after_observations: missing (required when mid_transition)")


def _op(op: Any, index: int) -> None:
    where = f"ops[{index}]"
    if not isinstance(op, dict):
        raise PlanError(f"{where}: expected an object, got {type(op).__name__}")
    kind = op.get("op")
    if kind == "request":
        if set(op) != {"op", "mode"}:
            raise PlanError(f"{where}: a request has exactly the keys op and mode")
        if op["mode"] not in tuple(m.value for m in Mode):
            raise PlanError(f"{where}.mode: expected one of "
                            f"{', '.join(m.value for m in Mode)}, got {op['mode']!r}"[:200])
    elif kind == "advance":
        if set(op) != {"op", "s"}:
            raise PlanError(f"{where}: an advance has exactly the keys op and s")
        _num(0, 3650 * _DAY)(op["s"], f"{where}.s")
    elif kind == "fault":
        try:
            fault_kind = FaultKind(str(op.get("kind")))
        except ValueError:
            raise PlanError(f"{where}.kind: expected a fault kind ("
                            f"{', '.join(k.value for k in FaultKind)}), "
                            f"got {op.get('kind')!r}"[:400]) from None
        _fault_params(fault_kind, op, where)
    else:
        raise PlanError(f"{where}.op: expected request, fault or advance, got {kind!r}"[:200])


def check_plan(data: Any) -> FaultPlan:
    """The plan in `data`, every field checked first; PlanError names the first bad one."""
    if not isinstance(data, dict):
        raise PlanError(f"a fault plan is a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"schema_version", "seed", "gpus", "kinds", "ops"})
    if unknown:
        raise PlanError(f"{unknown[0][:60]}: unknown key")
    if data.get("schema_version") != PLAN_SCHEMA_VERSION:
        raise PlanError(f"schema_version: expected {PLAN_SCHEMA_VERSION}, "
                        f"got {data.get('schema_version')!r}"[:200])
    if "seed" not in data:
        raise PlanError("seed: missing")
    _int(0, MAX_SEED)(data["seed"], "seed")
    _one_of(1, 2)(data.get("gpus", 2), "gpus")
    kinds = data.get("kinds", [])
    if not isinstance(kinds, list):
        raise PlanError("kinds: expected an array")
    for i, k in enumerate(kinds):
        _one_of(*(x.value for x in FaultKind))(k, f"kinds[{i}]")
    ops = data.get("ops")
    if not isinstance(ops, list):
        raise PlanError("ops: expected an array")
    if len(ops) > MAX_OPS:
        raise PlanError(f"ops: more than {MAX_OPS} operations ({len(ops)})")
    for index, op in enumerate(ops):
        _op(op, index)
    try:
        return FaultPlan.from_json(data)
    except ValueError as exc:  # pragma: no cover - everything it checks is checked above
        raise PlanError(str(exc)) from None


def load_plan(path: Path) -> FaultPlan:
    """Read a plan file (a regular file, strict JSON) and check it."""
    try:
        raw = fsutil.read_regular(path)
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if raw is None:
        raise PlanError(f"{path}: no such file")
    try:
        data = strictjson.loads(raw)
    except ValueError as exc:
        raise PlanError(f"{path}: {exc}") from None
    try:
        return check_plan(data)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None
