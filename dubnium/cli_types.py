"""The CLI's parameter types: MODE as a choice (help, completion, one-line errors) and the
options every verb spells the same way. Used by `dubnium.cli` only.
"""

from __future__ import annotations

from typing import Annotated, Any

import click
import typer

from dubnium.modes import Mode


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
