"""The simulated systemd: isolate, Conflicts, PartOf, RemainAfterExit, failures, ordering."""

from __future__ import annotations

import attrs
import pytest

from dubnium.errors import BackendError
from dubnium.facts import SliceSettings, Unavailable, VllmProfile
from dubnium.policy import default_policy
from simulator.backend import SimBackend
from simulator.systemd import UnitBehaviour
from simulator.trace import CollectingRecorder
from simulator.world import World


def states(world: World) -> dict[str, str]:
    units = SimBackend(world).observe().units
    assert not isinstance(units, Unavailable)
    return {u.name: u.active.value for u in units.units}


def active(world: World) -> set[str]:
    return {name for name, state in states(world).items() if state == "active"}


def compute_profile(world: World) -> VllmProfile:
    gpus = list(world.gpus.values())
    return VllmProfile("compute", tuple(g.spec.uuid for g in gpus),
                       tuple(g.spec.index for g in gpus))


def test_boot_reaches_desktop_with_the_base_services() -> None:
    """A new world is booted: desktop.target, graphical.target, the DM, the base and the
    owner's user manager (in user.slice) up."""
    world = World.create(seed=1)
    assert {"dbus.service", "systemd-logind.service", "multi-user.target",
            "display-manager.service", "graphical.target", "desktop.target",
            "user@1000.service", "user.slice"} == active(world)


def test_isolate_compute_keeps_base_services_and_ignore_on_isolate_units() -> None:
    """Isolating compute stops the GUI but keeps dbus/logind, k3s and the (ignored) slices."""
    policy = attrs.evolve(default_policy(), k3s_enable=True)
    world = World.create(seed=1, policy=policy)
    SimBackend(world).set_slice_properties("ai.slice", SliceSettings(cpu_weight=7))
    world.systemd.start("ai.slice")
    SimBackend(world).isolate("compute.target")
    world.settle()
    up = active(world)
    assert {"dbus.service", "systemd-logind.service", "multi-user.target", "k3s.service",
            "ai.slice", "compute.target"} <= up
    assert not {"display-manager.service", "graphical.target", "desktop.target"} & up
    assert SliceSettings(cpu_weight=7) == world.systemd.units["ai.slice"].settings


def test_starting_compute_stops_the_conflicting_targets_but_not_the_display_manager() -> None:
    """Conflicts= stops graphical/desktop targets; the DM (only Wanted) keeps running."""
    world = World.create(seed=1)
    SimBackend(world).start_unit("compute.target")
    world.settle()
    s = states(world)
    assert ("inactive", "inactive", "active") == (
        s["graphical.target"], s["desktop.target"], s["display-manager.service"])


def test_conflicts_are_symmetric() -> None:
    """Starting desktop.target stops compute.target, which only names the conflict itself."""
    world = World.create(seed=1)
    b = SimBackend(world)
    b.write_vllm_profile(compute_profile(world))
    b.isolate("compute.target")
    world.settle()
    b.start_unit("desktop.target")
    world.settle()
    s = states(world)
    assert ("active", "inactive", "inactive") == (
        s["desktop.target"], s["compute.target"], s["vllm.service"])


def test_stopping_compute_target_stops_vllm_through_part_of() -> None:
    """PartOf=compute.target: stopping the target stops vllm.service."""
    world = World.create(seed=1)
    b = SimBackend(world)
    b.write_vllm_profile(compute_profile(world))
    b.isolate("compute.target")
    world.settle()
    assert "active" == states(world)["vllm.service"]
    b.stop_unit("compute.target")
    world.settle()
    assert "inactive" == states(world)["vllm.service"]


def test_overlay_units_remain_after_exit_and_stop_with_desktop() -> None:
    """The studio oneshots stay active (exited) and are stopped with desktop.target."""
    world = World.create(seed=1)
    b = SimBackend(world)
    b.start_unit("studio-local-policy.service")
    b.start_unit("audio-priority.service")
    world.settle()
    units = SimBackend(world).observe().units
    assert not isinstance(units, Unavailable)
    fact = units.get("studio-local-policy.service")
    assert ("active", "exited") == (fact.active.value, fact.sub)
    b.stop_unit("desktop.target")
    world.settle()
    s = states(world)
    assert ("inactive", "inactive") == (s["studio-local-policy.service"],
                                        s["audio-priority.service"])


