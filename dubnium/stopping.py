"""Stop requests: SIGINT, SIGTERM and SIGHUP during a transition, answered at a step boundary.

Installed by the CLI (`dubnium.verbs_switch`, around a mutating verb) and handed to the
reconciler as its `stop` callable, which the attempt asks before each forward step. The first
signal asks for a stop and says so on stderr; the attempt then rolls back (bounded) and records
`interrupted`. Every later signal is answered with a message and not obeyed: a rollback that is
cut short would leave the host half-done. Nothing here raises from a handler, so no signal at
any point becomes a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequests:
    """The stop flag and its signal handler; call it to ask whether a stop was requested."""

    def __init__(self, prog: str = "mode") -> None:
        self.prog = prog
        self.signal: str | None = None
        self.count = 0
        self.finished = False  # the switch is over: a late signal changes nothing

    def __call__(self) -> str | None:
        return self.signal

    def handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        name = signal.Signals(signum).name
        self.count += 1
        if self.finished:
            return
        if self.signal is None:
            self.signal = name
            self._say(f"{name}: stopping at the next step boundary, then rolling back to the "
                      "prior safe mode (every step is bounded)")
        else:
            self._say(f"{name}: already stopping; the rollback is bounded and is not "
                      "interrupted: wait for it (`mode status` shows progress)")

    def _say(self, text: str) -> None:
        # os.write, not print: a handler may run while the buffered stream is mid-write.
        with contextlib.suppress(OSError):
            os.write(2, f"{self.prog}: {text}\n".encode())

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequests]:
        """Handle the stop signals inside the block; the previous handlers after it."""
        previous = {sig: signal.signal(sig, self.handle) for sig in STOP_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
