"""Seeded randomness: one root seed, named sub-streams, each a `random.Random`.

Used by `simulator.world.World` (GPU UUIDs, boot ids, pids, job duration jitter). A stream is
derived from the root seed and its name with BLAKE2b (never `hash()`, which is salted per
process), so adding a stream never shifts another. The generator is SplitMix64 behind the
`random.Random` interface: its whole state is one integer, so a world's randomness persists
in its JSON and resumes exactly.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

_MASK = (1 << 64) - 1


def derive(seed: int, name: str) -> int:
    """A 64-bit value derived from `seed` and `name`, stable across processes and versions."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class SplitMix64(random.Random):
    """`random.Random` with SplitMix64 as its core generator (state: one 64-bit integer)."""

    def __init__(self, state: int = 0) -> None:
        self.state = state & _MASK
        super().__init__(state)

    def seed(self, a: Any = None, version: int = 2) -> None:
        if a is None:
            a = 0
        if not isinstance(a, int):
            a = int.from_bytes(hashlib.blake2b(str(a).encode(), digest_size=8).digest(), "big")
        self.state = a & _MASK
        self.gauss_next = None

    def _next64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self._next64() >> 11) * (1.0 / (1 << 53))

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        value, bits = 0, 0
        while bits < k:
            value = (value << 64) | self._next64()
            bits += 64
        return value >> (bits - k)

    def getstate(self) -> tuple[Any, ...]:
        return (self.state, self.gauss_next)

    def setstate(self, state: tuple[Any, ...]) -> None:
        self.state, self.gauss_next = int(state[0]) & _MASK, state[1]


class Streams:
    """The root seed and the named streams drawn from it so far."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, SplitMix64] = {}

    def stream(self, name: str) -> SplitMix64:
        """The stream called `name` (created on first use from the seed and the name)."""
        found = self._streams.get(name)
        if found is None:
            found = self._streams[name] = SplitMix64(derive(self.seed, name))
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "streams": {name: s.state for name, s in sorted(self._streams.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Streams:
        streams = cls(int(data["seed"]))
        for name, state in data["streams"].items():
            if not isinstance(state, int):
                raise ValueError(f"rng stream {name}: state must be an integer")
            streams._streams[str(name)] = SplitMix64(state)
        return streams
