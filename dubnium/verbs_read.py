"""The verbs of `mode` that read: current, desired, status, dry-run, explain, guards,
history, last-transition, doctor.

Registered on the app by `dubnium.cli`. None takes the lock or changes the host (`current
--refresh` rewrites the recorded observation where its session allows: as root on the host,
always in the simulator). Each gets its session from the typer context, gathers what it shows
(`dubnium.cli_views`, `dubnium.readpath`, `dubnium.doctor`) and prints it through
`dubnium.render`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dubnium import cli_views as views
from dubnium import readiness, readpath, readverbs, render
from dubnium.cli_types import OUTPUT, JsonOpt, ModeArg, OptModeArg, emit, parse_mode, session_of
from dubnium.codes import ExitCode
from dubnium.doctor import diagnose
from dubnium.errors import QueryError
from dubnium.guards import GuardReport
from dubnium.history import HistoryQuery
from dubnium.modes import Mode
from dubnium.reconcile import Outcome
from dubnium.session import VerbExit, reconciler, timestamp


def current(
    tctx: typer.Context,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Observe now, never the recorded answer; as root (what the observer "
                          "timer runs) or in the simulator, also rewrite the recorded current "
                          "files and the metrics textfile.")] = False,
    textfile: Annotated[Path | None, typer.Option(
        "--textfile", help="With --refresh: where the node-exporter textfile goes "
                           "(default: mode.prom in the state directory).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The current state, derived from evidence (never from desired).

    On the host, the recorded observation (written by the observer timer and every
    transition) is served while younger than timeouts.current_max_age_s; the JSON says its
    source and age. A live observation that writes nothing needs no root.
    """
    session = session_of(tctx)
    if refresh and session.serves_recorded:  # the observer timer backs off in studio-local
        recorded = session.runtime.read_current()
        now = session.wall_ns()
        why = readpath.observer_backoff(recorded, now, session.policy.studio.observe_backoff_s)
        if recorded is not None and why is not None:
            emit(as_json, readpath.backed_off(recorded, now),
                 f"{recorded['observed_state']}\n{why}")
            raise VerbExit(ExitCode.OK)
    data = None
    if not refresh and session.serves_recorded:
        data = readpath.recorded_if_fresh(
            session.runtime.read_json("current.json"), session.wall_ns(),
            session.policy.timeouts.current_max_age_s)
    if data is None:
        obs, live = views.observe(session)
        live = render.stamp(live)
        if refresh and session.may_record_current():
            session.runtime.write_current(live)
            views.write_metrics(session, obs, textfile or session.state_dir / "mode.prom")
        data = readpath.observed(live, session.backend.clock.wall_ns())
    emit(as_json, data, str(data["observed_state"]))
    if not as_json:
        for line in readpath.notes(data):
            OUTPUT.echo(line, err=True)
    raise VerbExit(readpath.exit_code(data))


def current_server(tctx: typer.Context) -> None:
    """Answer live `mode current` calls (started by mode-current.socket; host only).

    Each caller gets an observation made after it asked, by this one process, which has
    the policy, D-Bus and NVML loaded already; it exits after a while without callers.
    """
    raise VerbExit(session_of(tctx).serve_current())


