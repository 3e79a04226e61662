"""The simulated world: sessions and the display GPU, vLLM, audio, jobs, faults, reboot."""

from __future__ import annotations

import attrs
import pytest

from dubnium.errors import BackendError
from dubnium.facts import GpuFact, GpuProcessKind, HostFacts, Unavailable, VllmProfile
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.backend import SimBackend
from simulator.gpu import Gpu, GpuSpec, SimInvariantError
from simulator.logind import SessionBehaviour
from simulator.world import World, WorldError


def gpu(facts: HostFacts, index: int) -> GpuFact:
    assert not isinstance(facts.gpus, Unavailable)
    return next(g for g in facts.gpus if g.index == index)


def sessions(world: World) -> list[tuple[str, str, str]]:
    found = SimBackend(world).observe().sessions
    assert not isinstance(found, Unavailable)
    return [(s.id, s.type, s.state) for s in found]


def comms(world: World) -> list[str]:
    found = SimBackend(world).observe().processes
    assert not isinstance(found, Unavailable)
    return sorted(p.comm for p in found)


def profile(world: World, *indices: int) -> VllmProfile:
    return VllmProfile("compute", tuple(world.gpus[i].spec.uuid for i in indices), indices)


def test_a_new_world_has_the_owner_session_and_the_compositor_on_gpu0() -> None:
    """Boot: one wayland session led by Hyprland, a graphics process on the display GPU."""
    world = World.create(seed=4)
    facts = SimBackend(world).observe()
    assert [("1", "wayland", "active")] == sessions(world)
    display = gpu(facts, 0)
    assert [("Hyprland", "graphics")] == [(p.name, p.kind.value) for p in display.processes]
    assert not isinstance(facts.sessions, Unavailable)
    assert display.processes[0].pid == facts.sessions[0].leader


def test_terminate_session_closes_then_removes_it() -> None:
    """TerminateSession: `closing` at once, gone (with its compositor) after the exit delay."""
    world = World.create(seed=4)
    SimBackend(world).terminate_session("1")
    assert [("1", "wayland", "closing")] == sessions(world)
    world.advance(world.session_behaviour.exit_delay_s)
    assert ([], []) == (sessions(world), comms(world))


def test_the_running_display_manager_logs_in_again_after_its_session_ends() -> None:
    """Like greetd/gdm: a new session on the display GPU after the autologin delay."""
    world = World.create(seed=4)
    SimBackend(world).terminate_session("1")
    world.advance(world.session_behaviour.exit_delay_s + world.display.autologin_delay_s)
    used = gpu(SimBackend(world).observe(), 0).memory_used_mib
    assert ([("2", "wayland", "active")], 600) == (sessions(world), used)


def test_without_relogin_the_display_manager_stays_idle() -> None:
    """DisplayBehaviour(relogin=False): the session ends and nobody logs in again."""
    world = World.create(seed=4)
    world.set_display(attrs.evolve(world.display, relogin=False))
    SimBackend(world).terminate_session("1")
    world.advance(60)
    assert [] == sessions(world)


def test_terminating_an_unknown_session_is_an_error() -> None:
    """An unknown id is refused like org.freedesktop.login1.NoSuchSession."""
    with pytest.raises(BackendError, match="No session '9' known"):
        SimBackend(World.create(seed=4)).terminate_session("9")


@pytest.mark.parametrize(
    ("behaviour", "used_at_exit", "used_later", "visible_at_exit"),
    [
        ("immediate", 0, 0, 0),
        ("delayed", 600, 0, 0),
        ("partial", 300, 300, 0),
        ("never", 600, 600, 0),
    ],
)
def test_display_gpu_release_follows_its_behaviour(
    behaviour: str, used_at_exit: int, used_later: int, visible_at_exit: int
) -> None:
    """When the compositor exits (DM stopped), GPU 0's memory goes as configured, unheld."""
    world = World.create(seed=4)
    world.set_gpu_release(0, behaviour, delay_s=5.0, residual_mib=300)
    SimBackend(world).stop_unit("display-manager.service")
    world.advance(world.session_behaviour.exit_delay_s)
    at_exit = gpu(SimBackend(world).observe(), 0)
    world.advance(5.0)
    later = gpu(SimBackend(world).observe(), 0)
    assert (used_at_exit, used_later, visible_at_exit) == (
        at_exit.memory_used_mib, later.memory_used_mib, len(at_exit.processes))


