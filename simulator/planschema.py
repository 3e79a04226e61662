"""The JSON Schema of a fault plan (docs/schemas/fault-plan.schema.json), built from the same
tables the plan checker uses (`simulator.plancheck`), so the document and the checker agree.

Called by `scripts/gen-docs`-style regeneration (`python -m simulator.planschema`) and by the
test that keeps the committed schema equal to this one and validates drawn plans with it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from dubnium.modes import Mode
from dubnium.policy import default_policy
from simulator import faults as f
from simulator import iofaults
from simulator.faults import PLAN_SCHEMA_VERSION, FaultKind
from simulator.plancheck import MAX_OPS, MAX_SEED

_DAY = 86400.0


def _units() -> list[str]:
    policy = default_policy()
    roles = sorted(a for a in dir(policy.units) if not a.startswith("_") and a != "all")
    return roles + sorted(set(policy.units.all()) - set(roles))


def _int(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _num(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


_COUNT = _int(0, 1000)
_TIMES = _int(1, 1000)
_NAME = {"type": "string", "minLength": 1, "maxLength": 64}
_WHEN = {"enum": ["now", "mid_transition"]}


def _params() -> dict[FaultKind, tuple[dict[str, Any], list[str]]]:
    """Each kind's parameters (schema) and the required ones; mirrors plancheck.PARAMS."""
    unit = {"enum": _units()}
    action = {"enum": list(f._ACTIONS)}
    k = FaultKind
    return {
        k.UNIT_START_FAILS: ({"unit": unit}, ["unit"]),
        k.UNIT_START_SLOW: ({"unit": unit, "start_s": _num(0, _DAY)}, ["unit", "start_s"]),
        k.UNIT_JOB_HANGS: ({"unit": unit, "job": {"enum": ["start", "stop"]}}, ["unit", "job"]),
        k.ACTION_TIMEOUT: ({"action": action, "times": _TIMES}, ["action"]),
        k.ACTION_IGNORED: ({"action": action, "times": _TIMES}, ["action"]),
        k.SESSION_NEVER_EXITS: ({}, []),
        k.SECOND_SESSION: ({"type": {"enum": ["tty", "x11", "wayland"]}, "user": _NAME,
                            "when": _WHEN, "after_observations": _COUNT}, ["type", "user"]),
        k.LOGIND_ERROR: ({"how": {"enum": ["error", "unavailable"]}, "temporary":
                          {"type": "boolean"}, "times": _TIMES}, ["how"]),
        k.GPU_RELEASE_LATE: ({"delay_s": _num(0, _DAY)}, ["delay_s"]),
        k.GPU_RELEASE_PARTIAL: ({"residual_mib": _int(0, 1 << 20)}, ["residual_mib"]),
        k.GPU_RELEASE_NEVER: ({}, []),
        k.GPU_HIDDEN_MEMORY: ({"gpu": _int(0, 63), "mib": _int(0, 1 << 20)}, ["gpu", "mib"]),
        k.AUDIO_MID_TRANSITION: ({"name": _NAME, "after_observations": _COUNT},
                                 ["name", "after_observations"]),
        k.JACK_MID_TRANSITION: ({"name": _NAME, "after_observations": _COUNT},
                                ["name", "after_observations"]),
        k.VLLM_OOM: ({"need_mib": _int(1, 1 << 20)}, ["need_mib"]),
        k.VLLM_CRASH_LOOP: ({"times": _TIMES}, ["times"]),
        k.CONTROLLER_KILLED: ({"after_steps": _COUNT, "torn_record": {"type": "boolean"}},
                              ["after_steps"]),
        k.SLICE_WEIGHTS_CHANGED: ({"slice": {"enum": list(f._SLICES)},
                                   "cpu_weight": _int(1, 10000), "when": _WHEN,
                                   "after_observations": _COUNT}, ["slice", "cpu_weight"]),
        k.STATE_FILE_CORRUPT: ({"file": {"enum": list(f._STATE_FILES)},
                                "how": {"enum": ["truncate", "garbage"]}}, ["file", "how"]),
        k.CLOCK_JUMP: ({"by_s": _num(-3650 * _DAY, 3650 * _DAY)}, ["by_s"]),
        k.STORAGE_FAULT: ({"how": {"enum": list(iofaults.HOWS)}, "free_bytes": _int(0, 1 << 30),
                           "times": _TIMES}, ["how"]),
        k.DISPLAY_MANAGER_FAILS: ({"crash_now": {"type": "boolean"}}, []),
        k.COMPOSITOR_CRASHES: ({"when": _WHEN, "after_observations": _COUNT}, []),
        k.GREETER_RETAKES_GPU: ({"stop_s": _num(0, _DAY)}, ["stop_s"]),
        k.SESSION_STUCK_CLOSING: ({"when": _WHEN, "after_observations": _COUNT}, []),
        k.EVIDENCE_UNAVAILABLE: ({"group": {"enum": list(f._GROUPS)},
                                  "for_observations": _COUNT}, ["group", "for_observations"]),
    }


def _fault_op(kind: FaultKind, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"op": {"const": "fault"}, "kind": {"const": kind.value}, **props},
        "required": ["op", "kind", *required],
        "additionalProperties": False,
    }
    if "when" in props:  # mid_transition needs its moment
        schema["if"] = {"properties": {"when": {"const": "mid_transition"}},
                        "required": ["when"]}
        schema["then"] = {"required": ["after_observations"]}
    return schema


def plan_schema() -> dict[str, Any]:
    """The fault plan's JSON Schema (draft 2020-12)."""
    params = _params()
    missing = set(FaultKind) - set(params)
    if missing:  # pragma: no cover - a new kind must be described here
        raise AssertionError(f"fault kinds without a schema: {sorted(missing)}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://dubnium.invalid/schemas/fault-plan.schema.json",
        "title": "Dubnium fault plan",
        "description": "A simulated run: the workstation (gpus), the fault kinds it may use, "
                       "and its operations in order. `mode-sim replay --plan FILE` checks a "
                       "plan against the same rules before it runs (exit 2 naming the field).",
        "type": "object",
        "properties": {
            "schema_version": {"const": PLAN_SCHEMA_VERSION},
            "seed": _int(0, MAX_SEED),
            "gpus": {"enum": [1, 2]},
            "kinds": {"type": "array", "items": {"enum": [x.value for x in FaultKind]}},
            "ops": {"type": "array", "maxItems": MAX_OPS, "items": {"oneOf": [
                {"type": "object", "properties": {
                    "op": {"const": "request"},
                    "mode": {"enum": [m.value for m in Mode]}},
                 "required": ["op", "mode"], "additionalProperties": False},
                {"type": "object", "properties": {
                    "op": {"const": "advance"}, "s": _num(0, 3650 * _DAY)},
                 "required": ["op", "s"], "additionalProperties": False},
                *(_fault_op(kind, props, required)
                  for kind, (props, required) in params.items()),
            ]}},
        },
        "required": ["schema_version", "seed", "ops"],
        "additionalProperties": False,
    }


def main() -> None:
    sys.stdout.write(json.dumps(plan_schema(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":  # pragma: no cover
    main()
