"""The read path of `mode current`: the recorded observation while it is young, else a live one.

The observer timer (`mode current --refresh`, as root) and every transition write
`current.json`; its `timestamp` is the time of the evidence. `mode current` serves that file
while it is younger than `timeouts.current_max_age_s` (policy; 5 s by default) and observes
the host otherwise, or always with `--refresh`. Either way the JSON says where the answer
came from (`source`: `recorded` or `observed`) and how old its evidence is (`age_s`), and
the exit code is derived from that JSON alone, so both sources answer alike.

Called by `dubnium_app.entry` (the console script's fast path, which serves `mode current`
without loading the full CLI) and by `dubnium.verbs_read` (every other way in). Imports only the
standard library and the bottom layers at module level; the observer is imported when a
live observation is made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from dubnium.codes import ExitCode
from dubnium.modes import Mode

TYPE_CHECKING = False  # typing itself is not imported at run time (see dubnium_app.entry)
if TYPE_CHECKING:
    from typing import Any

    from dubnium.backend import Backend
    from dubnium.observe import Markers, Observation
    from dubnium.policy import Policy
    from dubnium.state import RuntimeState

RECORDED = "recorded"
OBSERVED = "observed"
SCHEMA_VERSION = 1
_MODES = frozenset(m.value for m in Mode)
# The reconciler's Outcome.FAILED as its records spell it (a test keeps the two equal).
FAILED_OUTCOME = "failed-transition"


def timestamp_ns(text: object) -> int | None:
    """An RFC 3339 timestamp of our records (`iso_timestamp`) as Unix nanoseconds."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return round(moment.timestamp() * 1_000_000) * 1000


def _aged(data: Mapping[str, Any], source: str, now_ns: int) -> dict[str, Any]:
    at = timestamp_ns(data.get("timestamp"))
    age = None if at is None else round(max(0, now_ns - at) / 1e9, 3)
    return {**data, "source": source, "age_s": age}


def recorded_if_fresh(
    record: Mapping[str, Any] | None, now_ns: int, max_age_s: float
) -> dict[str, Any] | None:
    """The recorded observation with its age, if it is ours and no older than `max_age_s`.

    A record from the future (the clock was set back) is not served: its age is unknown.
    """
    at = _observation_time(record)
    if record is None or at is None or not 0 <= now_ns - at <= max_age_s * 1e9:
        return None
    return _aged(record, RECORDED, now_ns)


def _observation_time(data: object) -> int | None:
    """The evidence time of an observation's JSON of ours (schema, state, timestamp), or None
    for anything else."""
    if not isinstance(data, Mapping) or data.get("schema_version") != SCHEMA_VERSION:
        return None
    if not isinstance(data.get("observed_state"), str):
        return None
    return timestamp_ns(data.get("timestamp"))


def observer_backoff(recorded: Mapping[str, Any] | None, now_ns: int,
                     backoff_s: float) -> str | None:
    """Why the observer timer's refresh may skip this run (None: observe now).

    While the recorded state is studio-local, `mode current --refresh` (the timer's job)
    observes at most every `studio.observe_backoff_s` (`backoff_s`): the audio graph is left
    alone. A record whose time cannot be read, or from the future, does not hold it back.
    """
    if not recorded or recorded.get("observed_state") != "studio-local":
        return None
    at = timestamp_ns(recorded.get("timestamp"))
    if at is None:
        return None
    age_s = (now_ns - at) / 1e9
    if 0 <= age_s < backoff_s:
        return (f"studio-local recorded {age_s:.0f} s ago: the observer backs off for "
                f"{backoff_s:g} s")
    return None


def backed_off(record: Mapping[str, Any], now_ns: int) -> dict[str, Any]:
    """The recorded observation a backed-off `--refresh` reprints, with its source and age
    like any recorded answer."""
    return _aged(record, RECORDED, now_ns)


