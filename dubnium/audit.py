"""The append-only audit log: one JSON object a line, one record per transition attempt.

`FileAuditLog` appends with O_APPEND and fsyncs each record; a line is written whole or not
at all (a short write is cut back, and reported as `StorageError`), and nothing earlier is
ever truncated or rewritten. A torn last line (a controller killed mid-write) is kept as it
is and the next record starts on a new line, so every earlier line survives.
`MemoryAuditLog` keeps lines in a list for in-process campaigns. Written by the reconciler;
read by `mode history`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from dubnium import fsutil, strictjson
from dubnium.backend import StateCorrupt, StorageError

SCHEMA_VERSION = 1
LINE_LIMIT = 1024 * 1024  # a longer line is kept as damaged, not parsed


@attrs.frozen
class AuditEntry:
    """One line of the log: the record, or the raw text of a line that does not parse."""

    line_no: int
    record: Mapping[str, Any] | None
    raw: str

    @property
    def damaged(self) -> bool:
        return self.record is None


class AuditLog(Protocol):
    def append(self, record: Mapping[str, Any]) -> None: ...

    def entries(self) -> Iterator[AuditEntry]: ...


def encode(record: Mapping[str, Any]) -> str:
    return json.dumps({"schema_version": SCHEMA_VERSION, **record}, sort_keys=True)


def _entry(line_no: int, line: str | bytes) -> AuditEntry:
    raw = line if isinstance(line, str) else line.decode("utf-8", "replace")
    try:
        value = strictjson.loads(line, max_bytes=LINE_LIMIT)
    except ValueError:
        return AuditEntry(line_no, None, raw)
    return AuditEntry(line_no, value if isinstance(value, dict) else None, raw)


class FileAuditLog:
    """The log on disk: `path` 0644 in a 0755 directory (it holds no secrets, and the read
    verbs `mode history` and `mode doctor` are open to every user); appends are serialised
    by `<path>.lock`, a 0600 file only the writer (root) can open, so no other user can
    delay or interleave them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one line, whole or not at all; StorageError when it cannot be written."""
        line = (encode(record) + "\n").encode()
        try:
            fsutil.ensure_dir(self.path.parent)
            lock_fd = fsutil.open_regular(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open audit log {self.path}: {_why(exc)}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            self._append_locked(line)
        finally:
            os.close(lock_fd)

    def _append_locked(self, line: bytes) -> None:
        try:
            fd = self._open_for_append()
        except OSError as exc:
            raise StorageError(f"cannot open audit log {self.path}: {_why(exc)}") from None
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # keep a torn last line intact, start a fresh one
            try:
                fsutil.write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                # Whole or nothing: cut what part of the line was written (the writers are
                # serialised, so the bytes after `size` are this line's alone).
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                    os.fsync(fd)
                raise StorageError(
                    f"cannot append to audit log {self.path}: {_why(exc)}") from None
        finally:
            os.close(fd)

    def _open_for_append(self) -> int:
        flags = os.O_RDWR | os.O_APPEND
        try:
            fd = fsutil.open_regular(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return fsutil.open_regular(self.path, flags)
        os.fchmod(fd, 0o644)  # explicit, whatever the umask
        return fd

    def entries(self) -> Iterator[AuditEntry]:
        try:
            fd = fsutil.open_regular(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateCorrupt(f"cannot read audit log {self.path}: {_why(exc)}") from None
        with os.fdopen(fd, "rb") as f:
            for number, line in enumerate(f, start=1):
                text = line.rstrip(b"\n")
                if text:
                    yield _entry(number, text)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class MemoryAuditLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def append(self, record: Mapping[str, Any]) -> None:
        self.lines.append(encode(record))

    def entries(self) -> Iterator[AuditEntry]:
        for number, line in enumerate(self.lines, start=1):
            yield _entry(number, line)
