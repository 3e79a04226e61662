"""The simulator's virtual clock, event queue and seeded streams."""

from __future__ import annotations

import pytest

from simulator.clock import DEFAULT_WALL_EPOCH_NS, NS_PER_S, Event, Scheduler, SimClock
from simulator.rng import SplitMix64, Streams, derive


def _run(scheduler: Scheduler, t_ns: int) -> list[str]:
    seen: list[str] = []
    scheduler.run_until(t_ns, lambda e: seen.append(e.kind))
    return seen


def test_events_run_in_time_order_and_in_scheduling_order_at_equal_times() -> None:
    """Equal times run in the order scheduled; earlier times first."""
    s = Scheduler()
    s.schedule(5, "late")
    s.schedule(1, "first")
    s.schedule(1, "second")
    s.schedule(1, "third")
    assert ["first", "second", "third", "late"] == _run(s, 10)


def test_run_until_stops_at_the_bound_and_stands_there() -> None:
    """Events after the bound stay pending; the clock stands at the bound."""
    s = Scheduler()
    s.schedule(10, "later")
    assert [] == _run(s, 9)
    assert 9 == s.now_ns
    assert ["later"] == [e.kind for e in s.pending()]


def test_handlers_can_schedule_at_the_current_instant() -> None:
    """An event scheduled by a handler for `now` runs in the same call."""
    s = Scheduler()
    seen: list[str] = []

    def handle(event: Event) -> None:
        seen.append(event.kind)
        if event.kind == "a":
            s.schedule(0, "b")

    s.schedule(3, "a")
    s.run_until(3, handle)
    assert ["a", "b"] == seen


def test_the_clock_refuses_to_go_backwards() -> None:
    """run_until before now and negative delays are errors."""
    s = Scheduler(now_ns=100)
    with pytest.raises(ValueError, match="backwards"):
        s.run_until(99, lambda e: None)
    with pytest.raises(ValueError, match="past"):
        s.schedule(-1, "x")


def test_sim_clock_sleep_runs_the_world_and_wall_time_starts_at_the_epoch() -> None:
    """sleep(s) runs events up to now+s; wall time is the virtual epoch plus monotonic time."""
    s = Scheduler()
    seen: list[str] = []
    clock = SimClock(s, lambda t: s.run_until(t, lambda e: seen.append(e.kind)),
                     lambda: DEFAULT_WALL_EPOCH_NS)
    s.schedule(NS_PER_S // 2, "half")
    s.schedule(2 * NS_PER_S, "two")
    clock.sleep(1.0)
    assert (["half"], NS_PER_S) == (seen, clock.monotonic_ns())
    assert DEFAULT_WALL_EPOCH_NS + NS_PER_S == clock.wall_ns()


def test_named_streams_are_stable_and_independent() -> None:
    """A stream depends only on the seed and its name (BLAKE2b), not on other streams."""
    a = Streams(42)
    first = a.stream("gpu").random()
    b = Streams(42)
    b.stream("other").random()
    assert first == b.stream("gpu").random()
    assert derive(42, "gpu") != derive(42, "gpus")
    assert derive(42, "gpu") != derive(43, "gpu")


def test_derive_is_pinned_across_processes_and_versions() -> None:
    """The derivation is BLAKE2b of "seed:name", never hash(): a fixed value."""
    import hashlib

    expected = int.from_bytes(hashlib.blake2b(b"7:boot:0", digest_size=8).digest(), "big")
    assert expected == derive(7, "boot:0")


def test_splitmix_state_round_trips_through_json() -> None:
    """A stream rebuilt from its saved state continues with the same numbers."""
    streams = Streams(5)
    rng = streams.stream("jobs")
    rng.random()
    saved = streams.to_json()
    expected = [rng.random() for _ in range(5)] + [rng.randrange(1000)]
    again = Streams.from_json(saved).stream("jobs")
    assert expected == [again.random() for _ in range(5)] + [again.randrange(1000)]


def test_splitmix_draws_are_in_range() -> None:
    """random() is in [0, 1) and getrandbits(k) has at most k bits."""
    rng = SplitMix64(1)
    values = [rng.random() for _ in range(1000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert all(rng.getrandbits(7) < 128 for _ in range(1000))


def test_paced_clock_runs_the_same_events_and_lets_real_time_pass() -> None:
    """PacedClock: same events at the same virtual times as SimClock; pace x the real time."""
    from simulator.clock import PacedClock

    def world() -> tuple[Scheduler, SimClock, list[tuple[int, str]]]:
        scheduler = Scheduler()
        seen: list[tuple[int, str]] = []
        for at_s, kind in ((0.1, "a"), (2.0, "b"), (2.0, "c"), (21.5, "d")):
            scheduler.schedule(round(at_s * NS_PER_S), kind)

        def run_until(t_ns: int) -> int:
            return scheduler.run_until(t_ns, lambda e: seen.append((scheduler.now_ns, e.kind)))

        return scheduler, SimClock(scheduler, run_until, lambda: DEFAULT_WALL_EPOCH_NS), seen

    plain_sched, plain, plain_seen = world()
    paced_sched, inner, paced_seen = world()
    slept: list[float] = []
    paced = PacedClock(inner, 0.5, slept.append)
    plain.sleep(22.0)
    paced.sleep(22.0)
    assert (paced_seen, paced_sched.now_ns, round(sum(slept), 6)) == (
        plain_seen, plain_sched.now_ns, 11.0)
