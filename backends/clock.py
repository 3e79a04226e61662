"""The real clock: the only place in Dubnium where real time is read.

Constructed by `backends.host.HostBackend` (and by the CLI through it). Following trio's
real clock, the monotonic reading carries a random offset, so code that mixes
`time.monotonic()` with `Clock.monotonic_ns()` produces visibly wrong durations in tests.
"""

from __future__ import annotations

import os
import time


class RealClock:
    """`dubnium.backend.Clock` on real time."""

    def __init__(self, *, offset_ns: int | None = None) -> None:
        # Up to ~11.6 days: large enough that a mix-up with time.monotonic() is obvious.
        # (os.urandom, as random.SystemRandom would: `random` itself is not imported, so a
        # recorded `mode current` does not pay for it.)
        self._offset_ns = (
            int.from_bytes(os.urandom(7)) >> 6 if offset_ns is None else offset_ns
        )

    def monotonic_ns(self) -> int:
        return time.monotonic_ns() + self._offset_ns

    def wall_ns(self) -> int:
        return time.time_ns()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def quiet_until_ns(self) -> int | None:
        """Anything may change at any moment on a real host: poll every interval."""
        return self.monotonic_ns()
