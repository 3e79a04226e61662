"""The read verbs `status`, `desired`, `history` and `last-transition`, without the full CLI.

What each prints is built here, once, for both ways in: the full CLI (`dubnium.cli`, typer)
calls these functions for its verbs, and the console script's fast path (`dubnium_app.entry`)
calls them for the same verbs on the host when the invocation is plain (`answer`). The
fast path imports only what the verb uses: the state files and the records for `desired`
and `last-transition`, the audit log's end for `history`, and the policy, the observer and
the host backend for `status` — no typer or click, no planner, guards or reconciler. Like
`mode current`'s recorded answer, `desired`, `history` and `last-transition` take the state
directory and the audit log's path from the policy file without validating the rest of it
(ADR 0008). Anything that does not go plainly (an unreadable file, a bad option, an error
of any kind) is not printed here: `answer` returns None and the full CLI answers it, errors
included, in its words and with its exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dubnium import readout, readpath
from dubnium.codes import ExitCode
from dubnium.errors import DubniumError, RecordUnreadable, StateCorrupt
from dubnium.output import Output
from dubnium.records import AttemptRecord, Outcome, from_json
from dubnium.state import DirectoryStore, RuntimeState

if TYPE_CHECKING:
    from dubnium.audit import AuditLog
    from dubnium.backend import Backend
    from dubnium.history import HistoryQuery
    from dubnium.observe import Observation
    from dubnium.policy import Policy
    from dubnium.status import StatusView

# dubnium.policy's defaults, spelled here so `desired`, `history` and `last-transition` need
# not load the policy (a test keeps them equal).
DEFAULT_STATE_DIR = "/run/mode-controller"
DEFAULT_AUDIT_LOG = "/var/lib/mode-controller/events.jsonl"
OUTCOMES = tuple(o.value for o in Outcome)


# ------------------------------------------------------------------ what each verb says


def desired(runtime: RuntimeState) -> tuple[dict[str, Any], str]:
    """`mode desired`: (JSON, text)."""
    mode = runtime.read_desired()
    twin = runtime.read_json("desired.json")
    data = readout.stamp({"desired": mode.value if mode else None, "record": twin})
    return data, mode.value if mode else "none (no request since boot)"


def last_transition(runtime: RuntimeState) -> tuple[dict[str, Any], str]:
    """`mode last-transition`: (JSON, text); StateCorrupt when the file is not a record."""
    last = runtime.last_transition()
    if last is None:
        return readout.stamp({"record": None}), "no transition recorded"
    try:
        record = from_json(last)
    except RecordUnreadable:
        record = None
    if not isinstance(record, AttemptRecord):
        raise StateCorrupt("last-transition.json is not a transition record")
    return readout.record_json(last), readout.last_transition_text(record)


def history(audit: AuditLog, query: HistoryQuery, as_json: bool) -> list[str]:
    """`mode history`: the lines to print (JSON Lines, or text), read from the log's end."""
    entries = query.select_from_end(audit.newest_first())
    if as_json:
        return [readout.json_line(
            readout.record_json(e.record) if e.record is not None else
            readout.stamp({"segment": e.segment, "offset": e.offset, "raw": e.raw}))
            for e in entries]
    return ["\n".join(readout.history_line(e.record, e.where) for e in entries)
            or "no transitions recorded"]


def status_view(*, backend_name: str, backend: Backend, policy: Policy,
                runtime: RuntimeState, observation: Observation,
                needs_root: bool) -> StatusView:
    """`mode status`: everything it shows, from one observation and the state files."""
    from dubnium.backend import iso_timestamp
    from dubnium.status import StatusView
    from dubnium.studio import xruns_since_entry

    now_ns = backend.clock.wall_ns()
    return StatusView(
        backend=backend_name, desired=runtime.read_desired(),
        boot_default=policy.boot_default_mode, observation=observation,
        timestamp=iso_timestamp(now_ns), last=runtime.last_transition(),
        lock=aged(runtime.store.lock_held(), now_ns, policy.timeouts.lock_stale_s),
        placement={"studio": policy.placement.studio, "compute": policy.placement.compute},
        needs_root=needs_root,
        xruns_since_entry=xruns_since_entry(runtime, observation.evidence),  # issue 15
    )


