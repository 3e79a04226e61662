"""Runtime state: atomic typed files, corrupt files named, the lock and its recovery."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

from dubnium.errors import LockBusy, StateCorrupt
from dubnium.facts import SliceSettings
from dubnium.modes import Mode
from dubnium.state import DirectoryStore, LockHolder, MemoryStore, RuntimeState

HOLDER = LockHolder(4242, "boot-1", "2026-01-01T00:00:00.000Z", "compute", "a-1")


def test_desired_round_trips_with_its_json_twin(tmp_path: Path) -> None:
    """`desired` is plain text for scripts; `desired.json` carries the same, versioned."""
    state = RuntimeState(DirectoryStore(tmp_path))
    state.write_desired(Mode.COMPUTE, "now", "test")
    assert (tmp_path / "desired").read_text() == "compute\n"
    assert json.loads((tmp_path / "desired.json").read_text())["desired"] == "compute"
    assert state.read_desired() is Mode.COMPUTE


@pytest.mark.parametrize("garbage", [b"comp", b"\xff\xfe", b"studio-local-x\n"])
def test_garbage_desired_is_state_corrupt_naming_the_file(tmp_path: Path,
                                                           garbage: bytes) -> None:
    """A truncated or garbage desired file is reported with its path, not guessed."""
    (tmp_path / "desired").write_bytes(garbage)
    with pytest.raises(StateCorrupt, match="desired: expected one of"):
        RuntimeState(DirectoryStore(tmp_path), str(tmp_path)).read_desired()


@pytest.mark.parametrize("content", [b'{"schema_version": 1, "outc', b"[]", b'{"a": 1}'])
def test_truncated_json_state_is_state_corrupt(tmp_path: Path, content: bytes) -> None:
    """A truncated JSON file, or one that is not ours, raises StateCorrupt."""
    (tmp_path / "last-transition.json").write_bytes(content)
    with pytest.raises(StateCorrupt, match=r"last-transition\.json"):
        RuntimeState(DirectoryStore(tmp_path)).last_transition()


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    """Atomic writes rename their temp file into place."""
    state = RuntimeState(DirectoryStore(tmp_path))
    state.write_last_guards({"target": "compute"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last-guards.json"]


def test_second_holder_is_refused_while_the_first_holds(tmp_path: Path) -> None:
    """At most one transition holds the lock; the refusal names the holder."""
    store = DirectoryStore(tmp_path)
    live = attrs.evolve(HOLDER, pid=os.getpid())  # readers check the holder is alive
    lease = store.acquire(live)
    with pytest.raises(LockBusy, match=f"pid {os.getpid()}"):
        DirectoryStore(tmp_path).acquire(HOLDER)
    assert DirectoryStore(tmp_path).lock_held() == live.to_json()
    lease.release()
    assert DirectoryStore(tmp_path).lock_held() is None


def test_a_dead_holders_record_is_recovered(tmp_path: Path) -> None:
    """A lock record left by a dead holder (flock gone) is recovered and reported."""
    (tmp_path / "lock").write_text(json.dumps(HOLDER.to_json()))
    lease = DirectoryStore(tmp_path).acquire(HOLDER)
    assert lease.recovered == HOLDER.to_json()
    lease.release()
    assert not (tmp_path / "lock").exists()


def test_memory_store_recovers_a_killed_holder() -> None:
    """In memory, a holder the harness declares dead is recovered the same way."""
    store = MemoryStore()
    store.acquire(HOLDER)  # never released: the controller was killed
    store.holder_alive = None
    lease = store.acquire(HOLDER)
    assert lease.recovered == HOLDER.to_json()


def test_saved_slices_round_trip() -> None:
    """The values saved on studio entry come back exactly."""
    state = RuntimeState(MemoryStore())
    saved = {"ai.slice": SliceSettings(cpu_weight=77, io_weight=None, memory_high_mib=512)}
    state.save_slices(saved, "now")
    assert state.saved_slices() == saved
