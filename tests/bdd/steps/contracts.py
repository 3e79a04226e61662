"""Steps of features/contracts.feature and the 43522 regression.

Thin like the rest: each step calls the world API or reads the station's observation.
Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import attrs
from pytest_bdd import given, parsers, then

from simulator.harness import Station
from simulator.logind import SessionBehaviour
from simulator.trace import Recorder
from tests.bdd.scene import LoginAtStep, Scene


@given("the display manager was stopped behind the controller's back")
def display_manager_stopped(scene: Scene) -> None:
    world = scene.st.world
    scene.st.backend.stop_unit(scene.st.policy.units.display_manager)
    world.settle()


@given("the display manager fails to start")
def display_manager_fails(scene: Scene) -> None:
    world, name = scene.st.world, scene.st.policy.units.display_manager
    world.set_unit_behaviour(name, attrs.evolve(world.unit_behaviour(name), start_fails=True))


@given("the desktop session will be stuck closing")
def session_stuck_closing(scene: Scene) -> None:
    for session_id in scene.st.world.session_ids():
        scene.st.world.set_session_behaviour(SessionBehaviour(never_exits=True), session_id)
    watcher = LoginAtStep(scene.st, "")  # for "vLLM never held memory on GPU 0" ...
    watcher.logged_in = True  # ... with nobody logging in
    scene.watcher = watcher
    scene.st.reporter = watcher


@given("a guest logs in graphically as compute.target comes up")
def guest_at_compute_target(scene: Scene) -> None:
    watcher = GuestWhenComputeUp(scene.st)
    scene.watcher = watcher
    scene.st.reporter = watcher
    scene.st.world.recorder = watcher


class GuestWhenComputeUp(LoginAtStep, Recorder):
    """A guest's wayland login on the display GPU in the very observation in which
    compute.target (and vLLM on both GPUs) comes up: the 43522 moment."""

    def __init__(self, station: Station) -> None:
        super().__init__(station, "")
        self.logged_in = True  # LoginAtStep's own trigger is not used
        self.guest = ""

    def step_started(self, leg: str, step: object) -> None:
        """Not used: the login comes from the observation hook."""

    def observed(self, at_ns: int) -> None:
        world = self.station.world
        if not self.guest and world.unit_is_up(self.station.policy.units.compute_target):
            self.guest = world.add_session("wayland", "guest")


@then(parsers.parse('the missing terms are "{terms}"'))
def missing_terms(scene: Scene, terms: str) -> None:
    assert terms.split(", ") == [t.id.value for t in scene.st.observe().missing]


@then(parsers.parse('the console says "{text}"'))
def console_says(scene: Scene, text: str) -> None:
    lines = scene.st.world.notices(console=True)
    assert any(text in line for line in lines), lines


@then("the failure was not undone toward compute")
def not_back_to_compute(scene: Scene) -> None:
    rollback = scene.res.record.rollback
    assert rollback is not None
    assert ("desktop", ["R"]) == (rollback.to.value, list(rollback.legs))
    assert [] == [s.step for s in scene.res.record.steps
                  if s.rollback and "compute" in s.step]
