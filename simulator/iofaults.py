"""I/O faults as data: a simulated disk under the controller's runtime state and audit log.

Used by `simulator.campaign` (each run's store and audit log sit on one `SimDisk`) and by
`simulator.faults` (the `storage_fault` kind calls `inject`; `heal` calls `heal`). The disk can
be nearly full (`free_bytes`), fail the next writes or fsyncs with EIO, or be read-only.

Writes go through the same `dubnium.fsutil.write_all` loop as on a real disk, with this
disk's `write` (short writes, then ENOSPC or EIO), then an fsync, then the length check, then
the rename: exactly `atomic_write`'s order. A failure raises `StorageError` and leaves the old
bytes in place; an audit append that fails appends nothing. The invariants
(`simulator.invariants`) then check what the controller claims: no success record without
its `last-transition.json` durable, no short file in place (every state file parses), and no
earlier audit line ever lost.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dubnium import audit, fsutil, state
from dubnium.errors import StorageError
from dubnium.state import MemoryStore
from simulator.harness import Station
from simulator.invariants import LAST_TRANSITION, CheckedAuditLog, CheckedStore

CHUNK = 4096  # the most one simulated write() takes: larger writes are short
HOWS = ("full", "eio_write", "eio_fsync", "read_only")


def _error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@attrs.define
class SimDisk:
    """What the disk under the state directory and the audit log does now."""

    free_bytes: int | None = None  # None: plenty of room
    eio_writes: int = 0  # the next N file writes fail with EIO half-way
    eio_fsyncs: int = 0  # the next N fsyncs fail with EIO
    read_only: bool = False
    failures: int = 0  # writes refused so far (for the campaign's figures)

    def write_file(self, data: bytes, replaces: int = 0) -> None:
        """Write, fsync and check one file's bytes (a temp file, or an appended line);
        OSError as the kernel would raise it. `replaces`: the bytes a rename frees."""
        if self.healthy:
            return  # every byte is taken: nothing to simulate
        try:
            self._write(data, replaces)
        except OSError:
            self.failures += 1
            raise

    @property
    def healthy(self) -> bool:
        """Room for anything, no failure armed, writable."""
        return self.free_bytes is None and not (self.eio_writes or self.eio_fsyncs or
                                                self.read_only)

    def _write(self, data: bytes, replaces: int) -> None:
        if self.read_only:
            raise _error(errno.EROFS)
        written = bytearray()
        fail_half_way = self.eio_writes > 0
        if fail_half_way:
            self.eio_writes -= 1

        def write(_fd: int, view: memoryview) -> int:
            if fail_half_way and len(written) >= len(data) // 2:
                raise _error(errno.EIO)
            room = len(view) if self.free_bytes is None else self.free_bytes - len(written)
            if room <= 0:
                raise _error(errno.ENOSPC)
            if fail_half_way:  # stop at the half, so that a small file fails too
                room = min(room, len(data) // 2 - len(written))
            n = min(len(view), CHUNK, room)
            written.extend(view[:n])
            return n

        fsutil.write_all(-1, data, write)
        if self.eio_fsyncs > 0:
            self.eio_fsyncs -= 1
            raise _error(errno.EIO)
        if bytes(written) != data:  # never rename a short file into place
            raise _error(errno.EIO)
        if self.free_bytes is not None:
            self.free_bytes = max(0, self.free_bytes - len(data) + replaces)

    def check_remove(self) -> None:
        if self.read_only:
            raise _error(errno.EROFS)


class FaultyStore(CheckedStore):
    """The runtime state directory on a `SimDisk` (atomic writes: all or nothing)."""

    def __init__(self, disk: SimDisk) -> None:
        super().__init__()
        self.disk = disk

    def write(self, name: str, data: bytes) -> None:
        old = self.files.get(name)
        try:
            self.disk.write_file(data, len(old) if old is not None else 0)
        except OSError as exc:
            raise StorageError(f"cannot write {name}: {exc.strerror}") from None
        super().write(name, data)

    def write_later(self, name: str, encode: Callable[[], tuple[bytes, bool]]) -> None:
        if self.disk.healthy:
            super().write_later(name, encode)  # a healthy disk takes it whenever it is made
            return
        data, ours = encode()  # what this disk does with these bytes matters now
        if ours:
            self.write_encoded(name, data)
        else:
            self.write(name, data)

    def remove(self, name: str) -> None:
        if name in self.files:
            try:
                self.disk.check_remove()
            except OSError as exc:
                raise StorageError(f"cannot remove {name}: {exc.strerror}") from None
        super().remove(name)


class FaultyAuditLog(CheckedAuditLog):
    """The audit log on a `SimDisk`: a line is appended whole or not at all.

    With the runtime state's `store`: a record the state just wrote as
    last-transition.json (the reconciler's commit writes the one record there, then
    here) is not encoded twice: the line is that file's bytes without the newline, the
    same text by construction (one schema version, keys sorted, finite numbers)."""

    def __init__(self, disk: SimDisk, store: MemoryStore | None = None) -> None:
        super().__init__()
        self.disk = disk
        self.store = store

    def append(self, record: Mapping[str, Any]) -> None:
        store = self.store
        if store is not None and store.document(LAST_TRANSITION) is record and \
                audit.SCHEMA_VERSION == state.SCHEMA_VERSION:
            line = store.files[LAST_TRANSITION][:-1].decode()
        else:
            line = audit.encode(record)
        try:
            self.disk.write_file((line + "\n").encode())
        except OSError as exc:
            raise StorageError(f"cannot append to audit log: {exc.strerror}") from None
        self.append_line(line, record)


def disk_of(station: Station) -> SimDisk | None:
    store = station.store
    return store.disk if isinstance(store, FaultyStore) else None


def inject(station: Station, params: Mapping[str, Any]) -> bool:
    """Apply one storage fault; False when the station's store has no simulated disk."""
    disk = disk_of(station)
    if disk is None:
        return False
    how = str(params["how"])
    times = int(params.get("times", 1))
    if how == "full":
        disk.free_bytes = int(params.get("free_bytes", 0))
    elif how == "eio_write":
        disk.eio_writes += times
    elif how == "eio_fsync":
        disk.eio_fsyncs += times
    else:
        disk.read_only = True
    return True


def heal(station: Station) -> None:
    """The disk has room again, writes and fsyncs succeed, the filesystem is writable."""
    disk = disk_of(station)
    if disk is not None:
        disk.free_bytes, disk.eio_writes, disk.eio_fsyncs, disk.read_only = None, 0, 0, False
