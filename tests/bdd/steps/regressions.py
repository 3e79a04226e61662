"""Steps of features/regressions.feature: seeds the fault campaigns found.

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import attrs
from pytest_bdd import given, parsers, then

from simulator.actionfaults import ActionFault, FaultEffect
from tests.bdd.scene import LoginAtStep, Scene


@given(parsers.parse('the runtime state file "{name}" is replaced with garbage'))
def runtime_file_garbage(scene: Scene, name: str) -> None:
    scene.st.store.write(name, b"\x00\xffgarbage{")


@given(parsers.parse("setting slice properties reports success {times:d} times without "
                     "changing anything"))
def slice_calls_ignored(scene: Scene, times: int) -> None:
    scene.st.world.inject_action_fault(
        ActionFault("set_slice_properties", FaultEffect.IGNORED, times=times))


@given(parsers.parse("the {unit} stop job hangs"))
def stop_job_hangs(scene: Scene, unit: str) -> None:
    world = scene.st.world
    world.set_unit_behaviour(unit, attrs.evolve(world.unit_behaviour(unit), stop_hangs=True))


@given(parsers.parse('someone logs in graphically just before the step "{prefix}"'))
def login_at_step(scene: Scene, prefix: str) -> None:
    scene.watcher = LoginAtStep(scene.st, prefix)
    scene.st.reporter = scene.watcher


@then("vLLM never held memory on GPU 0")
def vllm_never_on_gpu0(scene: Scene) -> None:
    watcher = scene.watcher
    assert isinstance(watcher, LoginAtStep)
    assert watcher.logged_in
    assert [] == [i for i, on in enumerate(watcher.compute_on_gpu0) if on]