def test_a_session_that_never_exits_stays_closing_with_its_compositor() -> None:
    """SessionBehaviour(never_exits): terminated, the session stays `closing` forever."""
    world = World.create(seed=4)
    world.set_session_behaviour(SessionBehaviour(never_exits=True), "1")
    SimBackend(world).terminate_session("1")
    world.advance(600)
    assert ([("1", "wayland", "closing")], ["Hyprland"]) == (sessions(world), comms(world))


def test_stopping_the_display_manager_ends_its_session() -> None:
    """Isolating compute stops the DM; its autologin session closes and goes away."""
    world = World.create(seed=4)
    SimBackend(world).isolate("compute.target")
    world.settle()
    assert ([], 0) == (sessions(world), gpu(SimBackend(world).observe(), 0).memory_used_mib)


def test_the_display_manager_logs_the_owner_in_again_after_a_restart() -> None:
    """Back to desktop: the DM starts and autologin opens a new session after its delay."""
    world = World.create(seed=4)
    b = SimBackend(world)
    b.isolate("compute.target")
    world.settle()
    b.isolate("desktop.target")
    world.settle()
    assert [("2", "wayland", "active")] == sessions(world)


def test_extra_sessions_can_be_added_and_removed() -> None:
    """A tty session and a second graphical session (with its own GPU memory)."""
    world = World.create(seed=4)
    tty = world.add_session("tty")
    second = world.add_session("x11", user="guest")
    assert 1200 == gpu(SimBackend(world).observe(), 0).memory_used_mib
    world.remove_session(second)
    assert ([("1", "wayland", "active"), (tty, "tty", "active")], 600) == (
        sessions(world), gpu(SimBackend(world).observe(), 0).memory_used_mib)
    with pytest.raises(WorldError):
        world.remove_session("42")


def test_vllm_loads_one_shard_per_gpu_of_its_profile() -> None:
    """vllm.service becomes active after its load delay with a compute process on each GPU."""
    world = World.create(seed=4)
    b = SimBackend(world)
    b.write_vllm_profile(profile(world, 0, 1))
    b.start_unit("vllm.service")
    world.settle()
    facts = SimBackend(world).observe()
    assert facts.units.is_active("vllm.service")  # type: ignore[union-attr]
    shards = [(p.name, p.kind.value, p.used_mib) for p in gpu(facts, 1).processes]
    assert [("vllm", "compute", 20480)] == shards
    assert profile(world, 0, 1) == facts.vllm_profile


def test_vllm_fails_when_a_gpu_lacks_memory_and_leaves_nothing_allocated() -> None:
    """Out of memory on GPU 0 (the compositor holds some): failed, nothing allocated anywhere."""
    world = World.create(seed=4)
    world.set_display(attrs.evolve(world.display, compositor_mib=8000, relogin=False))
    world.remove_session("1")
    world.add_session("wayland")  # a compositor with 8000 MiB on GPU 0
    b = SimBackend(world)
    b.write_vllm_profile(profile(world, 0, 1))
    b.start_unit("vllm.service")
    world.settle()
    facts = SimBackend(world).observe()
    assert "failed" == facts.units.get("vllm.service").active.value  # type: ignore[union-attr]
    assert (8000, 0) == (gpu(facts, 0).memory_used_mib, gpu(facts, 1).memory_used_mib)
    assert "out of memory" in world.vllm.last_error
    assert "vllm" not in comms(world)


