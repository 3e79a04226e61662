"""The simulated workstation's unit graph, built from the Nix one.

Called by `simulator.world.World.create` (`default_units`). Dubnium's units come from
simulator/unit-graph.json: nixos/units/ evaluated by nixos/lib/sim-graph.nix with every
optional unit on, written by scripts/render-sim-graph, and kept equal to a fresh evaluation
by tests/nix/test_sim_graph.py — never a hand copy. NixOS's own units that Dubnium's refer
to (dbus, logind, the base target, the display manager, graphical.target) are modelled here,
because NixOS, not Dubnium, defines them.

Rules, as systemd applies them:
- a unit disabled by the policy (vLLM, EXO, k3s) is left out, and so is every reference to
  it; a Wants=/After= on a unit the simulated host does not have (network-online.target)
  is ignored, as systemd ignores it; a Requires= on one is an error;
- `wantedBy` becomes Wants= of the wanting unit (what NixOS's `.wants/` links do);
- slices are IgnoreOnIsolate= (systemd's default for slice units);
- unit names are the policy's (`units` of the config), mapped from the defaults in names;
- the controller's own units (mode-*) are not simulated: the simulator runs the controller
  in-process, and nothing in the world starts them;
- Requisite= is not modelled (the controller never starts an overlay marker outside desktop).
Durations are the simulator's own (`BEHAVIOURS`); they are not part of the unit files.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from dubnium.errors import DubniumError
from dubnium.policy import SLICES, Policy
from simulator.memo import PerValue
from simulator.systemd import BASE_TARGET, DBUS, LOGIND, UnitBehaviour, UnitSpec

GRAPH_FILE = "unit-graph.json"
NOT_SIMULATED_PREFIX = "mode-"

# Per unit (by the key of its name in the graph's `names`, or its own name).
BEHAVIOURS: dict[str, UnitBehaviour] = {
    "studio_policy": UnitBehaviour(start_s=0.05, stop_s=0.05),
    "audio_priority": UnitBehaviour(start_s=0.05, stop_s=0.05),
    "vllm": UnitBehaviour(start_s=20.0, stop_s=2.0),
    "exo": UnitBehaviour(start_s=5.0, stop_s=1.0),
    "k3s": UnitBehaviour(start_s=3.0, stop_s=2.0),
}


class GraphError(DubniumError, ValueError):
    """The checked-in graph does not fit the simulated host."""


def load_graph() -> dict[str, Any]:
    """simulator/unit-graph.json, as rendered from Nix."""
    text = resources.files("simulator").joinpath(GRAPH_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise GraphError(f"simulator/{GRAPH_FILE}: not a schema-1 unit graph")
    return data


def _nixos_units(policy: Policy) -> dict[str, tuple[dict[str, Any], UnitBehaviour]]:
    """NixOS's units the graph refers to, as plain spec fields."""
    n = policy.units
    # The owner's audio units (issue 15; policy.studio.audio_units): user.slice and the user
    # manager, whose weights studio-local raises; up from boot on, kept on isolate.
    audio = [u for u in policy.studio.audio_units if u not in SLICES]
    user_slices = [u for u in audio if u.endswith(".slice")]
    user_services = [u for u in audio if not u.endswith(".slice")]
    units: dict[str, tuple[dict[str, Any], UnitBehaviour]] = {
        u: ({"ignore_on_isolate": True}, UnitBehaviour()) for u in user_slices}
    units.update({u: ({"ignore_on_isolate": True, "resources": True,
                       "slice": user_slices[0] if user_slices else ""}, UnitBehaviour())
                  for u in user_services})
    return {
        **units,
        DBUS: ({}, UnitBehaviour(start_s=0.05, stop_s=0.05)),
        LOGIND: ({"requires": [DBUS], "after": [DBUS]}, UnitBehaviour(start_s=0.1, stop_s=0.1)),
        BASE_TARGET: ({"wants": [DBUS, LOGIND, *user_services]}, UnitBehaviour()),
        n.display_manager: ({"after": [LOGIND]}, UnitBehaviour(start_s=0.5, stop_s=0.5)),
        n.graphical_target: ({"requires": [BASE_TARGET], "wants": [n.display_manager]},
                             UnitBehaviour()),
    }


def _disabled(policy: Policy, names: dict[str, str]) -> set[str]:
    off = set()
    if not policy.vllm.enable:
        off.add(names["vllm"])
    if not policy.exo.enable:
        off |= {names["exo"], "exo.target"}
    if not policy.k3s_enable:
        off.add(names["k3s"])
    return off


def default_units(policy: Policy) -> list[tuple[UnitSpec, UnitBehaviour]]:
    """The unit graph of a Dubnium workstation under `policy`: NixOS's units above plus
    Dubnium's from the Nix graph, with the policy's unit names. Frozen values, built once
    per policy value (every seed's world starts from it)."""
    return list(_UNITS(policy))


def _default_units(policy: Policy) -> tuple[tuple[UnitSpec, UnitBehaviour], ...]:
    graph = load_graph()
    names: dict[str, str] = graph["names"]
    rename = {default: getattr(policy.units, key) for key, default in names.items()}
    role = {default: key for key, default in names.items()}
    off = _disabled(policy, names)

    fields: dict[str, dict[str, Any]] = {}
    behaviours: dict[str, UnitBehaviour] = {}
    for name, (spec, behaviour) in _nixos_units(policy).items():
        fields[name] = {k: v if isinstance(v, bool | str) else list(v) for k, v in spec.items()}
        behaviours[name] = behaviour
    wanted_by: dict[str, list[str]] = {}
    for default_name, unit in sorted(graph["units"].items()):
        if default_name.startswith(NOT_SIMULATED_PREFIX) or default_name in off:
            continue
        name = rename.get(default_name, default_name)
        kept = {k: [rename.get(d, d) for d in unit[k] if d not in off]
                for k in ("wants", "requires", "after", "conflicts", "partOf", "wantedBy")}
        wanted_by[name] = kept.pop("wantedBy")
        fields[name] = {
            **kept,
            "slice": unit["slice"],
            "oneshot": unit["oneshot"],
            "remain_after_exit": unit["remainAfterExit"],
            "allow_isolate": unit["allowIsolate"],
            "ignore_on_isolate": unit["ignoreOnIsolate"] or name.endswith(".slice"),
        }
        behaviours[name] = BEHAVIOURS.get(role.get(default_name, default_name), UnitBehaviour())
    for name, wanters in wanted_by.items():
        for wanter in wanters:
            if wanter in fields:
                fields[wanter].setdefault("wants", []).append(name)
    return tuple((_spec(name, spec, fields), behaviours[name]) for name, spec in fields.items())


_UNITS = PerValue(_default_units)


def _spec(name: str, spec: dict[str, Any], known: dict[str, Any]) -> UnitSpec:
    missing = [d for d in spec.get("requires", []) if d not in known]
    if missing:
        raise GraphError(f"{name} requires {', '.join(missing)}, which the simulated host lacks")
    present = {k: tuple(d for d in spec.get(k, []) if d in known)
               for k in ("wants", "after", "conflicts", "partOf")}
    return UnitSpec(
        name,
        wants=present["wants"],
        requires=tuple(spec.get("requires", [])),
        conflicts=present["conflicts"],
        after=present["after"],
        part_of=present["partOf"],
        slice=spec.get("slice", ""),
        allow_isolate=spec.get("allow_isolate", False),
        ignore_on_isolate=spec.get("ignore_on_isolate", False),
        oneshot=spec.get("oneshot", False),
        remain_after_exit=spec.get("remain_after_exit", False),
        resources=spec.get("resources", False),
    )
