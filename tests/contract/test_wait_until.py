"""The contract harnesses' one `wait_until`: it waits on the backend's clock, whichever
backend that is."""

from __future__ import annotations

import pytest

from dubnium.backend import Clock
from dubnium.facts import HostFacts
from simulator.backend import SimBackend
from simulator.world import World
from tests.contract.harness import POLL_S, SimHarness, Waits


def test_a_wait_that_never_succeeds_ends_after_the_timeout_in_virtual_time() -> None:
    """In the simulator the timeout is virtual: the world's clock moves on by it, then the
    wait fails naming what it waited for."""
    harness = SimHarness()
    before = harness.world.now_ns
    with pytest.raises(AssertionError, match="sim: not never after 2 s"):
        harness.wait_until("never", lambda f: False, timeout_s=2.0)
    waited = (harness.world.now_ns - before) / 1e9
    assert (True, True) == (2.0 <= waited, waited < 2.0 + 2 * POLL_S)


def test_a_wait_returns_the_first_observation_that_satisfies_it() -> None:
    """A condition that holds after 3 virtual seconds is met then, with that observation."""
    harness = SimHarness()
    start = harness.world.now_ns

    def later(facts: HostFacts) -> bool:
        return facts.observed_at_ns - start >= 3_000_000_000

    facts = harness.wait_until("three seconds on", later)
    assert True is (3e9 <= facts.observed_at_ns - start < 3e9 + 2 * POLL_S * 1e9)


class _CountingClock:
    """A clock that only counts sleeps (as the host's RealClock would sleep)."""

    def __init__(self) -> None:
        self.now_ns = 0
        self.sleeps: list[float] = []

    def monotonic_ns(self) -> int:
        return self.now_ns

    def wall_ns(self) -> int:
        return self.now_ns

    def quiet_until_ns(self) -> int | None:
        return None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_ns += round(seconds * 1e9)


class _OnItsClock(SimBackend):
    """A backend whose clock is not the world's: the wait must use this one."""

    def __init__(self, world: World, clock: _CountingClock) -> None:
        super().__init__(world)
        self._own = clock

    @property
    def clock(self) -> Clock:
        return self._own


def test_the_wait_sleeps_on_the_backends_clock_and_nowhere_else() -> None:
    """Every pause between observations is a sleep on the backend's clock (no time.sleep)."""
    clock = _CountingClock()
    waits = Waits()
    waits.backend = _OnItsClock(World.create(seed=1), clock)
    with pytest.raises(AssertionError):
        waits.wait_until("never", lambda f: False, timeout_s=0.5)
    assert [POLL_S] * 10 == clock.sleeps
