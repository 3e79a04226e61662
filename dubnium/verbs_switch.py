"""The verbs of `mode` that change the host: request, reconcile, boot, cancel.

Registered on the app by `dubnium.cli`. Each runs inside its session's rules for mutating
verbs (`Session.mutating`: root and the handoff on the host, nothing in the simulator) and
hands the reconciler (`dubnium.reconcile`) its target; the record it returns is printed by
`dubnium.render` and its exit code is the process's. SIGINT, SIGTERM and SIGHUP stop a switch
at the next step boundary and roll it back (`dubnium.stopping`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, NoReturn

import typer

from dubnium import cli_views as views
from dubnium import progress, render
from dubnium.cli_types import (
    OUTPUT,
    JsonOpt,
    ModeArg,
    ModeChoice,
    OptModeArg,
    QuietOpt,
    emit,
    parse_mode,
    session_of,
)
from dubnium.codes import ExitCode
from dubnium.reconcile import Outcome, Reconciler, Reporter, Result
from dubnium.records import to_json
from dubnium.session import Session, VerbExit, reconciler, timestamp
from dubnium.stopping import StopRequests


def transition(session: Session, verb: str, as_json: bool, quiet: bool,
               run: Callable[[Reconciler], Result]) -> NoReturn:
    """Run one mutating verb with live progress on stderr; print its record; exit its code."""
    stops = StopRequests()
    with stops.installed():
        with session.mutating(verb):
            terminal = progress.for_terminal(session.backend.clock, quiet=quiet or as_json)
            reporters: list[Reporter] = [terminal, *session.reporters()]
            with terminal:
                result = run(reconciler(session, progress.Tee(reporters), stop=stops))
        stops.finished = True  # the record is written and the lock released
        emit(as_json, render.record_json(to_json(result.record)),
             render.record_text(result.record, result.summary))
        if result.outcome is Outcome.INTERRUPTED:
            raise VerbExit(result.exit_code, f"stopped by {result.record.signal}: rolled back "
                           f"to {result.record.final_state}; the lock is released")
        raise VerbExit(result.exit_code)


def request(
    tctx: typer.Context,
    mode: ModeArg,
    dry_run_flag: Annotated[bool, typer.Option(
        "--dry-run", "-n", help="Print the plan a request would run now; change nothing.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask before the graphical session is ended.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Switch to MODE now: guarded, locked, synchronous; success only when observed.

    On a terminal, a switch that ends the graphical session first lists what will close and
    asks (--yes skips); scripts, units and callers without a terminal are never asked.
    """
    session = session_of(tctx)
    target = parse_mode(mode)
    if dry_run_flag:
        views.print_plan(session, target, as_json)
        return
    if not views.confirm_before_gui(session, target, yes=yes):
        raise VerbExit(ExitCode.CANCELLED, "not switched: you said no; nothing was changed")
    transition(session, "request", as_json, quiet,
               lambda rec: rec.request(target, by="mode request"))


def reconcile(
    tctx: typer.Context,
    mode: OptModeArg = None,
    target: Annotated[str | None, typer.Option(
        "--target", click_type=ModeChoice(), metavar="MODE",
        help="The same as MODE (kept for scripts).")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Converge the host to MODE, else to the desired mode."""
    if mode and target and mode != target:
        raise VerbExit(ExitCode.USAGE, f"MODE {mode!r} and --target {target!r} disagree")
    chosen = mode or target
    wanted = parse_mode(chosen) if chosen else None
    transition(session_of(tctx), "reconcile", as_json, quiet, lambda rec: rec.reconcile(wanted))


def boot(tctx: typer.Context, as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Boot normalisation: desired becomes the boot default (desktop) and is reconciled."""
    transition(session_of(tctx), "boot", as_json, quiet, lambda rec: rec.boot())


def cancel(tctx: typer.Context) -> None:
    """Cancel the running switch during its grace period, before the GUI goes (exit 0 when
    asked; the switch then ends `cancelled`, exit 27, with the host untouched)."""
    session = session_of(tctx)
    session.require_root("cancel")
    runtime = session.runtime
    lock = runtime.store.lock_held()
    attempt = (lock or {}).get("attempt")
    if not attempt:
        raise VerbExit(ExitCode.OK, "nothing to cancel: no transition is running")
    runtime.request_cancel(str(attempt), timestamp(session), f"mode cancel (uid {os.getuid()})")
    OUTPUT.echo(f"cancel requested for the switch to {lock.get('target') if lock else '?'} "
                f"(attempt {attempt}); it takes effect if the grace period has not ended")
