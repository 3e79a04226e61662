"""The world's JSON form, determinism, and the world file on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dubnium.errors import BackendError, BackendUnavailable, StateCorrupt
from dubnium.facts import VllmProfile
from simulator import worldjson
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.backend import SimBackend
from simulator.persist import WORLD_FILE, SimSession, WorldFile
from simulator.world import World, WorldError


def busy_world(seed: int) -> World:
    """A world mid-flight: jobs running, a session closing, GPU releases pending."""
    world = World.create(seed=seed)
    b = SimBackend(world)
    world.start_audio_stream("firefox")
    world.add_user_job("cargo", runtime_s=42)
    world.set_gpu_release(0, "delayed", delay_s=7)
    uuids = tuple(g.spec.uuid for g in world.gpus.values())
    b.write_vllm_profile(VllmProfile("compute", uuids, (0, 1)))
    b.isolate("compute.target")
    world.advance(1.3)
    return world


def test_round_trip_gives_identical_json() -> None:
    """from_json(to_json(w)).to_json() == to_json(w), pending events included."""
    world = busy_world(11)
    data = json.loads(json.dumps(worldjson.dump(world)))
    assert data["events"], "the world should be mid-flight"
    assert data == worldjson.dump(worldjson.load(data))


def test_a_restored_world_continues_exactly_like_the_original() -> None:
    """Save mid-flight, restore, run both on: the same world (rng, events, pids, memory)."""
    original = busy_world(11)
    restored = worldjson.load(json.loads(json.dumps(worldjson.dump(original))))
    for w in (original, restored):
        w.advance(30)
        SimBackend(w).isolate("desktop.target")
        w.advance(30)
    assert worldjson.dump(original) == worldjson.dump(restored)


def test_same_seed_and_same_calls_give_identical_worlds() -> None:
    """Determinism: two runs of the same script with one seed serialise identically."""
    assert worldjson.dump(busy_world(5)) == worldjson.dump(busy_world(5))


def test_different_seeds_give_different_hardware_ids() -> None:
    """GPU UUIDs and the boot id come from the seed."""
    a, b = World.create(seed=1), World.create(seed=2)
    assert a.gpus[0].spec.uuid != b.gpus[0].spec.uuid
    assert a.boot_id != b.boot_id


def test_world_file_save_and_load(tmp_path: Path) -> None:
    """WorldFile round-trips a world and leaves no temporary file behind."""
    file = WorldFile(tmp_path / "state")
    world = busy_world(3)
    file.save(world)
    assert [WORLD_FILE] == sorted(p.name for p in file.state_dir.iterdir())
    assert worldjson.dump(world) == worldjson.dump(file.load())


def test_a_missing_world_is_backend_unavailable(tmp_path: Path) -> None:
    """No world file: BackendUnavailable telling the user to run mode-sim create."""
    with pytest.raises(BackendUnavailable, match="run mode-sim create"):
        WorldFile(tmp_path).load()


def _corrupt_texts() -> dict[str, str]:
    good = worldjson.dump(World.create(seed=1))
    text = json.dumps(good)

    def edited(**changes: Any) -> str:
        return json.dumps({**good, **changes})

    return {
        "truncated": text[: len(text) // 2],
        "garbage": "\x00\x01not json at all",
        "empty": "",
        "not an object": "[1, 2, 3]",
        "wrong kind": edited(kind="something-else"),
        "wrong schema": edited(schema_version=99),
        "missing key": json.dumps({k: v for k, v in good.items() if k != "systemd"}),
        "wrong type": edited(seed="eleven"),
        "bad policy": edited(policy={"schema_version": 1, "nonsense": True}),
        "bad event": edited(events=[[0, 0, "no-such-event", {}]]),
        "bad unit spec": edited(systemd={**good["systemd"], "units": [{"spec": 3}]}),
    }


@pytest.mark.parametrize("case", sorted(_corrupt_texts()))
def test_a_corrupt_world_file_is_state_corrupt_naming_the_file(tmp_path: Path,
                                                               case: str) -> None:
    """Truncated, garbage or wrong-schema files: StateCorrupt, one line, naming the file."""
    (tmp_path / WORLD_FILE).write_text(_corrupt_texts()[case], encoding="utf-8")
    with pytest.raises(StateCorrupt) as caught:
        WorldFile(tmp_path).load()
    message = str(caught.value)
    assert (True, 1) == (str(tmp_path / WORLD_FILE) in message, len(message.splitlines()))


def test_a_session_reloads_a_world_saved_by_someone_else(tmp_path: Path) -> None:
    """SimSession.fresh(): if another process saved the world, the session reloads it."""
    file = WorldFile(tmp_path)
    file.save(World.create(seed=1))
    session = SimSession.open(tmp_path)
    other = file.load()
    other.start_reaper()
    file.save(other)
    with session.fresh(save=True) as sim:
        comms = sorted(p.comm for p in session.world.processes.procs.values())
        assert sim.world is session.world
        session.world.advance(1)
    assert (["Hyprland", "reaper"], session.world.now_ns) == (comms, file.load().now_ns)


def test_the_backend_writes_the_world_through(tmp_path: Path) -> None:
    """An action and a sleep through the session's backend are in the saved world at once,
    and a change saved by another process is seen by the next observation."""
    file = WorldFile(tmp_path)
    file.save(World.create(seed=1))
    session = SimSession.open(tmp_path)
    backend = session.backend
    t0 = file.load().now_ns
    backend.stop_unit("display-manager.service")
    backend.clock.sleep(5)
    saved = file.load()
    other = file.load()
    other.start_reaper()
    file.save(other)
    facts = backend.observe()
    assert ("inactive", t0 + 5_000_000_000, True) == (
        saved.systemd.units["display-manager.service"].active.value, saved.now_ns,
        any(p.comm == "reaper" for p in facts.processes))


_OPS = st.sampled_from([
    "audio", "jack", "reaper", "job", "tty", "terminate", "compute", "desktop", "studio",
    "vllm", "stop_dm", "release", "advance", "reboot", "fault",
])


@settings(max_examples=25)
@given(ops=st.lists(st.tuples(_OPS, st.integers(0, 3)), max_size=25), seed=st.integers(0, 50))
def test_any_sequence_keeps_gpus_sane_and_round_trips(ops: list[tuple[str, int]],
                                                       seed: int) -> None:
    """After any sequence of world and backend calls: GPUs within bounds, JSON round-trips."""
    world = World.create(seed=seed)
    b = SimBackend(world)
    uuids = tuple(g.spec.uuid for g in world.gpus.values())
    for op, n in ops:
        try:
            if op == "audio":
                world.start_audio_stream(f"app{n}")
            elif op == "jack":
                world.start_jack_client(f"jack{n}")
            elif op == "reaper":
                world.start_reaper()
            elif op == "job":
                world.add_user_job("cargo", runtime_s=n * 300)
            elif op == "tty":
                world.add_session("wayland" if n else "tty")
            elif op == "terminate":
                b.terminate_session(str(n + 1))
            elif op == "compute":
                b.isolate("compute.target")
            elif op == "desktop":
                b.isolate("desktop.target")
            elif op == "studio":
                b.start_unit("studio-local-policy.service")
            elif op == "vllm":
                b.write_vllm_profile(VllmProfile("compute", uuids[: n % 2 + 1]))
            elif op == "stop_dm":
                b.stop_unit("display-manager.service")
            elif op == "release":
                world.set_gpu_release(0, ["immediate", "delayed", "partial", "never"][n],
                                      delay_s=3, residual_mib=200)
            elif op == "advance":
                world.advance(n * 7.5)
            elif op == "reboot":
                world.reboot()
            elif op == "fault":
                world.inject_action_fault(ActionFault("isolate", FaultEffect.TIMEOUT))
        except (WorldError, BackendError):
            pass
        for g in world.gpus.values():
            assert 0 <= g.used_mib <= g.spec.total_mib
        data = json.loads(json.dumps(worldjson.dump(world)))
        assert data == worldjson.dump(worldjson.load(data))
