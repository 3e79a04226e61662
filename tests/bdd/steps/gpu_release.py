"""Steps of features/gpu_release.feature: how the display GPU releases its memory.

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import attrs
from pytest_bdd import given, parsers, then

from dubnium.facts import Unavailable
from dubnium.modes import ObservedState
from tests.bdd.scene import Scene


@given(parsers.parse("GPU {index:d} releases its memory {delay:d} seconds after the desktop ends"))
def release_delayed(scene: Scene, index: int, delay: int) -> None:
    scene.st.world.set_gpu_release(index, "delayed", delay_s=float(delay))


@given(parsers.parse("the desktop holds {mib:d} MiB on GPU 0"))
def desktop_holds(scene: Scene, mib: int) -> None:
    world = scene.st.world
    world.set_display(attrs.evolve(world.display, compositor_mib=mib))
    session = world.session_ids()[0]
    world.remove_session(session)  # the display manager logs in again with the new size
    world.advance(10)
    gpus = scene.facts().gpus
    assert not isinstance(gpus, Unavailable)
    assert gpus[0].memory_used_mib == mib


@given(parsers.parse('the workstation came up with "{target}" as its boot target'))
def came_up_as(scene: Scene, target: str) -> None:
    world = scene.st.world
    scene.st.backend.isolate(target)
    world.advance(60)
    assert scene.st.observe().state is not ObservedState.DESKTOP


@given(parsers.parse("GPU {index:d} never releases its memory"))
def release_never(scene: Scene, index: int) -> None:
    scene.st.world.set_gpu_release(index, "never")


@given(parsers.parse("GPU {index:d} keeps a residual of {mib:d} MiB after the desktop ends"))
def release_partial(scene: Scene, index: int, mib: int) -> None:
    scene.st.world.set_gpu_release(index, "partial", residual_mib=mib)


@given(parsers.parse("vLLM needs {mib:d} MiB on each GPU"))
def vllm_needs(scene: Scene, mib: int) -> None:
    policy = attrs.evolve(scene.st.policy,
                          vllm=attrs.evolve(scene.st.policy.vllm, memory_per_gpu_mib=mib))
    scene.st.world.set_policy(policy)


@then("the record says the display GPU was not released")
def record_not_released(scene: Scene) -> None:
    assert "display GPU not released" in (scene.res.record.failure or "")


@then(parsers.parse('at no point was the observed state "{state}"'))
def never_state(scene: Scene, state: str) -> None:
    assert scene.watcher is not None
    assert scene.watcher.seen, "no step was watched"
    assert state not in [s.value for s in scene.watcher.seen]
