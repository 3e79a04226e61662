"""JSON forms of the simulator's small frozen values (specs, behaviours, facts).

Used by every `simulator` model's `to_json`/`from_json`. A value's JSON is its attrs fields
(tuples as lists); reading checks the keys and the scalar types against the annotations, so a
world file with a wrong shape fails at load (as `StateCorrupt`), not later in the middle of a
run.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from functools import cache
from typing import Any, TypeVar

import attrs

T = TypeVar("T")


def to_json(value: Any) -> dict[str, Any]:
    """The fields of the attrs instance `value` as a JSON object."""
    return attrs.asdict(value, recurse=True, value_serializer=_serialize)


def _serialize(_inst: Any, _field: Any, value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(cls: type[T], data: Any, where: str = "") -> T:
    """An instance of the attrs class `cls` from its JSON object; ValueError names the key."""
    name = where or cls.__name__
    if not isinstance(data, dict):
        raise ValueError(f"{name}: expected an object, got {type(data).__name__}")
    fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{name}: unknown key {unknown[0]!r}")
    klass: Any = cls
    hints = _hints(klass)
    values = {key: _convert(hints[key], value, f"{name}.{key}") for key, value in data.items()}
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{where}: unexpected null")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected an array, got {type(value).__name__}")
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"{where}: unexpected value {value!r}") from None
    if isinstance(hint, type) and attrs.has(hint):
        return from_json(hint, value, where)
    raise ValueError(f"{where}: cannot read a value of type {hint!r}")
