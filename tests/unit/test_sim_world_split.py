"""The world split's promises: one policy, one way to a backend, no world<->backend cycle,
and the fault vllm_oom as a world knob rather than a second policy."""

from __future__ import annotations

import json
import subprocess
import sys

import attrs

from simulator import worldjson
from simulator.backend import SimBackend
from simulator.faults import Fault, FaultKind, Triggers, heal, inject
from simulator.harness import Station


def test_importing_the_world_loads_neither_the_backend_nor_the_serializer() -> None:
    """`import simulator.world` alone pulls in no `simulator.backend` or `worldjson`."""
    probe = ("import sys, simulator.world; print(sorted(m for m in sys.modules if m in "
             "('simulator.backend', 'simulator.worldjson', 'simulator.persist')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "[]" == out.strip()


def test_the_station_policy_is_the_worlds_one_object() -> None:
    """Station.policy is World.policy; World.set_policy changes what both see."""
    station = Station.create(seed=3)
    edited = attrs.evolve(station.policy, thresholds=attrs.evolve(
        station.policy.thresholds, soft=("memory",)))
    station.world.set_policy(edited)
    assert (True, True) == (station.policy is station.world.policy,
                            station.controller().policy is edited)


def test_a_station_backend_is_a_view_of_its_world() -> None:
    """Station.backend is a SimBackend over the station's world (no second copy)."""
    station = Station.create(seed=3)
    backend = station.backend
    assert (SimBackend, True) == (type(backend), backend.world is station.world)


def test_vllm_oom_raises_the_need_and_leaves_the_policy_alone() -> None:
    """The fault vllm_oom sets the world's vLLM need; the one policy is untouched; heal
    drops the need again."""
    station = Station.create(seed=5)
    before = station.policy
    triggers = Triggers(station)
    inject(station, Fault(FaultKind.VLLM_OOM, {"need_mib": 30000}), triggers)
    during = (station.world.vllm_need_mib, station.policy is before)
    heal(station, triggers, {n: u.behaviour for n, u in station.world.systemd.units.items()})
    assert ((30000, True), None) == (during, station.world.vllm_need_mib)


def test_the_vllm_need_round_trips_through_json() -> None:
    """A world under vllm_oom saves its need and loads it back; without it there is no key."""
    station = Station.create(seed=2)
    plain = worldjson.dump(station.world)
    station.world.vllm_need_mib = 30000
    data = json.loads(json.dumps(worldjson.dump(station.world)))
    assert (False, 30000) == ("vllm_need_mib" in plain,
                              worldjson.load(data).vllm_need_mib)
