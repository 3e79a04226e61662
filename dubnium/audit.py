"""The append-only audit log: one JSON object a line, one record per transition attempt.

`FileAuditLog` appends with O_APPEND and fsyncs each record; a line is written whole or not
at all (a short write is cut back, and reported as `StorageError`), and nothing earlier is
ever truncated or rewritten. A torn last line (a controller killed mid-write) is kept as it
is and the next record starts on a new line, so every earlier line survives.

Rotation is by size and is a rename: when the live file (`events.jsonl`) would grow past
`rotate_bytes`, it becomes the next numbered segment (`events.jsonl.1`, `.2`, ... in the
order they were written; nothing is copied, truncated or deleted, so no line is lost), and
the new live file starts with a `rotation` record naming that segment and its line and byte
counts. Readers never lock: `newest_first`/`tail` read from the end of the newest segment
backwards (time and memory in the number of lines returned, not the log's size) and
`entries` reads every segment oldest first. `MemoryAuditLog` keeps lines in a list for
in-process campaigns. Written by the reconciler; read by `mode history`, `mode doctor`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import attrs

from dubnium import fsutil, strictjson
from dubnium.errors import StateCorrupt, StorageError

SCHEMA_VERSION = 1
LINE_LIMIT = 1024 * 1024  # a longer line is kept as damaged, not parsed
ROTATION = "rotation"
DEFAULT_ROTATE_BYTES = 16 << 20
_BLOCK = 64 << 10


@attrs.frozen
class AuditEntry:
    """One line of the log: the record, or the raw text of a line that does not parse.

    `line_no` counts lines within `segment` (0 when read from the end, where it is not
    known); `offset` is the line's byte offset in its segment.
    """

    line_no: int
    record: Mapping[str, Any] | None
    raw: str
    segment: str = ""
    offset: int = -1

    @property
    def damaged(self) -> bool:
        return self.record is None

    @property
    def where(self) -> str:
        if self.line_no:
            return f"{self.segment} line {self.line_no}" if self.segment else f"line {self.line_no}"
        return f"{self.segment} byte {self.offset}"

    def finished_at(self) -> str | None:
        """When the attempt ended: the record's time, if any."""
        if self.record is None:
            return None
        value = self.record.get("finished_at")
        return value if isinstance(value, str) else None


class AuditLog(Protocol):
    def append(self, record: Mapping[str, Any]) -> None: ...

    def entries(self) -> Iterator[AuditEntry]:
        """Every line, oldest first."""
        ...

    def newest_first(self) -> Iterator[AuditEntry]:
        """Every line, newest first, read from the end (`mode history`)."""
        ...

    def tail(self, limit: int, since: str | None = None) -> list[AuditEntry]:
        """The last `limit` records (oldest first; rotation records among them are shown
        and not counted), stopping at the first record that finished before `since` (an
        RFC 3339 prefix, compared as text)."""
        ...


def encode(record: Mapping[str, Any]) -> str:
    return json.dumps({"schema_version": SCHEMA_VERSION, **record}, sort_keys=True)


def _entry(line_no: int, line: str | bytes, segment: str = "", offset: int = -1) -> AuditEntry:
    raw = line if isinstance(line, str) else line.decode("utf-8", "replace")
    try:
        value = strictjson.loads(line, max_bytes=LINE_LIMIT)
    except ValueError:
        return AuditEntry(line_no, None, raw, segment, offset)
    record = value if isinstance(value, dict) else None
    return AuditEntry(line_no, record, raw, segment, offset)


def _take(entries: Iterator[AuditEntry], limit: int, since: str | None) -> list[AuditEntry]:
    """Newest-first `entries` cut at `limit` or at the first one older than `since`."""
    out: list[AuditEntry] = []
    counted = 0
    for entry in entries:
        if counted >= limit:
            break
        if entry.record is not None and entry.record.get("kind") == ROTATION:
            out.append(entry)  # shown where it happened; not one of the `limit` records
            continue
        when = entry.finished_at()
        if since is not None and when is not None and when < since:
            break
        out.append(entry)
        counted += 1
    out.reverse()
    return out


