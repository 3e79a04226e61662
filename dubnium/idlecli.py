"""`mode idle ...`: the idle automation verbs (status, watch, pause, resume, wake).

A typer sub-app that `dubnium.cli` mounts as `mode idle`; it runs
`dubnium.idlewatch.IdleWatcher` over the invocation's `dubnium.session.Session` (the mutating
verbs inside the session's rules, their switches reported like the owner's). Errors follow
the CLI's rules: `DubniumError`s become one line and an exit code in `dubnium.cli.main`; a
bad option is a usage error (2).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from dubnium import progress
from dubnium.backend import iso_timestamp
from dubnium.errors import DubniumError
from dubnium.idlewatch import IdleWatcher, Tick, status_json, status_text
from dubnium.session import Session, reconciler

idle_app = typer.Typer(
    name="idle",
    help="Idle automation: compute when the workstation is truly idle, desktop when its "
         "owner returns.",
    no_args_is_help=True,
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'90', '90s', '30m', '2h', '1d' in seconds; BadParameter otherwise."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"expected a duration like 90s, 30m, 2h or 1d, got {text!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@contextlib.contextmanager
def _watcher(tctx: typer.Context, verb: str | None) -> Iterator[IdleWatcher]:
    session: Session = tctx.find_root().obj
    if verb is None:
        yield IdleWatcher(reconciler(session))
        return
    with session.mutating(verb):
        # Automatic switches are reported like the owner's (the journal, on the host).
        yield IdleWatcher(reconciler(session, progress.Tee(list(session.reporters()))))


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@idle_app.command()
def status(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Each idle condition, how long the machine has been idle, what blocks and until when."""
    with _watcher(tctx, None) as watcher:
        state = watcher.read_state()
        ev = watcher.evaluate(state)
        data = status_json(ev, ev.decision.state)
        data["enabled"] = watcher.policy.idle.enable
        data["after_s"] = watcher.policy.idle.after_s
    typer.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else status_text(data))


@idle_app.command()
def watch(
    tctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    for_: Annotated[str | None, typer.Option(
        "--for", help="Stop after this long (90s, 30m, 2h); default: run until stopped.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The watcher (mode-idle.service): poll, and request compute or desktop when due."""
    limit = parse_duration(for_) if for_ is not None else None

    def report(tick: Tick) -> None:
        d = tick.evaluation.decision
        line: dict[str, Any] = {"at": iso_timestamp(tick.evaluation.now_ns),
                                "observed": tick.evaluation.observation.state.value,
                                "action": d.action.value,
                                "blocking": [b.id.value for b in d.blocks]}
        if tick.result is not None:
            line["outcome"] = tick.result.outcome.value
            line["summary"] = tick.result.summary
        if d.action.value != "none" or tick.result is not None or once:
            typer.echo(json.dumps(line, sort_keys=True) if as_json else
                       f"{line['at']} {line['observed']}: {line['action']}"
                       + (f" -> {line['outcome']}: {line['summary']}" if "outcome" in line
                          else "") + (f" (blocked: {', '.join(line['blocking'])})"
                                      if line["blocking"] else ""))

    def trouble(exc: DubniumError) -> None:
        typer.echo(f"mode: idle watch: {exc} (next poll in "
                   f"{watcher.policy.idle.poll_interval_s:g} s)", err=True)

    with _watcher(tctx, "idle watch") as watcher:
        watcher.run(ticks=1 if once else None, for_s=limit, on_tick=report,
                    on_error=None if once else trouble)


@idle_app.command()
def pause(
    tctx: typer.Context,
    for_: Annotated[str | None, typer.Option(
        "--for", help="Pause for this long (90s, 30m, 2h, 1d); default: until resumed.")] = None,
) -> None:
    """No automatic promotion until resumed (or for --for)."""
    seconds = parse_duration(for_) if for_ is not None else None
    with _watcher(tctx, "idle pause") as watcher:
        control = watcher.pause(seconds)
    until = control.paused_until_ns
    typer.echo(f"idle automation paused until {iso_timestamp(until)}" if until
               else "idle automation paused until `mode idle resume`")


@idle_app.command()
def resume(tctx: typer.Context) -> None:
    """End a pause, and acknowledge a failed transition so automation may try again."""
    with _watcher(tctx, "idle resume") as watcher:
        control = watcher.resume()
    ack = control.acknowledged_attempt
    typer.echo("idle automation resumed" + (f" (acknowledged failed attempt {ack})"
                                            if ack else ""))


@idle_app.command()
def wake(tctx: typer.Context) -> None:
    """The configured wake command: if automation entered compute, the watcher requests
    desktop at its next poll."""
    with _watcher(tctx, "idle wake") as watcher:
        watcher.wake()
    typer.echo("wake requested: the watcher brings the desktop back if automation entered "
               "compute")
