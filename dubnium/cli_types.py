"""What every verb of `mode` shares: the parameter types (MODE as a choice: help, completion,
one-line errors; the options every verb spells the same way), the session a verb is handed,
and stdout. Used by `dubnium.cli`, `dubnium.verbs_read` and `dubnium.verbs_switch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import click
import typer

from dubnium import console, render
from dubnium.codes import ExitCode
from dubnium.modes import Mode
from dubnium.session import Session, VerbExit


class ModeChoice(click.Choice):  # type: ignore[type-arg]
    """MODE: the three modes, listed in help and offered by completion; a typo is one line."""

    name = "mode"

    def __init__(self) -> None:
        super().__init__([m.value for m in Mode])

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, Mode):
            return value.value
        try:
            return Mode.parse(str(value)).value
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


MODE_METAVAR = "{" + "|".join(m.value for m in Mode) + "}"
ModeArg = Annotated[str, typer.Argument(click_type=ModeChoice(), metavar="MODE",
                                        help=f"The mode: {MODE_METAVAR}.", show_default=False)]
OptModeArg = Annotated[str | None, typer.Argument(click_type=ModeChoice(), metavar="[MODE]",
                                                  help=f"The mode: {MODE_METAVAR}.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress lines on stderr (the result only).")]


def session_of(tctx: typer.Context) -> Session:
    """The session the composition root opened for this invocation (`dubnium.cli`)."""
    found: Session = tctx.find_root().obj
    return found


# stdout for results: a closed or full stdout after the work is done is remembered, reported
# as one line on stderr at the end, and does not change the verb's exit code.
OUTPUT = console.Output()


def emit(as_json: bool, data: Mapping[str, Any], text: str) -> None:
    """`data` as the verb's JSON, or `text`."""
    OUTPUT.echo(render.dumps(data) if as_json else text)


def parse_mode(text: str) -> Mode:
    """A requested mode, or a usage error (exit 2) in one line."""
    try:
        return Mode.parse(text)
    except ValueError as exc:
        raise VerbExit(ExitCode.USAGE, str(exc)) from None
