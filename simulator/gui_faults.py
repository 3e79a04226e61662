"""Faults of the graphical stack (issue 9): what they do to a `World`.

Called by `simulator.faults` (`inject` for the "now" ones, the triggers for the armed
mid-transition ones) and by the Gherkin steps. Each is a change made through the world's API:

- the display manager fails to start (and, when asked, crashes now: its sessions close);
- the compositor crashes: the graphical session it leads ends; a display manager still up
  logs in again after its delay, as greetd or gdm do;
- the greeter retakes the GPU: the display manager's stop is slow and, when the user's
  session ends while it is still stopping, it shows its greeter (a graphical session of
  class greeter whose compositor takes memory on the display GPU) until it is down;
- a session stuck closing: the owner's logout hangs; the session is `closing` while its
  compositor lives on and keeps its GPU memory.
"""

from __future__ import annotations

import attrs

from simulator.logind import SessionBehaviour
from simulator.world import World


def display_manager_fails(world: World, crash_now: bool) -> bool:
    name = world.policy.units.display_manager
    unit = world.systemd.units.get(name)
    if unit is None:
        return False
    world.set_unit_behaviour(name, attrs.evolve(unit.behaviour, start_fails=True))
    if crash_now and world.systemd.is_up(name):
        world.crash_unit(name)
    return True


def compositor_crashes(world: World) -> bool:
    """Every graphical session's compositor dies: the sessions they lead end."""
    ended = [s.id for s in world.logind.sessions.values()
             if s.type in ("wayland", "x11") and s.leader in world.processes.procs]
    for session_id in ended:
        world.remove_session(session_id)
    return bool(ended)


def greeter_retakes_gpu(world: World, stop_s: float) -> bool:
    name = world.policy.units.display_manager
    unit = world.systemd.units.get(name)
    if unit is None:
        return False
    world.set_unit_behaviour(name, attrs.evolve(unit.behaviour, stop_s=stop_s))
    world.set_display(attrs.evolve(world.display, greeter_on_logout=True))
    return True


def session_stuck_closing(world: World) -> bool:
    """The owner's open graphical sessions start closing and never finish."""
    stuck = [s.id for s in world.logind.sessions.values()
             if s.type in ("wayland", "x11") and s.state != "closing"]
    for session_id in stuck:
        world.set_session_behaviour(SessionBehaviour(never_exits=True), session_id)
        world.wiring.terminate_session(session_id)
    return bool(stuck)
