"""What some verbs of `mode` gather before they render: the status view, the metrics
textfile, the plan a request would run, the confirmation before the GUI goes, the lock's age.
Called by `dubnium.verbs_read` and `dubnium.verbs_switch` with their `Session`; kept apart so
the verbs stay short.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import typer

from dubnium import confirm, readpath, render
from dubnium.cli_types import emit
from dubnium.facts import Unavailable
from dubnium.modes import Mode
from dubnium.observe import Observation
from dubnium.plan import plan
from dubnium.session import Session, reconciler, timestamp
from dubnium.status import StatusView, metrics_text, write_textfile
from dubnium.studio import xruns_since_entry
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
    runtime = session.runtime
    if obs is None:
        obs, _ = observe(session)
    policy = session.policy
    xruns = xruns_since_entry(runtime, obs.evidence)  # studio-local (issue 15)
    return StatusView(
        backend=session.name, desired=runtime.read_desired(),
        boot_default=policy.boot_default_mode, observation=obs, timestamp=timestamp(session),
        last=runtime.last_transition(), lock=aged(session, runtime.store.lock_held()),
        placement={"studio": policy.placement.studio, "compute": policy.placement.compute},
        needs_root=not session.simulated, xruns_since_entry=xruns,
    )


def aged(session: Session, lock: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The live holder's record with its age and whether it is over
    `timeouts.lock_stale_s` (shown by `mode status`; nothing is broken automatically)."""
    if lock is None:
        return None
    age = lock_age_s(lock, session.backend.clock.wall_ns())
    limit = session.policy.timeouts.lock_stale_s
    return {**lock, "age_s": age, "stale": age is not None and age > limit}


def lock_age_s(lock: Mapping[str, Any], now_ns: int) -> float | None:
    """How long the live holder has held the lock, from its record (None: cannot tell)."""
    started = lock.get("started_at")
    if not isinstance(started, str):
        return None
    try:
        at = datetime.fromisoformat(started)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return round(now_ns / 1e9 - at.timestamp(), 3)
