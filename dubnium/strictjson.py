"""The one JSON reader for everything Dubnium reads from outside: strict and bounded.

Used for the config (`dubnium.policy`), the runtime state files (`dubnium.state`), the audit
log (`dubnium.audit`), the simulated world and fault plans (`simulator.persist`,
`simulator.faults`). Python's `json.loads` accepts what no writer of ours produces and some
inputs it cannot survive: `NaN`/`Infinity` (and `1e400`, read as infinity), duplicate keys
(the last silently wins), any size, and nesting deep enough to raise `RecursionError`. Here
each of these is a `JsonError` (a `ValueError`) whose message says what and where, so the
caller can name the file and exit with its own code (6 for the config, 7 for state).
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate

from dubnium.errors import JsonError

TYPE_CHECKING = False  # typing is not imported at run time (the recorded `mode current`)
if TYPE_CHECKING:
    from typing import Any

MAX_BYTES = 4 * 1024 * 1024  # the largest file read whole (state, config, world, plan)
MAX_DEPTH = 64  # the deepest nesting of arrays/objects any of our documents uses is < 10

_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every other byte: deleted
_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def loads(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON document: UTF-8, finite numbers, unique keys, bounded size and depth."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise JsonError(f"larger than {max_bytes} bytes ({len(raw)})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError(f"not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    depth = _depth(raw)
    if depth > max_depth:
        raise JsonError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_float,
                          object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise JsonError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") \
            from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise JsonError("nested too deeply") from None
    except ValueError as exc:  # our hooks, or an integer too long to convert
        message = str(exc).splitlines()[0]
        if "integer string conversion" in message:
            message = "an integer with too many digits"
        raise JsonError(message) from None


def _depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings (a linear scan before parsing, so that
    a deep document never reaches the recursive parser)."""
    brackets = _STRING.sub(b"", raw).translate(None, _BRACKETS)
    if not brackets:
        return 0
    steps = brackets.translate(_OPEN_CLOSE)
    return max(accumulate(1 if b == 1 else -1 for b in steps))


def _constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (only finite numbers are accepted)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} out of range (only finite numbers are accepted)")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:60]!r}")
        result[key] = value
    return result
