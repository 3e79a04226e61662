"""Answers of pure functions kept per argument value, for the simulator's hot paths.

Used by `simulator.invariants.liveness_bound_s` (27 plans per policy) and
`simulator.unitgraph.default_units` (the unit graph each seed's world is built from): every
seed of a campaign asks again with an equal policy, a new object each time. Policies hold
dicts, so they cannot be hashed; the few kept are found by identity, then by equality.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class PerValue(Generic[K, V]):
    """`compute(key)`, computed once for each of the last `size` distinct key values."""

    def __init__(self, compute: Callable[[K], V], size: int = 8) -> None:
        self.compute = compute
        self.size = size
        self._known: list[tuple[K, V]] = []

    def __call__(self, key: K) -> V:
        for known, value in self._known:
            if known is key or known == key:
                return value
        value = self.compute(key)
        self._known = [*self._known[-(self.size - 1):], (key, value)]
        return value
