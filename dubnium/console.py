"""What both command lines (`mode`, `mode-sim`) print: one line per error, output that may fail.

Called by `dubnium.cli` and `simulator.cli`. `run` calls a typer app without click's
standalone mode, so a usage error is one line on stderr with a pointer to `--help` (not the
boxed usage block) and exit code 2; `one_line` makes any message one line and shortens long
words (a 100,000-character argument is not echoed in full); `Output` prints the result and,
when stdout is closed or full after the work is done, remembers that instead of raising, so
the verb's exit code stands and the failure costs one line on stderr. Those two live in
`dubnium.output` (no click: the read verbs print through them without loading it).
"""

from __future__ import annotations

from typing import Any

import click
from typer.core import TyperGroup

from dubnium.errors import Interrupted
from dubnium.output import MESSAGE_LIMIT as MESSAGE_LIMIT  # noqa: PLC0414 (re-exported)
from dubnium.output import WORD_LIMIT as WORD_LIMIT  # noqa: PLC0414
from dubnium.output import Output as Output  # noqa: PLC0414
from dubnium.output import error as error  # noqa: PLC0414
from dubnium.output import one_line as one_line  # noqa: PLC0414

USAGE_EXIT = 2


def usage_line(exc: click.UsageError, prog: str, help_option: str) -> str:
    """The one line for a usage error, with where to look; `missing command` for a bare group
    (click prints the group's help on stdout and says nothing else)."""
    command = exc.ctx.command_path if exc.ctx is not None else prog
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return f"missing command (see {command} {help_option})"
    return f"{exc.format_message()} (see {command} {help_option})"


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
