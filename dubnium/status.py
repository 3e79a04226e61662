"""What `mode status` says, for a person, a script, a status bar and a metrics scraper.

Called by `dubnium.cli` (`mode status [--json|--waybar|--check]`, and `mode current
--refresh`, which writes the node-exporter textfile). Pure: it is given the observation, the
records and the lock, and returns text or JSON-ready values. Honest by construction: the
observed state comes from observation only; the last attempt's blockers are labelled as the
last attempt's, with their time; a busy lock whose holder cannot be read says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from dubnium.errors import StorageError
from dubnium.fsutil import atomic_write
from dubnium.modes import Mode, ObservedState
from dubnium.observe import Observation
from dubnium.readout import lock_text, observation_text, stamp
from dubnium.tally import Tally


@attrs.frozen
class StatusView:
    """Everything `mode status` shows, gathered by the CLI."""

    backend: str
    desired: Mode | None
    boot_default: Mode
    observation: Observation
    timestamp: str
    last: Mapping[str, Any] | None
    lock: Mapping[str, Any] | None
    placement: Mapping[str, str]
    needs_root: bool
    xruns_since_entry: int | None = None  # studio-local: PipeWire xruns since entry (issue 15)

    @property
    def simulated(self) -> bool:
        return self.backend == "sim"

    @property
    def wanted(self) -> Mode:
        """The mode the host should be in: desired, or the boot default before any request."""
        return self.desired or self.boot_default

    @property
    def converged(self) -> bool:
        return self.lock is None and self.observation.state.mode is self.wanted

    @property
    def converge_command(self) -> str | None:
        """The command that would converge, or None when nothing is to be done or running."""
        if self.converged or self.lock is not None:
            return None
        sudo = "sudo " if self.needs_root else ""
        return f"{sudo}mode reconcile {self.wanted.value}"

    def last_json(self) -> dict[str, Any] | None:
        last = self.last
        if last is None:
            return None
        return {
            "target": last.get("requested"),
            "from": last.get("from"),
            "outcome": last.get("outcome"),
            "exit_code": last.get("exit_code"),
            "summary": last.get("summary"),
            "started_at": last.get("started_at"),
            "finished_at": last.get("finished_at"),
            "observed_state": last.get("final_state"),
            "blocking": list(last.get("blocking") or []),
        }

    def to_json(self) -> dict[str, Any]:
        return stamp({
            "backend": self.backend,
            "simulated": self.simulated,
            "desired": self.desired.value if self.desired else None,
            "target": self.wanted.value,
            "observed_state": self.observation.state.value,
            "current": self.observation.to_json(self.timestamp),
            "converged": self.converged,
            "converge_command": self.converge_command,
            "last_transition": self.last_json(),
            "capability_placement": dict(self.placement),
            **({"xruns_since_entry": self.xruns_since_entry}
               if self.observation.state is ObservedState.STUDIO_LOCAL else {}),
            "lock": None if self.lock is None else {
                "held": True,
                "pid": self.lock.get("pid") if isinstance(self.lock.get("pid"), int) else None,
                "target": self.lock.get("target"),
                "started_at": self.lock.get("started_at"),
                "attempt": self.lock.get("attempt"),
                "age_s": self.lock.get("age_s"),
                "stale": bool(self.lock.get("stale")),
            },
        })

    def text(self) -> str:
        lines = []
        if self.simulated:
            lines.append("backend:   SIMULATOR (a simulated workstation, not this machine)")
        lines.append(f"desired:   {self.desired.value if self.desired else 'none'}"
                     + ("" if self.desired else
                        f" (no request since boot; boot default {self.boot_default.value})"))
        lines.append(f"observed:  {observation_text(self.observation)}")
        if self.lock is not None:
            lines.append(f"lock:      {lock_text(self.lock)}")
            lines.append("converged: no, a transition is running now")
        elif self.converged:
            lines.append(f"converged: yes ({self.wanted.value})")
        else:
            lines.append(f"converged: no; to converge: {self.converge_command}")
        last = self.last_json()
        if last is not None:
            lines.append(f"last attempt: {last['outcome']} ({last['target']}, finished "
                         f"{last['finished_at']}): {last['summary']}")
            if last["blocking"]:
                lines.append(f"  blocked then by: {', '.join(last['blocking'])} (as of "
                             f"{last['finished_at']}; `mode guards {last['target']}` checks "
                             "now)")
        lines.append(f"placement: studio {self.placement.get('studio')}, "
                     f"compute {self.placement.get('compute')}")
        if self.observation.state is ObservedState.STUDIO_LOCAL:
            xruns = self.xruns_since_entry
            lines.append(f"xruns:     {'unknown (not exposed here)' if xruns is None else xruns}"
                         " since studio-local was entered")
        return "\n".join(lines)

    def waybar(self) -> dict[str, Any]:
        """One waybar custom-module object: text, alt, tooltip, class."""
        state = self.observation.state
        classes = [state.value, "converged" if self.converged else "diverged"]
        if self.lock is not None:
            classes.append("busy")
        if self.simulated:
            classes.append("simulated")
        tooltip = [f"observed: {state.value} ({self.observation.confidence.value})",
                   f"desired: {self.desired.value if self.desired else 'none'}"]
        if self.lock is not None:
            tooltip.append(f"lock: {lock_text(self.lock)}")
        if self.last is not None:
            tooltip.append(f"last: {self.last.get('outcome')} at {self.last.get('finished_at')}")
        if self.simulated:
            tooltip.append("backend: simulator")
        text = state.value if self.lock is None else f"{state.value} -> {self.lock.get('target')}"
        return {"text": text, "alt": state.value, "tooltip": "\n".join(tooltip),
                "class": classes}


# ----------------------------------------------------------------------- node-exporter textfile


def write_textfile(path: Path, text: str) -> None:
    """Atomically, so node-exporter never reads half a file."""
    try:
        atomic_write(path, text.encode())
    except OSError as exc:
        raise StorageError(f"cannot write the metrics textfile {path}: {exc.strerror}") from None


def _label(value: object) -> str:
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(view: StatusView, tally: Tally) -> str:
    """The Prometheus text exposition for node-exporter's textfile collector; the counters
    are the audit log's totals (`dubnium.tally`)."""
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str,
               samples: Iterable[tuple[Mapping[str, object], float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}")

    state = view.observation.state
    metric("dubnium_observed_state", "gauge", "1 for the observed state, 0 for the others.",
           [({"state": s.value}, float(s is state)) for s in ObservedState])
    metric("dubnium_desired_mode", "gauge", "1 for the desired mode, 0 for the others.",
           [({"mode": m.value}, float(m is view.desired)) for m in Mode])
    metric("dubnium_converged", "gauge", "1 when the observed state is the desired mode.",
           [({}, float(view.converged))])
    metric("dubnium_transition_running", "gauge", "1 while a transition holds the lock.",
           [({}, float(view.lock is not None))])
    last = view.last_json()
    if last is not None:
        metric("dubnium_last_transition_info", "gauge", "The last attempt's target and outcome.",
               [({"target": last["target"], "outcome": last["outcome"]}, 1.0)])
        if isinstance(last["exit_code"], int):
            metric("dubnium_last_transition_exit_code", "gauge", "The last attempt's exit code.",
                   [({}, float(last["exit_code"]))])
    durations = sorted(tally.durations.items())
    metric("dubnium_transitions_total", "counter", "Transition attempts in the audit log.",
           [({"outcome": k}, float(v)) for k, v in sorted(tally.outcomes.items())])
    metric("dubnium_guard_blocks_total", "counter", "Attempts blocked, by guard.",
           [({"guard": k}, float(v)) for k, v in sorted(tally.blocks.items())])
    metric("dubnium_transition_duration_seconds_sum", "counter",
           "Total duration of transition attempts.",
           [({"target": t, "outcome": o}, total) for (t, o), (total, _) in durations])
    metric("dubnium_transition_duration_seconds_count", "counter",
           "Transition attempts with a duration.",
           [({"target": t, "outcome": o}, float(count)) for (t, o), (_, count) in durations])
    return "\n".join(out) + "\n"