def test_oneshot_without_remain_after_exit_goes_back_to_inactive() -> None:
    """A oneshot that does not RemainAfterExit is inactive once its start job is done."""
    from simulator.systemd import UnitSpec

    world = World.create(seed=1)
    world.systemd.add(UnitSpec("fire-once.service", oneshot=True), UnitBehaviour(start_s=1))
    world.systemd.index()
    SimBackend(world).start_unit("fire-once.service")
    assert "activating" == states(world)["fire-once.service"]
    world.settle()
    assert "inactive" == states(world)["fire-once.service"]


def test_jobs_show_activating_for_their_duration() -> None:
    """A start job is `activating` until its duration has passed, then `active`."""
    world = World.create(seed=1)
    world.set_unit_behaviour("audio-priority.service", UnitBehaviour(start_s=2.0, stop_s=1.0))
    SimBackend(world).start_unit("audio-priority.service")
    seen = [states(world)["audio-priority.service"]]
    world.advance(1.0)
    seen.append(states(world)["audio-priority.service"])
    world.advance(2.0)
    seen.append(states(world)["audio-priority.service"])
    assert ["activating", "activating", "active"] == seen


def test_isolate_requires_allow_isolate() -> None:
    """Isolating a target without AllowIsolate= is refused like systemd refuses it."""
    world = World.create(seed=1)
    with pytest.raises(BackendError, match="may not be isolated") as caught:
        SimBackend(world).isolate("graphical.target")
    assert caught.value.temporary is False


def test_unknown_unit_is_a_permanent_error() -> None:
    """start/stop/isolate of a unit that does not exist: a permanent BackendError."""
    b = SimBackend(World.create(seed=1))
    for action in (b.start_unit, b.stop_unit, b.isolate):
        with pytest.raises(BackendError, match="not found") as caught:
            action("nope.service")
        assert caught.value.temporary is False


def test_a_failing_start_fails_the_unit_and_its_requirers_get_dependency() -> None:
    """dbus fails to start: dbus `failed`; logind (Requires=dbus) stays inactive."""
    world = World.create(seed=1)
    recorder = CollectingRecorder()
    world.recorder = recorder
    SimBackend(world).isolate("compute.target")  # dbus and logind stay up...
    world.settle()
    world.systemd.stop("dbus.service")  # ...so take them down first
    world.settle()
    world.set_unit_behaviour("dbus.service", UnitBehaviour(start_s=0.1, start_fails=True))
    SimBackend(world).start_unit("systemd-logind.service")
    world.settle()
    s = states(world)
    assert ("failed", "inactive") == (s["dbus.service"], s["systemd-logind.service"])
    results = {(j["unit"], j["result"]) for j in recorder.named("job")}
    assert ("systemd-logind.service", "dependency") in results


def test_a_hanging_job_never_finishes() -> None:
    """start_hangs: the unit stays activating however long we wait."""
    world = World.create(seed=1)
    world.set_unit_behaviour("audio-priority.service", UnitBehaviour(start_hangs=True))
    SimBackend(world).start_unit("audio-priority.service")
    world.advance(3600)
    assert "activating" == states(world)["audio-priority.service"]


def test_targets_wait_for_what_they_want() -> None:
    """desktop.target becomes active only after the display manager (implicit After=)."""
    world = World.create(seed=1)
    recorder = CollectingRecorder()
    world.recorder = recorder
    SimBackend(world).isolate("compute.target")
    world.settle()
    SimBackend(world).isolate("desktop.target")
    world.settle()
    order = [c["unit"] for c in recorder.named("unit_state") if c["new"] == "active"]
    assert order.index("display-manager.service") < order.index("graphical.target") < \
        order.index("desktop.target")


def test_a_stop_job_replaces_a_running_start_job() -> None:
    """Stopping vLLM while it loads: it ends inactive and holds no GPU memory."""
    world = World.create(seed=1)
    b = SimBackend(world)
    b.write_vllm_profile(compute_profile(world))
    b.start_unit("vllm.service")
    world.advance(1.0)
    assert "activating" == states(world)["vllm.service"]
    b.stop_unit("vllm.service")
    world.settle()
    assert "inactive" == states(world)["vllm.service"]
    assert [0, 600] == sorted(g.used_mib for g in world.gpus.values())


def test_slice_properties_are_replaced_at_run_time() -> None:
    """set_slice_properties replaces the slice's settings; unknown slice: BackendError."""
    world = World.create(seed=1)
    b = SimBackend(world)
    b.set_slice_properties("platform.slice", SliceSettings(cpu_weight=20, io_weight=30))
    slices = SimBackend(world).observe().slice_settings()
    assert not isinstance(slices, Unavailable)
    assert SliceSettings(cpu_weight=20, io_weight=30) == slices["platform.slice"]
    with pytest.raises(BackendError):
        b.set_slice_properties("nope.slice", SliceSettings())
