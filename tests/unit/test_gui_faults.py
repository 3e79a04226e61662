"""The graphical-stack faults do to the simulated world what their names say."""

from __future__ import annotations

from simulator import gui_faults
from simulator.backend import SimBackend
from simulator.world import World


def _sessions(world: World) -> list[tuple[str, str, str]]:
    return [(s.user, s.class_, s.state) for s in world.logind.sessions.values()]


def test_the_greeter_retakes_the_display_gpu_while_the_display_manager_stops() -> None:
    """A slow display-manager stop shows the greeter on GPU 0 until the manager is down."""
    world = World.create(seed=3)
    gui_faults.greeter_retakes_gpu(world, 5.0)
    SimBackend(world).stop_unit(world.policy.units.display_manager)
    world.advance(1.5)
    assert ([("greeter", "greeter", "active")], 600) == (_sessions(world),
                                                         world.gpus[0].used_mib)
    world.advance(10)
    assert ([], 0) == (_sessions(world), world.gpus[0].used_mib)


def test_a_session_stuck_closing_keeps_its_compositor_and_memory() -> None:
    """The owner's session is closing for good; its compositor still holds GPU 0."""
    world = World.create(seed=3)
    assert gui_faults.session_stuck_closing(world)
    world.advance(600)
    assert ([("owner", "user", "closing")], 600) == (_sessions(world), world.gpus[0].used_mib)


def test_a_compositor_crash_ends_its_session_and_the_display_manager_logs_in_again() -> None:
    """The compositor dies, its session ends; the display manager (still up) logs in again."""
    world = World.create(seed=3)
    first = next(iter(world.logind.sessions))
    assert gui_faults.compositor_crashes(world)
    assert [] == _sessions(world)
    world.advance(5)
    assert ([("owner", "user", "active")], True) == (
        _sessions(world), first not in world.logind.sessions)


def test_a_display_manager_that_fails_does_not_come_back() -> None:
    """With crash_now the display manager fails and its session closes; starting it fails."""
    world = World.create(seed=3)
    name = world.policy.units.display_manager
    assert gui_faults.display_manager_fails(world, crash_now=True)
    SimBackend(world).start_unit(name)
    world.advance(30)
    assert ("failed", []) == (world.systemd.units[name].active.value, _sessions(world))
