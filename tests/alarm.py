"""A bound on a blocking call inside a test: SIGALRM raises TimeoutError instead of a hang.

Used by the hardening tests (a FIFO read that would block) and the fuzz tests (an input that
would hang a verb).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Raise TimeoutError in the main thread when the block runs past `seconds`."""
    def ring(*_: object) -> None:
        raise TimeoutError(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
