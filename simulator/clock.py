"""Virtual time: an integer-nanosecond clock and the world's event queue.

Used by `simulator.world.World` (which owns one `Scheduler` and dispatches its events) and
handed to the controller as `SimClock`, the simulator's `dubnium.backend.Clock`. Events are
data (a kind and JSON-scalar arguments), so pending events persist with the world and a fault
plan can describe them. Equal times run in scheduling order (a sequence number); time never
goes backwards.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from typing import Any

import attrs

NS_PER_S = 1_000_000_000
# 2026-01-01T00:00:00Z: the virtual wall clock starts here, so timestamps are deterministic.
DEFAULT_WALL_EPOCH_NS = 1_767_225_600 * NS_PER_S


def seconds_to_ns(seconds: float) -> int:
    """Whole nanoseconds for a duration in seconds (refuses negative durations)."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {seconds} s")
    return round(seconds * NS_PER_S)


@attrs.frozen
class Event:
    """One scheduled happening: `kind` names the world's handler, `args` are JSON scalars."""

    at_ns: int
    seq: int
    kind: str
    args: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> list[Any]:
        return [self.at_ns, self.seq, self.kind, dict(self.args)]

    @classmethod
    def from_json(cls, data: Any) -> Event:
        at_ns, seq, kind, args = data
        if not (isinstance(at_ns, int) and isinstance(seq, int) and isinstance(kind, str)):
            raise ValueError(f"malformed event {data!r}")
        if not isinstance(args, dict):
            raise ValueError(f"malformed event arguments {args!r}")
        return cls(at_ns, seq, kind, args)


class Scheduler:
    """The event heap and the current virtual time."""

    def __init__(self, now_ns: int = 0, next_seq: int = 0) -> None:
        self.now_ns = now_ns
        self.next_seq = next_seq
        self._heap: list[tuple[int, int, Event]] = []

    def schedule(self, delay_ns: int, kind: str, args: Mapping[str, Any] | None = None) -> Event:
        """Schedule `kind` to happen `delay_ns` from now."""
        if delay_ns < 0:
            raise ValueError(f"cannot schedule {kind} in the past ({delay_ns} ns)")
        event = Event(self.now_ns + delay_ns, self.next_seq, kind, dict(args or {}))
        self.next_seq += 1
        heapq.heappush(self._heap, (event.at_ns, event.seq, event))
        return event

    def push(self, event: Event) -> None:
        """Put back an event read from a saved world (keeps its time and sequence number)."""
        heapq.heappush(self._heap, (event.at_ns, event.seq, event))
        self.next_seq = max(self.next_seq, event.seq + 1)

    def next_at(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def pending(self) -> list[Event]:
        """The pending events in the order they will run."""
        return [entry[2] for entry in sorted(self._heap)]

    def clear(self) -> None:
        self._heap.clear()

    def run_until(self, t_ns: int, dispatch: Callable[[Event], None]) -> int:
        """Run every event due at or before `t_ns` in order, then stand at `t_ns`.

        Returns the number of events run. Handlers may schedule more events, including at
        the current time; those run in the same call.
        """
        if t_ns < self.now_ns:
            raise ValueError(
                f"the virtual clock cannot go backwards (now {self.now_ns} ns, asked {t_ns} ns)"
            )
        count = 0
        heap = self._heap
        while heap and heap[0][0] <= t_ns:
            _, _, event = heapq.heappop(heap)
            self.now_ns = event.at_ns
            dispatch(event)
            count += 1
        self.now_ns = t_ns
        return count


class SimClock:
    """`dubnium.backend.Clock` over virtual time: `sleep` runs the world until then."""

    def __init__(self, scheduler: Scheduler, run_until: Callable[[int], object],
                 wall_epoch_ns: Callable[[], int]) -> None:
        self._scheduler = scheduler
        self._run_until = run_until
        self._wall_epoch_ns = wall_epoch_ns

    def monotonic_ns(self) -> int:
        return self._scheduler.now_ns

    def wall_ns(self) -> int:
        return self._wall_epoch_ns() + self._scheduler.now_ns

    def sleep(self, seconds: float) -> None:
        self._run_until(self._scheduler.now_ns + seconds_to_ns(seconds))

    def advance_to_ns(self, t_ns: int) -> None:
        """Run the world until `t_ns` (monotonic), as `sleep` does."""
        self._run_until(t_ns)

    def quiet_until_ns(self) -> int | None:
        """When the world next changes by itself (its next event); None: never.

        The reconciler's waits use it to skip polls that could only see the same facts.
        """
        return self._scheduler.next_at()


class PacedClock:
    """A SimClock that also lets real time pass: `pace` real seconds per virtual second.

    For watching a simulated switch as a person would (`DUBNIUM_SIM_PACE=0.25 mode request
    compute` in a terminal: progress lines arrive as on a real machine, a `mode cancel` from
    another terminal lands during a wait). Decisions and virtual times are the same as
    unpaced; only the wall clock is slower.
    """

    def __init__(self, inner: SimClock, pace: float, real_sleep: Callable[[float], None]) -> None:
        self._inner = inner
        self._pace = pace
        self._real_sleep = real_sleep

    def monotonic_ns(self) -> int:
        return self._inner.monotonic_ns()

    def wall_ns(self) -> int:
        return self._inner.wall_ns()

    CHUNK_NS = 250_000_000  # virtual time advances in steps a watcher can see

    def sleep(self, seconds: float) -> None:
        now = self._inner.monotonic_ns()
        target = now + seconds_to_ns(seconds)
        while now < target:
            step = min(target, now + self.CHUNK_NS)
            self._real_sleep((step - now) / 1e9 * self._pace)
            self._inner.advance_to_ns(step)
            now = step
        if seconds <= 0:
            self._inner.sleep(seconds)

    def quiet_until_ns(self) -> int | None:
        return self._inner.quiet_until_ns()
