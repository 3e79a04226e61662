"""Output that may fail, and one line per error: what every command line prints with.

Called by `dubnium.console` (which re-exports it for `mode` and `mode-sim`) and by
`dubnium.readverbs` (the read verbs' fast path, which loads no click). `one_line` makes any
message one line and shortens long words (a 100,000-character argument is not echoed in
full); `Output` prints the result and, when stdout is closed or full after the work is
done, remembers that instead of raising, so the verb's exit code stands and the failure
costs one line on stderr; `error` prints `prog: message` on stderr.
"""

from __future__ import annotations

import os
import re
import sys

WORD_LIMIT = 200
MESSAGE_LIMIT = 1000

_LONG_WORD = re.compile(r"\S{" + str(WORD_LIMIT + 1) + ",}")


def one_line(message: str) -> str:
    """`message` on one line (controls escaped), long words and the whole bounded."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)
    text = _LONG_WORD.sub(lambda m: f"{m[0][:60]}...({len(m[0])} chars)", text)
    if len(text) > MESSAGE_LIMIT:
        text = f"{text[:MESSAGE_LIMIT]}...({len(text)} chars)"
    return text


class Output:
    """stdout for results; a failure to write it (EPIPE, ENOSPC, EIO) is kept, not raised."""

    def __init__(self) -> None:
        self.failed: str | None = None

    def echo(self, text: str, *, err: bool = False) -> None:
        if self.failed is not None and not err:
            return
        stream = sys.stderr if err else sys.stdout
        try:
            stream.write(text + "\n")
            stream.flush()
        except OSError as exc:
            if err:
                return  # stderr gone too: nothing left to tell
            self.failed = exc.strerror or type(exc).__name__
            _silence_stdout()

    def flush(self) -> None:
        """Flush what is buffered (a full stdout fails here, at the latest)."""
        if self.failed is not None:
            return
        try:
            sys.stdout.flush()
        except OSError as exc:
            self.failed = exc.strerror or type(exc).__name__
            _silence_stdout()

    def report(self, prog: str) -> None:
        """One line on stderr when the result could not be written."""
        self.flush()
        if self.failed is not None:
            error(prog, f"the work is done, but its output could not be written to stdout "
                        f"({self.failed})")


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


def error(prog: str, message: str) -> None:
    """`prog: message` as one line on stderr (nothing if stderr itself is gone)."""
    try:
        sys.stderr.write(f"{prog}: {one_line(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
