"""What a switch will close, said before it does: the confirmation of `mode request compute`.

Called by `dubnium.cli_views` when the plan ends the graphical session (a `TerminateSessions` step)
and `mode` runs on a terminal: the owner sees the graphical sessions and their users, the open
windows where the compositor can say (`hyprctl clients -j` under Hyprland, read by
`backends/windows.py`), the GPU holders and the audio streams, and answers. Pure: built from
one `HostFacts` snapshot plus the windows the CLI could list. Units, scripts and callers
without a terminal are never asked (`needs_prompt`); `--yes` skips the question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from dubnium import evidence as ev
from dubnium import plan as p
from dubnium.facts import HostFacts, Unavailable


@attrs.frozen
class Closing:
    """Everything a switch will end, as lines a person reads."""

    sessions: tuple[str, ...]
    windows: tuple[str, ...]
    windows_note: str  # why windows are not listed, when they are not
    gpu_holders: tuple[str, ...]
    audio: tuple[str, ...]
    unreadable: tuple[str, ...]

    def lines(self) -> list[str]:
        out = ["This switch ends the graphical session:"]
        out += [f"  session {s}" for s in self.sessions] or ["  (no graphical session now)"]
        if self.windows:
            out.append("open windows (unsaved work in them is lost):")
            out += [f"  {w}" for w in self.windows]
        elif self.windows_note:
            out.append(f"open windows: {self.windows_note}")
        if self.gpu_holders:
            out.append("processes on the GPUs (stopped or moved):")
            out += [f"  {g}" for g in self.gpu_holders]
        if self.audio:
            out.append("audio that will stop:")
            out += [f"  {a}" for a in self.audio]
        out += [f"not known: {u}" for u in self.unreadable]
        return out


def ends_gui(the_plan: p.Plan) -> bool:
    """The plan ends the graphical session (desktop or studio-local -> compute)."""
    return any(isinstance(s, p.TerminateSessions) for leg in the_plan.legs for s in leg.steps)


def needs_prompt(the_plan: p.Plan, *, yes: bool, interactive: bool) -> bool:
    """Ask only a person at a terminal, only before the GUI goes, never with --yes."""
    return ends_gui(the_plan) and interactive and not yes


def what_closes(facts: HostFacts, windows: Sequence[Mapping[str, str]] | str) -> Closing:
    """`windows`: the compositor's clients (class, title, user), or why none could be read."""
    unreadable = []
    sessions = ev.graphical_sessions(facts)
    if isinstance(sessions, Unavailable):
        unreadable.append(f"sessions ({sessions.reason})")
        session_lines: tuple[str, ...] = ()
    else:
        session_lines = tuple(f"{s.id}: {s.user} ({s.type}, {s.state})" for s in sessions)
    gpu_lines = []
    if isinstance(facts.gpus, Unavailable):
        unreadable.append(f"GPU processes ({facts.gpus.reason})")
    else:
        for gpu in facts.gpus:
            for proc in gpu.processes:
                mem = f", {proc.used_mib} MiB" if proc.used_mib is not None else ""
                gpu_lines.append(f"GPU {gpu.index}: {proc.name} (pid {proc.pid}, "
                                 f"{proc.kind.value}{mem})")
    audio_lines = []
    if isinstance(facts.audio, Unavailable):
        unreadable.append(f"audio ({facts.audio.reason})")
    else:
        for node in (*facts.audio.busy_streams, *facts.audio.jack_clients):
            who = node.app_name or node.name
            audio_lines.append(f"{who}" + (f" (pid {node.app_pid})" if node.app_pid else "")
                               + (" [JACK]" if node.is_jack_client else ""))
    if isinstance(windows, str):
        window_lines: tuple[str, ...] = ()
        note = windows
    else:
        window_lines = tuple(f"{w.get('class', '?')}: {w.get('title', '')}"
                             + (f" ({w['user']})" if w.get("user") else "") for w in windows)
        note = "" if window_lines else "none"
    return Closing(session_lines, window_lines, note, tuple(gpu_lines),
                   tuple(dict.fromkeys(audio_lines)), tuple(unreadable))
