"""The append-only audit log: one JSON object a line, one record per transition attempt.

`FileAuditLog` appends with O_APPEND and fsyncs each record; it never truncates or rewrites.
A torn last line (a controller killed mid-write) is kept as it is and the next record starts
on a new line, so every earlier line survives. `MemoryAuditLog` keeps lines in a list for
in-process campaigns. Written by the reconciler; read by `mode history`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from dubnium.backend import DubniumError

SCHEMA_VERSION = 1


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


def _entry(line_no: int, line: str) -> AuditEntry:
    try:
        value = json.loads(line)
    except ValueError:
        return AuditEntry(line_no, None, line)
    return AuditEntry(line_no, value if isinstance(value, dict) else None, line)


class FileAuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, Any]) -> None:
        line = encode(record) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DubniumError(f"cannot open audit log {self.path}: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size and not self._ends_with_newline(size):
                line = "\n" + line  # keep a torn last line intact, start a fresh one
            os.write(fd, line.encode())
            os.fsync(fd)
        except OSError as exc:
            raise DubniumError(f"cannot append to audit log {self.path}: {exc.strerror}") from None
        finally:
            os.close(fd)

    def _ends_with_newline(self, size: int) -> bool:
        with self.path.open("rb") as f:
            f.seek(size - 1)
            return f.read(1) == b"\n"

    def entries(self) -> Iterator[AuditEntry]:
        try:
            f = self.path.open("r", encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise DubniumError(f"cannot read audit log {self.path}: {exc.strerror}") from None
        with f:
            for number, line in enumerate(f, start=1):
                text = line.rstrip("\n")
                if text:
                    yield _entry(number, text)


class MemoryAuditLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def append(self, record: Mapping[str, Any]) -> None:
        self.lines.append(encode(record))

    def entries(self) -> Iterator[AuditEntry]:
        for number, line in enumerate(self.lines, start=1):
            yield _entry(number, line)
