"""One interface over the two backends the contract suite runs against.

Used by tests/contract/test_backend_contract.py. A harness gives the backend under test,
its policy, a way to let time pass until a condition holds (virtual time in the simulator,
real time on the test host), and the outside stimuli a test needs (a real `pw-play` stream
or a simulated one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

from dubnium.backend import Backend
from dubnium.facts import HostFacts
from dubnium.policy import Policy
from simulator.backend import SimBackend

POLL_S = 0.05  # seconds between observations, on the backend's clock


class Harness(Protocol):
    name: str
    backend: Backend
    policy: Policy

    def wait_until(
        self, what: str, ready: Callable[[HostFacts], bool], timeout_s: float = 15.0
    ) -> HostFacts:
        """Observe until `ready(facts)`; AssertionError naming `what` after the timeout."""
        ...

    def audio_playing(self) -> contextlib.AbstractContextManager[None]: ...

    def set_idle_hint(self, idle: bool) -> None:
        """The owner's graphical session reports idle (what hypridle does), from inside it."""
        ...

    def inhibitor(self, who: str, why: str) -> contextlib.AbstractContextManager[None]:
        """A real (or simulated) `systemd-inhibit --what=idle --who=WHO --why=WHY sleep`."""
        ...

    def restore(self) -> None:
        """Back to the desktop the host booted into (between tests)."""
        ...


class Waits:
    """The one `wait_until` of both harnesses, on the backend's own clock."""

    backend: Backend

    def wait_until(
        self, what: str, ready: Callable[[HostFacts], bool], timeout_s: float = 15.0
    ) -> HostFacts:
        """Observe until `ready(facts)`; between observations sleep on the backend's clock
        (virtual time in the simulator, where a sleep runs the world's events; real time on
        the test host); AssertionError naming `what` once `timeout_s` passed on that clock."""
        clock = self.backend.clock
        deadline = clock.monotonic_ns() + round(timeout_s * 1e9)
        while True:
            facts = self.backend.observe()
            if ready(facts):
                return facts
            if clock.monotonic_ns() >= deadline:
                raise AssertionError(f"{self.backend.name}: not {what} after {timeout_s:g} s")
            clock.sleep(POLL_S)


class SimHarness(Waits):
    name = "sim"

    def __init__(self, seed: int = 0) -> None:
        from simulator.world import World

        self.world = World.create(seed=seed)
        self.world.settle()
        self.backend: Backend = SimBackend(self.world)
        self.policy = self.world.policy

    @contextlib.contextmanager
    def audio_playing(self) -> Iterator[None]:
        self.world.start_audio_stream("pw-play")
        try:
            yield
        finally:
            self.world.stop_audio_stream("pw-play")

    def set_idle_hint(self, idle: bool) -> None:
        self.world.seat.set_idle_hint(idle)

    @contextlib.contextmanager
    def inhibitor(self, who: str, why: str) -> Iterator[None]:
        self.world.seat.take_inhibitor("idle", who, why)
        try:
            yield
        finally:
            self.world.seat.release_inhibitor(who)

    def restore(self) -> None:
        pass  # a fresh world per test


class HostHarness(Waits):
    name = "host"

    def __init__(self, host: object) -> None:
        from backends.host import HostBackend
        from dubnium.policyload import load_policy_data
        from tests.host.testhost import TestHost, host_policy_json

        assert isinstance(host, TestHost)
        self.host = host
        self.policy = load_policy_data(host_policy_json())
        self.backend = HostBackend.for_namespace(self.policy, host.pid)

    @contextlib.contextmanager
    def audio_playing(self) -> Iterator[None]:
        with self.host.playing_audio():
            yield

    def set_idle_hint(self, idle: bool) -> None:
        from tests.host.test_idle import IN_SESSION, set_idle_hint
        from tests.host.testhost import INNER

        self.host.outside(INNER / "in-session.sh").write_text(IN_SESSION)
        set_idle_hint(self.host, self.host.sessions()[0]["id"], idle)

    @contextlib.contextmanager
    def inhibitor(self, who: str, why: str) -> Iterator[None]:
        unit = f"dubnium-contract-inhibit-{who}"
        self.host.run("systemd-run", f"--unit={unit}", "--collect", "--quiet",
                      "systemd-inhibit", "--what=idle", f"--who={who}", f"--why={why}",
                      "sleep", "600")
        try:
            self.host.wait_for(f"{who}'s lock", lambda: who in self.host.run(
                "systemd-inhibit", "--list", "--no-pager", check=False).stdout, 10)
            yield
        finally:
            self.host.systemctl("stop", f"{unit}.service", check=False)

    def restore(self) -> None:
        self.host.restore_desktop()
