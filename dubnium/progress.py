"""Progress of a transition as a person watches it: one stderr line per step as it starts and
as it ends (with its elapsed time and its bound), and on a terminal a live status line.

Called by `dubnium.verbs_switch` for the mutating verbs, through the reconciler's `Reporter` hooks
(`dubnium.reconcile.Reporter`); `Tee` fans the hooks out to several reporters (the terminal
and the journal). Time comes from the injected clock only: virtual in the simulator, real on
the host. No colour when NO_COLOR is set or stderr is not a terminal; `--quiet` prints
nothing. The live line is drawn by rich (which typer brings) and only on a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TextIO

from dubnium import plan as p
from dubnium.backend import Clock
from dubnium.modes import Mode
from dubnium.reconcile import Reporter
from dubnium.records import Record

# Shown before the step that ends the graphical session: the terminal may go with it.
FOLLOW_HINT = ("this terminal may close with the graphical session; follow the switch with "
               "`journalctl -f -t mode` or `mode status`")


def bound_of(step: p.Step) -> float | None:
    bound = getattr(step, "bound_s", None)
    return float(bound) if isinstance(bound, int | float) else None


def _seconds(ns: int) -> str:
    return f"{ns / 1e9:.1f} s"


class Tee(Reporter):
    """Every hook, to every reporter in turn."""

    def __init__(self, reporters: Sequence[Reporter]) -> None:
        self.reporters = tuple(reporters)

    def attempt_started(self, attempt_id: str, target: Mode) -> None:
        for r in self.reporters:
            r.attempt_started(attempt_id, target)

    def step_started(self, leg: str, step: p.Step) -> None:
        for r in self.reporters:
            r.step_started(leg, step)

    def step_finished(self, leg: str, step: p.Step, status: str, detail: str) -> None:
        for r in self.reporters:
            r.step_finished(leg, step, status, detail)

    def attempt_finished(self, record: Record) -> None:
        for r in self.reporters:
            r.attempt_finished(record)


class LineProgress(Reporter):
    """One line per step start and end on a text stream; an optional live line beside it."""

    def __init__(self, clock: Clock, stream: TextIO, *, live: bool = False,
                 color: bool = False) -> None:
        self.clock = clock
        self.stream = stream
        self.color = color
        self.lines: list[str] = []  # what was printed (tests read it)
        self._t0 = 0
        self._attempt_t0 = 0
        self._count = 0
        self._current = ""
        self._live: Any = None
        self._console: Any = None
        if live:
            from rich.console import Console

            self._console = Console(file=stream, no_color=not color, highlight=False)

    # ------------------------------------------------------------- context

    def __enter__(self) -> Self:
        if self._console is not None:
            from rich.live import Live

            self._live = Live(_LiveLine(self), console=self._console, transient=True,
                              refresh_per_second=8)
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # ------------------------------------------------------------- hooks

    def _say(self, text: str, style: str = "") -> None:
        self.lines.append(text)
        if self._console is not None:
            self._console.print(f"mode: {text}", style=style or None, markup=False)
        else:
            self.stream.write(f"mode: {text}\n")
            self.stream.flush()

    def attempt_started(self, attempt_id: str, target: Mode) -> None:
        self._attempt_t0 = self.clock.monotonic_ns()
        self._say(f"switching to {target.value} (attempt {attempt_id})", "bold")

    def step_started(self, leg: str, step: p.Step) -> None:
        self._count += 1
        self._t0 = self.clock.monotonic_ns()
        self._current = f"{leg} step {self._count}: {step.describe()}"
        if isinstance(step, p.TerminateSessions):
            self._say(FOLLOW_HINT, "yellow")
        self._say(f"[{leg} {self._count}] start: {step.describe()}")

    def step_finished(self, leg: str, step: p.Step, status: str, detail: str) -> None:
        took = self.clock.monotonic_ns() - self._t0
        bound = bound_of(step)
        timing = _seconds(took) + (f" of {bound:g} s" if bound is not None else "")
        word = "done" if status == "ok" else "FAILED"
        self._say(f"[{leg} {self._count}] {word} in {timing}: {detail}",
                  "green" if status == "ok" else "bold red")
        self._current = ""

    def attempt_finished(self, record: Record) -> None:
        took = self.clock.monotonic_ns() - self._attempt_t0 if self._attempt_t0 else 0
        self._say(f"{record.outcome.value} after {_seconds(took)}: {record.summary}",
                  "bold")

    def live_text(self) -> str:
        """The live line: the running step and how long it has run, against its bound."""
        if not self._current:
            return ""
        return f"… {self._current} — {_seconds(self.clock.monotonic_ns() - self._t0)}"


class _LiveLine:
    """A rich renderable that asks the reporter for its line at every refresh."""

    def __init__(self, progress: LineProgress) -> None:
        self.progress = progress

    def __rich__(self) -> str:
        return self.progress.live_text()


class _Quiet(Reporter):
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def wants_color(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return stream.isatty() and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


def for_terminal(clock: Clock, *, quiet: bool, stream: TextIO | None = None,
                 env: Mapping[str, str] | None = None) -> LineProgress | _Quiet:
    """The reporter the CLI uses: lines on stderr, live on a terminal, nothing with --quiet."""
    if quiet:
        return _Quiet()
    out = stream or sys.stderr
    environ = os.environ if env is None else env
    tty = out.isatty() and environ.get("TERM") != "dumb"
    return LineProgress(clock, out, live=tty, color=wants_color(out, environ))
