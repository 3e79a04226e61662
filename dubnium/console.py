"""What both command lines (`mode`, `mode-sim`) print: one line per error, output that may fail.

Called by `dubnium.cli` and `simulator.cli`. `run` calls a typer app without click's
standalone mode, so a usage error is one line on stderr with a pointer to `--help` (not the
boxed usage block) and exit code 2; `one_line` makes any message one line and shortens long
words (a 100,000-character argument is not echoed in full); `Output` prints the result and,
when stdout is closed or full after the work is done, remembers that instead of raising, so
the verb's exit code stands and the failure costs one line on stderr.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click
from typer.core import TyperGroup

USAGE_EXIT = 2
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
        try:
            click.echo(text, err=err)
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


def usage_line(exc: click.UsageError, prog: str, help_option: str) -> str:
    """The one line for a usage error, with where to look; `missing command` for a bare group
    (click prints the group's help on stdout and says nothing else)."""
    command = exc.ctx.command_path if exc.ctx is not None else prog
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return f"missing command (see {command} {help_option})"
    return f"{exc.format_message()} (see {command} {help_option})"


class Interrupted(Exception):
    """Ctrl-C (SIGINT) during a verb's own work, raised by `InterruptibleGroup`."""


class InterruptibleGroup(TyperGroup):
    """A typer group whose verbs' Ctrl-C reaches the caller as `Interrupted`.

    typer turns a KeyboardInterrupt into `Exit(130)` and, outside standalone mode, returns
    130 silently; this keeps it an exception so each command line can say one line and use
    its own exit code.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None


def run(app: Any, argv: list[str] | None, prog: str) -> int:
    """Run the typer `app`; the exit code of `--help` (0) or of the verb's own return.

    Usage errors print one line and return 2; errors the verbs raise propagate.
    """
    try:
        result = app(args=argv, prog_name=prog, standalone_mode=False)
    except click.UsageError as exc:
        error(prog, usage_line(exc, prog, "--help"))
        return USAGE_EXIT
    except Interrupted:
        error(prog, "interrupted")
        return 130
    except click.exceptions.Abort:
        error(prog, "aborted")
        return 130
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return int(result) if isinstance(result, int) else 0