def reversed_lines(path: Path, block: int = _BLOCK) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of each non-empty line of `path`, last first, reading blocks backwards.

    Memory is one block plus the longest line; a torn last line (no newline) is a line.
    """
    with os.fdopen(fsutil.open_regular(path, os.O_RDONLY), "rb") as f:
        end = f.seek(0, os.SEEK_END)
        carry = b""
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start) + carry
            lines = chunk.split(b"\n")
            carry = lines[0]  # maybe the tail of a line that starts in an earlier block
            position = start + len(chunk)
            for line in reversed(lines[1:]):
                position -= len(line) + 1
                if line:
                    yield position + 1, line
            end = start
        if carry:
            yield 0, carry


class FileAuditLog:
    """The log on disk: `path` 0644 in a 0755 directory (it holds no secrets, and the read
    verbs `mode history` and `mode doctor` are open to every user); appends are serialised
    by `<path>.lock`, a 0600 file only the writer (root) can open, so no other user can
    delay or interleave them."""

    def __init__(self, path: Path, rotate_bytes: int = DEFAULT_ROTATE_BYTES) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.tally_path = path.with_name(path.name + ".tally")  # dubnium.tally's checkpoint
        self.rotate_bytes = rotate_bytes

    def segments(self) -> list[Path]:
        """The rotated segments in the order they were written, then the live file."""
        prefix = self.path.name + "."
        numbered: list[tuple[int, Path]] = []
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.path.parent):
                suffix = name[len(prefix):] if name.startswith(prefix) else ""
                if suffix.isdigit() and suffix == str(int(suffix)):
                    numbered.append((int(suffix), self.path.parent / name))
        return [p for _, p in sorted(numbered)] + [self.path]

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
            size = os.fstat(fd).st_size
            if size and size + len(line) > self.rotate_bytes:
                os.close(fd)
                self._rotate()
                fd = self._open_for_append()
                size = os.fstat(fd).st_size
        except OSError as exc:
            raise StorageError(f"cannot open audit log {self.path}: {_why(exc)}") from None
        try:
            if size == 0:
                line = self._rotation_record() + line
            elif os.pread(fd, 1, size - 1) != b"\n":
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

    def _rotate(self) -> None:
        """The live file becomes the next segment: one rename, under the writers' lock."""
        rotated = self.segments()[:-1]
        last = int(rotated[-1].name.rsplit(".", 1)[1]) if rotated else 0
        os.rename(self.path, self.path.with_name(f"{self.path.name}.{last + 1}"))
        fsutil.fsync_dir(self.path.parent)

    def _rotation_record(self) -> bytes:
        """A fresh live file after a rotation begins by saying where the rest went."""
        rotated = self.segments()[:-1]
        if not rotated:
            return b""
        newest = rotated[-1]
        lines = size = 0
        try:
            with os.fdopen(fsutil.open_regular(newest, os.O_RDONLY), "rb") as f:
                while chunk := f.read(1 << 20):
                    lines += chunk.count(b"\n")
                    size += len(chunk)
        except OSError:
            return b""
        return (encode({"kind": ROTATION, "rotated_to": newest.name, "segment_lines": lines,
                        "segment_bytes": size, "segments": len(rotated)}) + "\n").encode()

    def _open_for_append(self) -> int:
        flags = os.O_RDWR | os.O_APPEND
        try:
            fd = fsutil.open_regular(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return fsutil.open_regular(self.path, flags)
        os.fchmod(fd, 0o644)  # explicit, whatever the umask
        return fd

    def entries(self) -> Iterator[AuditEntry]:
        for segment in self.segments():
            yield from self._segment_entries(segment)

    def _segment_entries(self, path: Path) -> Iterator[AuditEntry]:
        f = _open_segment(path)
        if f is None:
            return
        with f:
            offset = 0
            for number, line in enumerate(f, start=1):
                text = line.rstrip(b"\n")
                if text:
                    yield _entry(number, text, path.name, offset)
                offset += len(line)

    def complete_entries(self, segment: Path, start: int) -> Iterator[tuple[AuditEntry, int]]:
        """The entries of `segment`'s complete (newline-ended) lines from byte `start` on,
        each with the offset just after it; a missing segment has none (`dubnium.tally`)."""
        f = _open_segment(segment)
        if f is None:
            return
        with f:
            f.seek(start)
            offset = start
            for line in f:
                if not line.endswith(b"\n"):
                    return  # still being written
                if len(line) > 1:
                    yield _entry(0, line[:-1], segment.name, offset), offset + len(line)
                offset += len(line)

    def newest_first(self) -> Iterator[AuditEntry]:
        for segment in reversed(self.segments()):
            try:
                for offset, line in reversed_lines(segment):
                    yield _entry(0, line, segment.name, offset)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StateCorrupt(f"cannot read audit log {segment}: {_why(exc)}") from None

    def tail(self, limit: int, since: str | None = None) -> list[AuditEntry]:
        return _take(self.newest_first(), limit, since)


def _open_segment(path: Path) -> BinaryIO | None:
    """A segment open for reading (a regular file, never through a link); None when it is
    gone (rotated away or never written); StateCorrupt when it cannot be read."""
    try:
        fd = fsutil.open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateCorrupt(f"cannot read audit log {path}: {_why(exc)}") from None
    return os.fdopen(fd, "rb")


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

    def newest_first(self) -> Iterator[AuditEntry]:
        for number in range(len(self.lines), 0, -1):
            yield _entry(number, self.lines[number - 1])

    def tail(self, limit: int, since: str | None = None) -> list[AuditEntry]:
        return _take(self.newest_first(), limit, since)
