"""Steps of features/exo.feature: EXO beside or instead of vLLM.

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import attrs
from pytest_bdd import given, parsers, then, when

from dubnium.policy import Exo, default_policy
from simulator.harness import Station
from simulator.systemd import UnitBehaviour
from tests.bdd.scene import Scene, gpus_running, restart_slowly, start_by_hand, unit_up


@given(parsers.re(r"a simulated workstation with 2 GPUs and EXO (?P<how>sharing the GPUs "
                  r"with vLLM|on its own GPU)"))
def exo_workstation(scene: Scene, how: str) -> None:
    share = "shared" if how.startswith("sharing") else "split"
    policy = attrs.evolve(default_policy(), exo=Exo(enable=True, gpu_share=share))
    scene.start(Station.create(seed=7, policy=policy))


@then(parsers.parse("EXO is running on GPUs 0 and 1"))
def exo_both(scene: Scene) -> None:
    assert (unit_up(scene, scene.st.policy.units.exo), gpus_running(scene, "exo")) == (True, [0, 1])


@then(parsers.parse("EXO is running on GPU {index:d} only"))
def exo_one(scene: Scene, index: int) -> None:
    assert (unit_up(scene, scene.st.policy.units.exo), gpus_running(scene, "exo")) == (
        True, [index])


@then("EXO is stopped")
def exo_stopped(scene: Scene) -> None:
    assert (unit_up(scene, scene.st.policy.units.exo), gpus_running(scene, "exo")) == (False, [])


@given("EXO fails to start")
def exo_fails(scene: Scene) -> None:
    scene.st.world.set_unit_behaviour(scene.st.policy.units.exo,
                                      UnitBehaviour(start_s=2.0, start_fails=True))


@given("EXO is restarting")
def exo_restarting(scene: Scene) -> None:
    restart_slowly(scene, scene.st.policy.units.exo)


@when("EXO is started by hand")
def exo_by_hand(scene: Scene) -> None:
    start_by_hand(scene, "exo", 60)