def desired(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The desired mode (intent), as last written by a request."""
    emit(as_json, *readverbs.desired(session_of(tctx).runtime))


def status(
    tctx: typer.Context,
    as_json: JsonOpt = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Exit 26 when the observed state is not the desired mode.")] = False,
    waybar: Annotated[bool, typer.Option(
        "--waybar", help="One JSON object for a waybar custom module (text, alt, tooltip, "
                         "class).")] = False,
) -> None:
    """Desired, observed, converged or not, the last attempt, placement, the lock."""
    view = views.status_view(session_of(tctx))
    OUTPUT.echo(readverbs.status_output(view, as_json, waybar))
    if check and not view.converged:
        raise VerbExit(ExitCode.DIVERGED)


def dry_run(tctx: typer.Context, mode: ModeArg, as_json: JsonOpt = False) -> None:
    """Print the plan a request for MODE would run now, without running it."""
    views.print_plan(session_of(tctx), parse_mode(mode), as_json)


def explain(tctx: typer.Context, mode: OptModeArg = None, as_json: JsonOpt = False) -> None:
    """Why the host is in its current state; with MODE, the plan and live guard verdicts."""
    session = session_of(tctx)
    rec = reconciler(session)
    if mode is None:
        _, obs = rec.observe()
        lines = [render.observation_text(obs), "signals:"]
        lines += [f"  {k}: {v}" for k, v in sorted(obs.signals.items())]
        emit(as_json, render.stamp(obs.to_json(timestamp(session))), "\n".join(lines))
        return
    target = parse_mode(mode)
    obs, plan, reports = rec.preview(target)
    blocking = [v for r in reports for v in r.blocking]
    data = render.stamp({
        "observed_state": obs.state.value, "target": target.value,
        "current": obs.to_json(timestamp(session)), "plan": render.plan_json(plan),
        "guards": [render.report_json(r) for r in reports],
        "blocking": [v.guard.value for v in blocking],
    })
    lines = render.plan_lines(plan, reports)
    lines.append("would be blocked by: " + ", ".join(v.guard.value for v in blocking)
                 if blocking else "no guard blocks this request now")
    if target is Mode.STUDIO_LOCAL:  # the audio readiness report (issue 15)
        audio = readiness.report(session.backend.audio_readiness(), session.policy)
        data["audio_readiness"] = audio.to_json()
        lines += audio.lines()
    emit(as_json, data, "\n".join(lines))


def guards(tctx: typer.Context, mode: ModeArg, as_json: JsonOpt = False) -> None:
    """Evaluate the guards a request for MODE would check; exit with the first block."""
    target = parse_mode(mode)
    _, plan, reports = reconciler(session_of(tctx)).preview(target)
    merged = GuardReport(target, tuple(v for r in reports for v in r.verdicts))
    lines = [f"guards for {target.value}:"] + (
        ["  none: already there"] if plan.noop else render.report_lines(merged, "")
    )
    emit(as_json, render.report_json(merged), "\n".join(lines))
    raise VerbExit(merged.exit_code)


def history(
    tctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N attempts.")] = 20,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only attempts finished at or after this time (ISO 8601, UTC; a date "
                        "alone is midnight).")] = None,
    outcome: Annotated[list[str] | None, typer.Option(
        "--outcome", help="Only attempts with this outcome (repeatable): "
                          + ", ".join(o.value for o in Outcome) + ".")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="JSON Lines: one transition record a line.")] = False,
) -> None:
    """The last transition attempts from the audit log (newest last)."""
    session = session_of(tctx)
    try:
        query = HistoryQuery.parse(limit, since, outcome or [], (o.value for o in Outcome))
    except QueryError as exc:
        raise VerbExit(ExitCode.USAGE, str(exc)) from None
    for line in readverbs.history(session.audit, query, as_json):
        OUTPUT.echo(line)


def last_transition(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The record of the last transition attempt."""
    emit(as_json, *readverbs.last_transition(session_of(tctx).runtime))


def doctor(tctx: typer.Context, as_json: JsonOpt = False, audio: Annotated[bool, typer.Option(
        "--audio", help="The audio readiness report (exit 28 when a check fails).")] = False,
           ) -> None:
    """What this backend can observe, what it cannot and why; config and state health."""
    session = session_of(tctx)
    if audio:
        ready = readiness.report(session.backend.audio_readiness(), session.policy)
        emit(as_json, render.stamp(ready.to_json()), "\n".join(ready.lines()))
        raise VerbExit(ExitCode.OK if ready.ready else ExitCode.AUDIO_NOT_READY)
    report = diagnose(session.backend, session.policy, session.runtime, session.audit,
                      session.state_dir, simulated=session.simulated)
    emit(as_json, render.stamp(report.data), report.text)
    raise VerbExit(ExitCode.EVIDENCE_UNAVAILABLE if report.missing else ExitCode.OK)
