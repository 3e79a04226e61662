"""`mode`: the typer app, its global options, and the mapping of every error to one line.

The verbs live in `dubnium.verbs_read` (current, status, explain, ...) and
`dubnium.verbs_switch` (request, reconcile, boot, cancel), `mode idle ...` in
`dubnium.idlecli`; this module registers them. Each verb is handed a `dubnium.session.Session`
and never asks which backend it is: the composition root (`dubnium_app.compose`, the
console script's `main`) passes `main` a function that opens one from the global options
(`--backend host|sim`, `--state-dir`, `--config`). Every verb prints one clear line on error
and exits with the code of `dubnium.codes.ExitCode` — never a traceback for a user error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import attrs
import click
import typer

from dubnium import __version__, console
from dubnium import verbs_read as read
from dubnium import verbs_switch as switch
from dubnium.cli_types import OUTPUT
from dubnium.codes import ExitCode
from dubnium.errors import (
    BackendUnavailable,
    ConfigError,
    DubniumError,
    Interrupted,
    LockBusy,
    StateCorrupt,
    StorageError,
)
from dubnium.idlecli import idle_app
from dubnium.session import Session, VerbExit

app = typer.Typer(
    name="mode",
    cls=console.InterruptibleGroup,
    help="Switch this workstation between desktop, studio-local and compute, safely.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    # click 8.4+ suggests a verb for a typo itself; typer < 0.25 would add a second one.
    suggest_commands=not hasattr(click.exceptions, "NoSuchCommand"),
    add_completion=False,
    pretty_exceptions_enable=False,
)
VERBS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("request", switch.request), ("reconcile", switch.reconcile), ("boot", switch.boot),
    ("current", read.current), ("desired", read.desired), ("status", read.status),
    ("dry-run", read.dry_run), ("explain", read.explain), ("guards", read.guards),
    ("history", read.history), ("cancel", switch.cancel),
    ("last-transition", read.last_transition), ("doctor", read.doctor),
    ("current-server", read.current_server),
)
for _name, _verb in VERBS:
    app.command(name=_name)(_verb)
app.add_typer(idle_app, name="idle")


@attrs.frozen
class Options:
    """The global options, as given (None: not given; the session picks its default)."""

    backend: str | None
    state_dir: Path | None
    config: Path | None


# The composition root's: a session for the global options (VerbExit for an unknown backend).
Opener = Callable[[Options], Session]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mode (dubnium) {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    backend: Annotated[
        str | None,
        typer.Option("--backend", envvar="DUBNIUM_BACKEND",
                     help="host (the live workstation) or sim (the simulated one). "
                          "Default: host where /etc/dubnium/config.json exists, else sim."),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", envvar="DUBNIUM_STATE_DIR",
                     help="Runtime state directory (default: /run/mode-controller on the "
                          "host, ~/.local/state/dubnium/sim for the simulator)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="DUBNIUM_CONFIG",
                     help="Policy file (default: /etc/dubnium/config.json; the simulator "
                          "embeds its own)."),
    ] = None,
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """Switch this workstation between desktop, studio-local and compute, safely."""
    opener: Opener = ctx.obj
    ctx.obj = opener(Options(backend, state_dir, config))


# ----------------------------------------------------------------------- entry point


def _fail(code: int, message: str) -> NoReturn:
    if message:
        console.error("mode", message)
    OUTPUT.report("mode")
    raise SystemExit(int(code))


def main(argv: list[str] | None, opener: Opener) -> None:
    """Run `mode` with `argv` on the session `opener` gives; map every error to one line and
    its exit code (the process exits here)."""
    if "_MODE_COMPLETE" in os.environ:  # shell completion asks (scripts from dubnium.docgen)
        from typer._completion_classes import completion_init

        completion_init()
    try:
        code = app(args=argv, prog_name="mode", standalone_mode=False, obj=opener)
    except click.exceptions.Exit as exc:  # --help, --version, completion
        raise SystemExit(exc.exit_code) from None
    except click.UsageError as exc:  # unknown verb, bad MODE, bad option: one line
        _fail(ExitCode.USAGE, console.usage_line(exc, "mode", "-h"))
    except click.Abort:  # Ctrl-C at a prompt
        _fail(ExitCode.ERROR, "aborted")
    except (KeyboardInterrupt, Interrupted):  # a switch handles its own signals
        _fail(ExitCode.INTERRUPTED, "interrupted before a switch started; nothing was changed")
    except VerbExit as exc:
        _fail(exc.code, exc.message)
    except ConfigError as exc:
        _fail(ExitCode.CONFIG_INVALID, f"invalid config: {exc}")
    except StateCorrupt as exc:
        _fail(ExitCode.STATE_CORRUPT, f"corrupt state file: {exc}")
    except StorageError as exc:
        _fail(ExitCode.STORAGE_FAILED, f"storage failed: {exc}")
    except BackendUnavailable as exc:
        _fail(ExitCode.BACKEND_UNAVAILABLE, str(exc))
    except LockBusy as exc:
        _fail(ExitCode.LOCK_BUSY, str(exc))
    except DubniumError as exc:
        _fail(ExitCode.ERROR, str(exc))
    except BrokenPipeError:
        # The reader went away (a handed-off verb whose terminal was closed with the
        # session): the work and its records are done; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(int(ExitCode.ERROR)) from None
    _fail(code if isinstance(code, int) else 0, "")

