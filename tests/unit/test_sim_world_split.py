"""The world split's promises: one policy, one way to a backend, no world<->backend cycle,
and the fault vllm_oom as a world knob rather than a second policy."""

from __future__ import annotations

import json
import subprocess
import sys

import attrs
import pytest

from dubnium.facts import VllmProfile
from simulator import worldjson
from simulator.backend import SimBackend
from simulator.faults import Fault, FaultKind, Triggers, heal, inject
from simulator.harness import Station
from simulator.systemd import UnitBehaviour
from simulator.world import WorldError


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


def test_the_reading_api_answers_from_the_world() -> None:
    """The world's reading API: sessions, unit behaviour and state, slices, GPUs, notices."""
    station = Station.create(seed=4)
    world, names = station.world, station.policy.units
    world.set_unit_behaviour(names.vllm, UnitBehaviour(start_s=2.0, start_fails=True))
    station.backend.notify_user("hello", "")
    station.backend.console_message("on the console")
    assert (["1"], True, True, False, ["hello"], ["on the console"]) == (
        world.session_ids(), world.unit_behaviour(names.vllm).start_fails,
        world.unit_is_up(names.display_manager), world.compute_on_gpu(1),
        world.notices(), world.notices(console=True))
    assert (set(world.slice_settings()) >= {"ai.slice"}, sorted(world.gpu_uuids())) == (
        True, [0, 1])


def test_vllm_running_holds_compute_memory_on_its_gpus() -> None:
    """compute_on_gpu is true on each GPU of vLLM's profile once it has loaded."""
    station = Station.create(seed=4)
    world, backend = station.world, station.backend
    backend.write_vllm_profile(VllmProfile("compute", (world.gpu_uuids()[1],), (1,)))
    backend.start_unit(station.policy.units.vllm)
    world.advance(120)
    assert (False, True) == (world.compute_on_gpu(0), world.compute_on_gpu(1))


def test_reading_an_unknown_unit_or_gpu_is_a_world_error() -> None:
    """unit_behaviour and compute_on_gpu name what does not exist."""
    world = Station.create(seed=4).world
    with pytest.raises(WorldError, match=r"no unit 'nope\.service'"):
        world.unit_behaviour("nope.service")
    with pytest.raises(WorldError, match="no GPU 7"):
        world.compute_on_gpu(7)