@pytest.mark.parametrize("written", [None, VllmProfile("off")])
def test_vllm_without_a_usable_profile_fails(written: VllmProfile | None) -> None:
    """No profile, or the "off" profile: vllm.service fails to start."""
    world = World.create(seed=4)
    if written is not None:
        SimBackend(world).write_vllm_profile(written)
    SimBackend(world).start_unit("vllm.service")
    world.settle()
    assert "failed" == SimBackend(world).observe().units.get("vllm.service").active.value  # type: ignore[union-attr]


def test_stopping_vllm_frees_its_memory() -> None:
    """vllm stops: its shards and its process are gone."""
    world = World.create(seed=4)
    b = SimBackend(world)
    b.write_vllm_profile(profile(world, 1))
    b.start_unit("vllm.service")
    world.settle()
    b.stop_unit("vllm.service")
    world.settle()
    used = gpu(SimBackend(world).observe(), 1).memory_used_mib
    assert (0, False) == (used, "vllm" in comms(world))


def test_audio_streams_jack_clients_and_reaper_are_observed() -> None:
    """Streams are busy Stream/Output/Audio nodes, JACK clients have client.api jack."""
    world = World.create(seed=4)
    world.start_audio_stream("firefox")
    world.start_jack_client("ardour")
    world.start_reaper()
    audio = SimBackend(world).observe().audio
    assert not isinstance(audio, Unavailable)
    assert (["firefox"], ["ardour"]) == ([n.name for n in audio.busy_streams],
                                         [n.name for n in audio.jack_clients])
    assert ["Hyprland", "ardour", "firefox", "reaper"] == comms(world)
    world.stop_audio_stream("firefox")
    world.stop_jack_client("ardour")
    world.stop_reaper()
    audio = SimBackend(world).observe().audio
    assert not isinstance(audio, Unavailable)
    assert ((), (), ["Hyprland"]) == (audio.busy_streams, audio.jack_clients, comms(world))


def test_audio_apps_in_the_graphical_session_exit_with_it() -> None:
    """Terminating the session ends the applications that ran in it (and their streams)."""
    world = World.create(seed=4)
    world.start_audio_stream("firefox")
    SimBackend(world).stop_unit("display-manager.service")
    world.advance(5)
    audio = SimBackend(world).observe().audio
    assert not isinstance(audio, Unavailable)
    assert ((), []) == (audio.busy_streams, comms(world))


def test_user_job_runtime_grows_with_virtual_time() -> None:
    """A build that started 100 s ago has run 160 s a minute later."""
    world = World.create(seed=4)
    pid = world.add_user_job("cargo", runtime_s=100)
    world.advance(60)
    found = SimBackend(world).observe().processes
    assert not isinstance(found, Unavailable)
    assert [160.0] == [p.runtime_s for p in found if p.pid == pid]
    world.remove_user_job("cargo")
    assert "cargo" not in comms(world)


def test_load_memory_pressure_and_paths_are_settable() -> None:
    """The host numbers the guards read come from the world API."""
    world = World.create(seed=4)
    world.set_load(20.0, cpus=16)
    world.fill_memory(50000)
    world.set_pressure(cpu=12.5)
    world.set_path("/var/lib/dubnium/models", exists=True, writable=False, free_mib=10)
    facts = SimBackend(world).observe()
    assert (20.0, 2000) == (facts.load.load1, facts.memory.available_mib)  # type: ignore[union-attr]
    assert 12.5 == facts.pressure.cpu_some_avg10  # type: ignore[union-attr]
    assert not isinstance(facts.paths, Unavailable)
    model = next(p for p in facts.paths if p.path == "/var/lib/dubnium/models")
    assert (False, 10) == (model.writable, model.free_mib)


def test_any_group_can_be_marked_unavailable() -> None:
    """set_unavailable carries Unavailable(reason) for that group until set_available."""
    world = World.create(seed=4)
    world.set_unavailable("gpus", "NVML: driver not loaded")
    assert {"gpus": "NVML: driver not loaded"} == SimBackend(world).observe().unavailable()
    world.set_available("gpus")
    assert {} == SimBackend(world).observe().unavailable()
    with pytest.raises(WorldError):
        world.set_unavailable("weather", "x")