def aged(lock: Mapping[str, Any] | None, now_ns: int,
         stale_s: float) -> Mapping[str, Any] | None:
    """The live holder's record with its age and whether it is over `stale_s`
    (`timeouts.lock_stale_s`; shown by `mode status`; nothing is broken automatically)."""
    if lock is None:
        return None
    age = lock_age_s(lock, now_ns)
    return {**lock, "age_s": age, "stale": age is not None and age > stale_s}


def lock_age_s(lock: Mapping[str, Any], now_ns: int) -> float | None:
    """How long the live holder has held the lock, from its record (None: cannot tell)."""
    at = readpath.timestamp_ns(lock.get("started_at"))
    return None if at is None else round(now_ns / 1e9 - at / 1e9, 3)


def status_output(view: StatusView, as_json: bool, waybar: bool) -> str:
    if waybar:
        return json.dumps(view.waybar(), sort_keys=True)
    return readout.dumps(view.to_json()) if as_json else view.text()


# ------------------------------------------------------------------ the fast path's answer


def answer(request: Mapping[str, Any], paths: Mapping[str, str], output: Output,
           host_backend: Callable[[Policy], Backend]) -> int | None:
    """Print the answer to a plain read verb on the host (see `dubnium_app.entry.parse`) and
    return its exit code; None, with nothing printed, to hand it to the full CLI.
    `host_backend` makes the live host's backend for `status` (the composition root's
    part: `dubnium` never imports a backend)."""
    verb = request["verb"]
    state_dir = request["state_dir"] or paths["state_dir"]
    runtime = RuntimeState(DirectoryStore(Path(state_dir)), state_dir)
    try:
        code: int = ExitCode.OK
        if verb == "desired":
            data, text = desired(runtime)
            lines = [readout.dumps(data) if request["json"] else text]
        elif verb == "last-transition":
            data, text = last_transition(runtime)
            lines = [readout.dumps(data) if request["json"] else text]
        elif verb == "history":
            lines = _history(request, paths["audit_log"])
        else:
            lines, code = _status(request, runtime, host_backend)
    except (DubniumError, ValueError, OSError, ImportError):
        return None
    for line in lines:
        output.echo(line)
    return code


def _history(request: Mapping[str, Any], audit_log: str) -> list[str]:
    from dubnium.audit import FileAuditLog
    from dubnium.history import HistoryQuery

    query = HistoryQuery.parse(request["limit"], request["since"], request["outcomes"],
                               OUTCOMES)  # a QueryError is a ValueError: the CLI says it
    return history(FileAuditLog(Path(audit_log)), query, request["json"])


def _status(request: Mapping[str, Any], runtime: RuntimeState,
            host_backend: Callable[[Policy], Backend]) -> tuple[list[str], int]:
    from dubnium.policyload import load_policy

    policy = load_policy(Path(request["config"]))
    if request["state_dir"] is None:  # the policy's, as the full CLI takes it
        state_dir = policy.paths.state_dir
        runtime = RuntimeState(DirectoryStore(Path(state_dir)), state_dir)
    backend = host_backend(policy)
    observation, _ = readpath.observe_json(backend, policy, runtime)
    view = status_view(backend_name="host", backend=backend, policy=policy, runtime=runtime,
                       observation=observation, needs_root=True)
    code = ExitCode.DIVERGED if request["check"] and not view.converged else ExitCode.OK
    return [status_output(view, request["json"], request["waybar"])], code


def paths_from(config: Mapping[str, Any]) -> dict[str, str] | None:
    """The state directory and audit log a policy document names (defaults where it names
    none); None when they are not plainly strings (the full CLI then reports the file)."""
    given = config.get("paths", {})
    if not isinstance(given, Mapping):
        return None
    found = {"state_dir": given.get("state_dir", DEFAULT_STATE_DIR),
             "audit_log": given.get("audit_log", DEFAULT_AUDIT_LOG)}
    if not all(isinstance(v, str) and os.path.isabs(v) for v in found.values()):
        return None
    return found
