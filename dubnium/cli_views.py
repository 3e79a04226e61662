"""What some verbs of `mode` gather before they render: the status view, the metrics
textfile, the confirmation before the GUI goes, the lock's age. Called by `dubnium.cli` only,
with its `Context` (the composition root); kept apart so the verbs stay short.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import typer

from dubnium import confirm
from dubnium.facts import Unavailable
from dubnium.modes import Mode
from dubnium.observe import Observation
from dubnium.plan import plan
from dubnium.status import StatusView, metrics_text, write_textfile
from dubnium.studio import xruns_since_entry

if TYPE_CHECKING:
    from dubnium.cli import Context


def load_backend(name: str, attribute: str) -> Any:
    from dubnium.cli import _load_backend

    return _load_backend(name, attribute)


def confirm_before_gui(ctx: Context, target: Mode, *, yes: bool) -> bool:
    """Ask the person at the terminal before the GUI goes; False: they said no."""
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if yes or not interactive:
        return True
    facts, observation = ctx.reconciler().observe()
    if not confirm.needs_prompt(plan(observation.state, target, ctx.policy), yes=yes,
                                interactive=interactive):
        return True
    sessions = () if isinstance(facts.sessions, Unavailable) else facts.sessions
    windows = ("not listed (the simulated host has no compositor)" if ctx.is_sim
               else load_backend("windows", "list_windows")(sessions))
    for line in confirm.what_closes(facts, windows).lines():
        typer.echo(line, err=True)
    return click.confirm(f"Switch to {target.value} now?", default=False, err=True)


def write_metrics(ctx: Context, obs: Observation, path: Path) -> None:
    records = (e.record for e in ctx.audit.entries() if e.record is not None)
    write_textfile(path, metrics_text(status_view(ctx, obs), records))


def status_view(ctx: Context, obs: Observation | None = None) -> StatusView:
    runtime = ctx.runtime
    if obs is None:
        obs, _ = ctx.observe()
    policy = ctx.policy
    xruns = xruns_since_entry(runtime, obs.evidence)  # studio-local (issue 15)
    return StatusView(
        backend=ctx.backend_name, desired=runtime.read_desired(),
        boot_default=policy.boot_default_mode, observation=obs, timestamp=ctx.timestamp(),
        last=runtime.last_transition(), lock=aged(ctx, runtime.store.lock_held()),
        placement={"studio": policy.placement.studio, "compute": policy.placement.compute},
        needs_root=not ctx.is_sim, xruns_since_entry=xruns,
    )


def aged(ctx: Context, lock: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The live holder's record with its age and whether it is over
    `timeouts.lock_stale_s` (shown by `mode status`; nothing is broken automatically)."""
    if lock is None:
        return None
    age = lock_age_s(lock, ctx.backend.clock.wall_ns())
    limit = ctx.policy.timeouts.lock_stale_s
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
