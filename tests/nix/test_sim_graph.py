"""One source of truth for the unit graph: the simulator's systemd model is built from the
Nix graph (simulator/unit-graph.json, rendered by scripts/render-sim-graph from
nixos/lib/sim-graph.nix), and the checked-in file is what Nix evaluates now."""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

import json

import attrs
import pytest

from dubnium.policy import default_policy
from simulator.unitgraph import default_units, load_graph
from tests.nix.nixtools import REPO, eval_json, nix_instantiate

pytestmark = pytest.mark.nix


def test_checked_in_graph_equals_a_fresh_nix_evaluation() -> None:
    """simulator/unit-graph.json is nixos/lib/sim-graph.nix evaluated now (run
    scripts/render-sim-graph after changing nixos/units/)."""
    nix_instantiate()
    fresh = eval_json(f"import {REPO}/nixos/lib/sim-graph.nix")
    checked_in = json.loads((REPO / "simulator" / "unit-graph.json").read_text(encoding="utf-8"))
    assert fresh == checked_in


def test_simulated_dubnium_units_are_the_graphs() -> None:
    """With vLLM, EXO and k3s on, every Dubnium unit the simulator builds has the graph's
    dependencies, slice and flags; its wants include the units that name it in wantedBy.
    References to units the simulated host lacks (network-online.target) and the controller's
    own mode-* units (run in-process, not simulated) are left out, as documented."""
    policy = default_policy()
    policy = attrs.evolve(policy, k3s_enable=True, exo=attrs.evolve(policy.exo, enable=True))
    graph = load_graph()["units"]
    built = {spec.name: spec for spec, _ in default_units(policy)}
    mismatched = []
    for name, unit in graph.items():
        if name.startswith("mode-"):
            continue
        spec = built[name]
        wanted = {w for w, u in graph.items() if name in u["wantedBy"] and w in built}
        wants = {w for w in unit["wants"] if w in built} | wanted
        expected = (wants, set(unit["requires"]), set(unit["conflicts"]), set(unit["partOf"]),
                    unit["slice"], unit["oneshot"], unit["remainAfterExit"], unit["allowIsolate"])
        actual = (set(spec.wants), set(spec.requires), set(spec.conflicts), set(spec.part_of),
                  spec.slice, spec.oneshot, spec.remain_after_exit, spec.allow_isolate)
        known_after = {a for a in unit["after"] if a in built}
        if expected != actual or known_after != set(spec.after):
            mismatched.append(name)
    assert [] == mismatched


def test_the_base_target_wants_what_the_graph_puts_under_it() -> None:
    """k3s.service's wantedBy = [ multi-user.target ] reaches NixOS's base target."""
    policy = attrs.evolve(default_policy(), k3s_enable=True)
    built = {spec.name: spec for spec, _ in default_units(policy)}
    assert True is ("k3s.service" in built["multi-user.target"].wants)
