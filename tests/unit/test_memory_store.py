"""The in-memory runtime state reads and writes what a directory would hold (issue 16's
shortcuts: our own encoder's bytes read without the strict guards, the journal made only
when read)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from dubnium.errors import StateCorrupt
from dubnium.state import DirectoryStore, MemoryStore, RuntimeState

DOC = {"outcome": "converged", "steps": [{"at": "t", "elapsed_s": 0.125}], "n": 3,
       "nested": {"b": [1, 2.5, None, True], "a": "x"}}


def test_memory_files_hold_the_bytes_a_directory_holds(tmp_path: Path) -> None:
    """write_json, and write_json_later once read, leave the directory's very bytes."""
    memory = MemoryStore()
    RuntimeState(memory).write_json("a.json", DOC)
    RuntimeState(memory).write_json_later("b.json", lambda: DOC)
    RuntimeState(DirectoryStore(tmp_path)).write_json("a.json", DOC)
    on_disk = (tmp_path / "a.json").read_bytes()
    assert (on_disk, on_disk) == (memory.files["a.json"], memory.files["b.json"])


def test_memory_reads_equal_strict_reads(tmp_path: Path) -> None:
    """What the memory store reads back equals what the strict reader reads from disk."""
    memory = RuntimeState(MemoryStore())
    disk = RuntimeState(DirectoryStore(tmp_path))
    for state in (memory, disk):
        state.write_json("a.json", DOC)
        state.write_json_later("b.json", lambda: DOC)
    assert (disk.read_json("a.json"), disk.read_json("b.json")) == (
        memory.read_json("a.json"), memory.read_json("b.json"))


def test_a_later_file_is_made_only_when_read() -> None:
    """The journal's JSON is not built until someone reads the file."""
    calls: list[int] = []

    def make() -> dict[str, Any]:
        calls.append(1)
        return DOC

    state = RuntimeState(MemoryStore())
    state.write_json_later("journal.json", make)
    before = len(calls)
    state.read_json("journal.json")
    assert (0, 1) == (before, len(calls))


@pytest.mark.parametrize("later", [False, True])
def test_a_non_finite_number_is_refused_when_read_as_on_disk(later: bool) -> None:
    """NaN is written as the encoder writes it, and the read names the file as corrupt."""
    state = RuntimeState(MemoryStore())
    bad = {"x": math.nan}
    if later:
        state.write_json_later("a.json", lambda: bad)
    else:
        state.write_json("a.json", bad)
    with pytest.raises(StateCorrupt, match=r"a\.json: truncated or not JSON"):
        state.read_json("a.json")


def test_bytes_put_in_directly_are_read_strictly() -> None:
    """A file replaced behind the writer's back (an injected corruption) is parsed strictly."""
    store = MemoryStore()
    state = RuntimeState(store)
    state.write_json("a.json", DOC)
    store.files["a.json"] = b'{"schema_version": 1, "a": 1, "a": 2}'
    with pytest.raises(StateCorrupt, match="duplicate key"):
        state.read_json("a.json")


def test_a_later_file_removed_unread_is_never_made() -> None:
    """Removing the journal (every attempt's commit) does not build the JSON it was spared."""
    calls: list[int] = []

    def make() -> dict[str, Any]:
        calls.append(1)
        return DOC

    store = MemoryStore()
    RuntimeState(store).write_json_later("journal.json", make)
    store.remove("journal.json")
    assert ([], False) == (calls, "journal.json" in store.files)


def test_the_kept_document_is_what_the_bytes_encode_until_they_are_replaced() -> None:
    """`document` gives the written mapping (the bytes parse to it with schema_version);
    after bytes put in another way, or a removal, it gives none."""
    store = MemoryStore()
    state = RuntimeState(store)
    state.write_json("a.json", DOC)
    kept = store.document("a.json")
    parsed = state.read_json("a.json")
    store.files["a.json"] = b'{"schema_version": 1, "outcome": "failed-transition"}'
    replaced = store.document("a.json")
    state.write_json("b.json", DOC)
    store.remove("b.json")
    assert (True, {"schema_version": 1, **DOC}, None, None) == (
        kept is DOC, parsed, replaced, store.document("b.json"))


def test_the_lock_record_read_from_the_kept_mapping_equals_the_parsed_one() -> None:
    """lock_held answers alike from the kept holder record and from its bytes parsed."""
    from dubnium.state import LOCK, LockHolder, _parse_holder

    store = MemoryStore()
    store.acquire(LockHolder(4100, "", "2026-01-01T00:00:00.000Z", "compute", "4100-1-1"))
    held = store.lock_held()
    assert (_parse_holder(store.files[LOCK]), False) == (held, held is store.document(LOCK))
