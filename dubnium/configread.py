"""Strict checks for the config's values: one function per kind of value, each naming the key.

Called by `dubnium.policy` (the loader of /etc/dubnium/config.json). Every number is finite
and within a documented range (a timeout of 0, NaN or 1e308 is refused before it can switch
a guard off or overflow in the middle of a transition), strings carry no control characters
(an `extra_args` with a newline would add a line to vLLM's EnvironmentFile), unit names follow
systemd's rules, paths are absolute, and lists are bounded.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from dubnium.errors import ConfigError

T = TypeVar("T")

MAX_LIST = 256
MAX_STRING = 4096
MAX_MIB = 1 << 30  # 1 PiB in MiB: more than any GPU, RAM or disk this runs on
MAX_SECONDS = 7 * 86400.0  # a week: no bound or interval of ours is longer

# systemd.unit(5): a name is at most 255 characters of [A-Za-z0-9:_.\\-] (plus one "@" for a
# template instance) followed by a unit type suffix.
UNIT_SUFFIXES = ("service", "socket", "device", "mount", "automount", "swap", "target", "path",
                 "timer", "slice", "scope")
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(" + "|".join(UNIT_SUFFIXES)
                        + r")")


Check = Callable[[object, str], T]


class Reader:
    """Walks one JSON object, recording which keys were consumed, for precise errors."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where or 'top level'}: expected an object, got {kind(data)}")
        self.data: dict[str, Any] = data
        self.where = where
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted path to `name`; a name with control characters shown JSON-quoted, so
        every message stays one line."""
        shown = name if name.isprintable() else json.dumps(name)
        return f"{self.where}.{shown}" if self.where else shown

    def get(self, name: str, check: Check[T], default: T) -> T:
        self.seen.add(name)
        if name not in self.data:
            return default
        return check(self.data[name], self.key(name))

    def section(self, name: str) -> Reader:
        self.seen.add(name)
        return Reader(self.data.get(name, {}), self.key(name))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0][:60])}: unknown key (known here: "
                              f"{', '.join(sorted(self.seen))})")


def kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "an object", type(None): "null"}
    try:
        shown = json.dumps(value)[:40]
    except (ValueError, TypeError):
        shown = repr(value)[:40]
    return f"{names.get(type(value), type(value).__name__)} ({shown})"


def boolean(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {kind(value)}")
    return value


def integer(minimum: int = 0, maximum: int = MAX_MIB) -> Check[int]:
    def check(value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {kind(value)}")
        if not minimum <= value <= maximum:
            raise ConfigError(f"{key}: expected an integer from {minimum} to {maximum}, "
                              f"got {kind(value)}")
        return value

    return check


def number(minimum: float = 0.0, maximum: float = MAX_SECONDS, *,
           positive: bool = False) -> Check[float]:
    """A finite number in [minimum, maximum]; with `positive`, above 0 (a bound, an interval)."""
    low = "above 0" if positive else f"from {minimum:g}"

    def check(value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value}")
        if value < minimum or value > maximum or (positive and value <= 0):
            raise ConfigError(f"{key}: expected a number {low} to {maximum:g}, "
                              f"got {kind(value)}")
        return float(value)

    return check


def string(value: object, key: str) -> str:
    """A non-empty string of printable characters (no newline, no NUL), bounded."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty string, got {kind(value)}")
    if len(value) > MAX_STRING:
        raise ConfigError(f"{key}: longer than {MAX_STRING} characters ({len(value)})")
    if not value.isprintable():
        raise ConfigError(f"{key}: control characters (newline, NUL, ...) are not allowed, "
                          f"got {kind(value)}")
    return value


def choice(*choices: str) -> Check[str]:
    def check(value: object, key: str) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {kind(value)}")
        return value

    return check


def list_of(item: Check[T], maximum: int = MAX_LIST) -> Check[tuple[T, ...]]:
    def check(value: object, key: str) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected an array, got {kind(value)}")
        if len(value) > maximum:
            raise ConfigError(f"{key}: more than {maximum} items ({len(value)})")
        return tuple(item(v, f"{key}[{i}]") for i, v in enumerate(value))

    return check


def optional_int(minimum: int, maximum: int = MAX_MIB) -> Check[int | None]:
    def check(value: object, key: str) -> int | None:
        return None if value is None else integer(minimum, maximum)(value, key)

    return check


def absolute_path(value: object, key: str) -> str:
    text = string(value, key)
    if not text.startswith("/"):
        raise ConfigError(f"{key}: expected an absolute path, got {kind(value)}")
    return text


def unit_name(*suffixes: str) -> Check[str]:
    """A systemd unit name (systemd.unit(5)), of one of `suffixes` when given."""
    def check(value: object, key: str) -> str:
        text = string(value, key)
        if len(text) > 255 or not _UNIT_NAME.fullmatch(text):
            raise ConfigError(f"{key}: not a systemd unit name (letters, digits, ':', '_', "
                              f"'.', '-', '\\\\', one '@', and a type suffix), got {kind(value)}")
        if suffixes and not text.endswith(tuple(f".{s}" for s in suffixes)):
            raise ConfigError(f"{key}: expected a .{' or .'.join(suffixes)} unit, "
                              f"got {kind(value)}")
        return text

    return check
