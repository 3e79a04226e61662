"""Steps of features/observer.feature: the world changed behind the controller's back.

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

from pytest_bdd import given, parsers, when

from dubnium.modes import Mode
from tests.bdd.scene import Scene, start_by_hand


@when("vLLM is started by hand")
def vllm_by_hand(scene: Scene) -> None:
    start_by_hand(scene, "vllm", 120)


@given(parsers.parse('the desired file says "{mode}"'))
def desired_says(scene: Scene, mode: str) -> None:
    scene.st.state.write_desired(Mode(mode), "test", "test")


@given("the studio overlay services were started by hand")
def overlay_by_hand(scene: Scene) -> None:
    backend, names = scene.st.backend, scene.st.policy.units
    backend.start_unit(names.studio_policy)
    backend.start_unit(names.audio_priority)
    scene.st.world.advance(10)
