"""Steps of features/control.feature: the lock, a foreign slice change, the boot.

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import attrs
from pytest_bdd import given, parsers, then, when

from dubnium.state import LockHolder, MemoryStore
from tests.bdd.scene import Scene, slice_of


@given("another controller holds the lock")
def lock_held(scene: Scene) -> None:
    scene.st.store.acquire(LockHolder(999, "boot", "earlier", "studio-local", "other-1"))


@given("a controller was killed while holding the lock")
def lock_abandoned(scene: Scene) -> None:
    scene.st.store.acquire(LockHolder(998, "boot", "earlier", "compute", "dead-1"))
    scene.st.store.holder_alive = None  # its process is gone


@then(parsers.parse('the audit log has a "{outcome}" record'))
@then(parsers.parse('the audit log has an "{outcome}" record'))
def audit_has(scene: Scene, outcome: str) -> None:
    assert outcome in [r.outcome.value for r in scene.st.records()]


@then("the record says the lock was recovered")
def lock_recovered(scene: Scene) -> None:
    assert (scene.res.record.lock_recovered or {}).get("attempt") == "dead-1"


@given(parsers.parse("someone set the {name} slice CPU weight to {weight:d}"))
def someone_setsslice_of(scene: Scene, name: str, weight: int) -> None:
    full = f"{name}.slice"
    current = slice_of(scene, full)
    scene.st.backend.set_slice_properties(full, attrs.evolve(current, cpu_weight=weight))


@when("the workstation reboots")
def reboots(scene: Scene) -> None:
    scene.st.world.reboot()
    scene.st.store = MemoryStore()  # /run/mode-controller is a tmpfs: gone with the boot


@when("the boot normalisation runs")
def boot_runs(scene: Scene) -> None:
    scene.result = scene.st.boot()
    scene.requests += 1


@then(parsers.parse('the desired mode is "{mode}"'))
def desired_is(scene: Scene, mode: str) -> None:
    desired = scene.st.state.read_desired()
    assert desired is not None
    assert desired.value == mode
