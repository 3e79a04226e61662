"""What some verbs of `mode` gather before they render: the status view (built by
`dubnium.readverbs`), the metrics textfile, the plan a request would run, the confirmation
before the GUI goes. Called by `dubnium.verbs_read` and `dubnium.verbs_switch` with their
`Session`; kept apart so the verbs stay short.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import typer

from dubnium import confirm, readpath, readverbs, render
from dubnium.cli_types import emit
from dubnium.facts import Unavailable
from dubnium.modes import Mode
from dubnium.observe import Observation
from dubnium.plan import plan
from dubnium.session import Session, reconciler
from dubnium.status import StatusView, metrics_text, write_textfile
from dubnium.tally import updated_tally


def print_plan(session: Session, target: Mode, as_json: bool) -> None:
    """The plan a request for `target` would run now (`dry-run`, `request --dry-run`)."""
    _, the_plan, _ = reconciler(session).preview(target)
    emit(as_json, render.plan_json(the_plan), "\n".join(render.plan_lines(the_plan)))


def confirm_before_gui(session: Session, target: Mode, *, yes: bool) -> bool:
    """Ask the person at the terminal before the GUI goes; False: they said no."""
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if yes or not interactive:
        return True
    facts, observation = reconciler(session).observe()
    if not confirm.needs_prompt(plan(observation.state, target, session.policy), yes=yes,
                                interactive=interactive):
        return True
    sessions = () if isinstance(facts.sessions, Unavailable) else facts.sessions
    windows = session.windows(sessions)
    for line in confirm.what_closes(facts, windows).lines():
        typer.echo(line, err=True)
    return click.confirm(f"Switch to {target.value} now?", default=False, err=True)


def observe(session: Session) -> tuple[Observation, dict[str, Any]]:
    """A live observation (the observer only) and its JSON."""
    return readpath.observe_json(session.backend, session.policy, session.runtime)


def write_metrics(session: Session, obs: Observation, path: Path) -> None:
    """The textfile; its counters read only what the audit log gained since the last tick."""
    write_textfile(path, metrics_text(status_view(session, obs), updated_tally(session.audit)))


def status_view(session: Session, obs: Observation | None = None) -> StatusView:
    if obs is None:
        obs, _ = observe(session)
    return readverbs.status_view(backend_name=session.name, backend=session.backend,
                                 policy=session.policy, runtime=session.runtime,
                                 observation=obs, needs_root=not session.simulated)