def observed(data: Mapping[str, Any], now_ns: int) -> dict[str, Any]:
    """A live observation's JSON with its source and age."""
    return _aged(data, OBSERVED, now_ns)


def exit_code(data: Mapping[str, Any]) -> int:
    """0 only for a mode seen with all evidence read; otherwise say what is missing."""
    if data.get("degraded"):
        return ExitCode.DEGRADED
    evidence = data.get("evidence")
    if isinstance(evidence, Mapping) and evidence.get("unavailable"):
        return ExitCode.EVIDENCE_UNAVAILABLE
    if data.get("observed_state") in _MODES:
        return ExitCode.OK
    return ExitCode.NOT_CONVERGED


def notes(data: Mapping[str, Any]) -> list[str]:
    """What `mode current` prints on stderr beside the state: conflicts, missing evidence,
    and, for a recorded answer, its age."""
    lines = [f"conflict: {c}" for c in data.get("conflicts") or ()]
    evidence = data.get("evidence")
    missing = evidence.get("unavailable") if isinstance(evidence, Mapping) else None
    if isinstance(missing, Mapping):
        lines += [f"unavailable: {k}: {v}" for k, v in missing.items()]
    if data.get("source") == RECORDED:
        lines.append(f"recorded {data.get('age_s')} s ago (--refresh observes now)")
    return lines


# ------------------------------------------------------------------ the resident observer

# `mode current-server` (`backends.currentserver`, started by mode-current.socket) listens
# here, in the state directory; `dubnium_app.currentclient` asks it.
CURRENT_SOCKET = "current.sock"


def server_request(config: str, state_dir: str) -> bytes:
    """What a caller asks the resident observer: observe now with this config and state
    directory (absolute paths), as one JSON line."""
    question = {"v": SCHEMA_VERSION, "config": config, "state_dir": state_dir}
    return json.dumps(question, sort_keys=True).encode() + b"\n"


def parse_server_request(question: object) -> tuple[str, str] | None:
    """(config, state_dir) of a question `server_request` wrote, or None."""
    if not isinstance(question, dict) or question.get("v") != SCHEMA_VERSION:
        return None
    config, state_dir = question.get("config"), question.get("state_dir")
    if not isinstance(config, str) or not isinstance(state_dir, str):
        return None
    if not (config.startswith("/") and state_dir.startswith("/")):
        return None
    return config, state_dir


def server_answer(answer: object) -> dict[str, Any] | None:
    """The observation in the resident observer's answer, or None (refused, or not ours:
    the caller then observes in its own process)."""
    if not isinstance(answer, dict) or _observation_time(answer) is None:
        return None
    return answer


# ------------------------------------------------------------------ a live observation


def last_transition_failed(runtime: RuntimeState) -> bool:
    """The last record says failed-transition (an unreadable record says nothing)."""
    from dubnium.errors import StateCorrupt

    try:
        last = runtime.last_transition()
    except StateCorrupt:
        return False
    return bool(last and last.get("outcome") == FAILED_OUTCOME)


def markers(runtime: RuntimeState) -> Markers:
    """What the controller's own records add to the evidence: a held lock, a failed last
    transition."""
    from dubnium.observe import Markers

    return Markers(
        transition_in_progress=runtime.store.lock_held() is not None,
        last_transition_failed=last_transition_failed(runtime),
    )


def observe_now(backend: Backend, policy: Policy, runtime: RuntimeState) -> Observation:
    """Observe and classify now (the observer only: no planner, guards or reconciler)."""
    from dubnium.observe import classify

    return classify(backend.observe(), policy, markers(runtime))


def observe_json(
    backend: Backend, policy: Policy, runtime: RuntimeState
) -> tuple[Observation, dict[str, Any]]:
    """A live observation and its JSON, stamped with the time its evidence began to be read
    (so a served copy never understates its age)."""
    from dubnium.backend import iso_timestamp

    at = backend.clock.wall_ns()
    observation = observe_now(backend, policy, runtime)
    return observation, observation.to_json(iso_timestamp(at))
