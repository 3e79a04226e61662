"""Gherkin steps of features/idle.feature: the idle watcher over a simulated workstation.

Registered for every test module by tests/conftest.py's pytest_plugins. Thin: each step
calls `World.seat`, `IdleWatcher` or the station, the same objects the automation campaign
drives.
"""

from __future__ import annotations

import attrs
import pytest
from pytest_bdd import given, parsers, then, when

from dubnium.idle import BY
from dubnium.idlewatch import IdleWatcher, status_json
from dubnium.policy import Idle, default_policy
from simulator.harness import Station


@attrs.define
class IdleScene:
    station: Station | None = None
    after_s: float = 1800.0
    cooldown_s: float = 3600.0

    @property
    def st(self) -> Station:
        assert self.station is not None, "no workstation in this scenario"
        return self.station

    def watcher(self) -> IdleWatcher:
        return IdleWatcher(self.st.controller())

    def rebuild(self, **idle: object) -> Station:
        policy = attrs.evolve(default_policy(), idle=Idle(
            enable=True, after_s=self.after_s, cooldown_s=self.cooldown_s, **idle))
        self.station = Station.create(seed=11, policy=policy)
        return self.station

    def raw(self) -> list[dict[str, object]]:
        """Every audit record as written (transitions and the automation's own kinds)."""
        return [dict(e.record) for e in self.st.audit.entries() if e.record is not None]

    def automatic(self, requested: str) -> list[dict[str, object]]:
        return [dict(r) for r in self.raw()
                if r.get("kind") == "transition" and str(r.get("by", "")).startswith(BY)
                and r.get("requested") == requested]


@pytest.fixture
def idle_scene() -> IdleScene:
    return IdleScene()


@given(parsers.parse("a simulated workstation with idle automation after {after:d} minutes "
                     "and a {cooldown:d} minute cooldown"))
def idle_workstation(scene: object, idle_scene: IdleScene, after: int, cooldown: int) -> None:
    idle_scene.after_s, idle_scene.cooldown_s = after * 60.0, cooldown * 60.0
    scene.station = idle_scene.rebuild()  # type: ignore[attr-defined]


@given(parsers.parse('idle automation may only run between "{window}" UTC'))
def idle_schedule(scene: object, idle_scene: IdleScene, window: str) -> None:
    scene.station = idle_scene.rebuild(windows=(window,))  # type: ignore[attr-defined]


@given("the owner's session reports idle")
def session_idle(idle_scene: IdleScene) -> None:
    idle_scene.st.world.seat.set_idle_hint(True)


@given(parsers.parse('"{who}" holds an idle inhibitor because "{why}"'))
def inhibitor(idle_scene: IdleScene, who: str, why: str) -> None:
    idle_scene.st.world.seat.take_inhibitor("idle", who, why)


@given(parsers.parse("idle automation is paused for {hours:d} hours"))
def paused(idle_scene: IdleScene, hours: int) -> None:
    idle_scene.watcher().pause(hours * 3600.0)


@when(parsers.re(r"(?P<amount>\d+) (?P<unit>minutes|hours) pass with the watcher polling"))
def time_passes(idle_scene: IdleScene, amount: str, unit: str) -> None:
    seconds = int(amount) * (60 if unit == "minutes" else 3600)
    idle_scene.watcher().run(for_s=seconds)


@when("someone presses a key at the seat")
def key_pressed(idle_scene: IdleScene) -> None:
    idle_scene.st.world.seat.press_key()


@then("idle automation has requested nothing")
def requested_nothing(idle_scene: IdleScene) -> None:
    assert [] == idle_scene.automatic("compute") + idle_scene.automatic("desktop")


@then(parsers.re(r"idle automation requested (?P<mode>compute|desktop) "
                 r"(?P<times>once|\d+ times)"))
def requested(idle_scene: IdleScene, mode: str, times: str) -> None:
    count = 1 if times == "once" else int(times.split(maxsplit=1)[0])
    assert count == len(idle_scene.automatic(mode))


@then("every automatic request is recorded as by idle automation")
def recorded_by(idle_scene: IdleScene) -> None:
    records = idle_scene.automatic("compute")
    assert [BY] == sorted({str(r["by"]) for r in records})


def _status(idle_scene: IdleScene) -> dict[str, object]:
    watcher = idle_scene.watcher()
    ev = watcher.evaluate()
    return status_json(ev, ev.decision.state)


@then(parsers.parse('idle status says "{block}" blocks promotion'))
def status_blocks(idle_scene: IdleScene, block: str) -> None:
    blocking = _status(idle_scene)["blocking"]
    assert block in [b["id"] for b in blocking]  # type: ignore[attr-defined, index]


@then(parsers.parse('idle status says "{block}" blocks promotion until "{time}"'))
def status_blocks_until(idle_scene: IdleScene, block: str, time: str) -> None:
    blocking = {b["id"]: b for b in _status(idle_scene)["blocking"]}  # type: ignore[attr-defined]
    assert time in str(blocking[block]["until"])


@then(parsers.parse('idle status names "{holder}" as what blocks "{condition}"'))
def status_names(idle_scene: IdleScene, holder: str, condition: str) -> None:
    conditions = {c["id"]: c for c in _status(idle_scene)["conditions"]}  # type: ignore[attr-defined]
    cond = conditions[condition]
    assert (False, True) == (cond["held"], any(holder in h for h in cond["holders"]))


@then(parsers.parse('the audit log has {count:d} idle-block record naming "{guard}"'))
def block_records(idle_scene: IdleScene, count: int, guard: str) -> None:
    records = [r for r in idle_scene.raw() if r.get("kind") == "idle-block"]
    assert [[guard]] * count == [r["blocking"] for r in records]