def test_action_faults_fail_time_out_or_are_ignored() -> None:
    """An injected fault: error (no effect), timeout (effect, then error), ignored (no effect)."""
    world = World.create(seed=4)
    b = SimBackend(world)
    world.inject_action_fault(ActionFault("terminate_session", FaultEffect.ERROR, "1"))
    with pytest.raises(BackendError) as caught:
        b.terminate_session("1")
    assert (True, [("1", "wayland", "active")]) == (caught.value.temporary, sessions(world))
    world.inject_action_fault(ActionFault("terminate_session", FaultEffect.IGNORED))
    b.terminate_session("1")
    assert [("1", "wayland", "active")] == sessions(world)
    world.inject_action_fault(ActionFault("terminate_session", FaultEffect.TIMEOUT))
    with pytest.raises(BackendError, match="timed out"):
        b.terminate_session("1")
    assert [("1", "wayland", "closing")] == sessions(world)
    assert [] == world.action_faults


def test_notifications_are_recorded() -> None:
    """notify_user keeps what the user was told, with the virtual time."""
    world = World.create(seed=4)
    SimBackend(world).notify_user("Switching to compute", "Your session will end.")
    assert [{"at_ns": world.now_ns, "summary": "Switching to compute",
             "body": "Your session will end."}] == world.notifications


def test_reboot_normalises_to_the_boot_target_with_a_new_boot_id() -> None:
    """Reboot: compute and its workloads gone, desktop up, /run (the vLLM profile) lost."""
    world = World.create(seed=4)
    b = SimBackend(world)
    first_boot = world.boot_id
    b.write_vllm_profile(profile(world, 0, 1))
    b.isolate("compute.target")
    world.add_user_job("cargo")
    world.settle()
    world.reboot()
    facts = SimBackend(world).observe()
    assert facts.units.is_active("desktop.target")  # type: ignore[union-attr]
    assert not facts.units.is_active("vllm.service")  # type: ignore[union-attr]
    assert (None, ["Hyprland"], True) == (facts.vllm_profile, comms(world),
                                          facts.boot_id != first_boot)


def test_a_gpu_never_frees_more_than_it_holds() -> None:
    """The fake GPU's own invariant: over-allocating or over-freeing raises."""
    g = Gpu(GpuSpec(0, "GPU-x", total_mib=1000))
    g.allocate(1, 10, "p", GpuProcessKind.COMPUTE, 800)
    with pytest.raises(SimInvariantError):
        g.free(1, 801)
    with pytest.raises(SimInvariantError):
        g.allocate(2, 11, "q", GpuProcessKind.COMPUTE, 300)
    assert 800 == g.used_mib


def test_one_gpu_world_adapts_the_default_policy() -> None:
    """World.create(gpus=1): GPU 0 is display and compute, a second GPU is planned."""
    world = World.create(seed=4, gpus=1)
    hw = world.policy.hardware
    assert ([0], (0,), (0,), 2) == (sorted(world.gpus), hw.present_gpus, hw.compute_gpus,
                                    hw.planned_gpu_count)


def test_the_recorder_hears_events_units_actions_and_world_changes() -> None:
    """The trace hook is called for world API changes, backend actions, jobs and events."""
    from simulator.trace import CollectingRecorder

    recorder = CollectingRecorder()
    world = World.create(seed=4, recorder=recorder)
    world.start_audio_stream("firefox")
    SimBackend(world).terminate_session("1")
    world.advance(2)
    hooks = {name for name, _, _ in recorder.calls}
    assert {"event", "unit_state", "job", "session", "gpu_memory", "action",
            "world_change"} <= hooks
    assert [{"what": "start_audio_stream", "name": "firefox"}] == recorder.named("world_change")
