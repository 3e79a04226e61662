"""The Backend contract: the same assertions against the simulator and the real host.

Each test runs twice: on a fresh simulated world, and on the test host (real systemd 252,
dbus, logind, PipeWire + WirePlumber in a namespace) through `backends.host.HostBackend`.
A difference between the two is a bug in the simulator (or in the real adapter).
"""

from __future__ import annotations

import pytest

from dubnium.errors import BackendError
from dubnium.facts import (
    ActiveState,
    AudioGraph,
    HostFacts,
    LoadFact,
    LoadState,
    MemoryFact,
    PathFact,
    PressureFact,
    SessionFact,
    SliceSettings,
    Unavailable,
    Units,
    VllmProfile,
)
from dubnium.modes import Mode
from dubnium.policy import SLICES
from tests.contract.harness import Harness


def graphical(facts: HostFacts) -> list[SessionFact]:
    assert not isinstance(facts.sessions, Unavailable), facts.sessions
    return [s for s in facts.sessions if s.graphical]


def units_of(facts: HostFacts) -> Units:
    assert not isinstance(facts.units, Unavailable), facts.units
    return facts.units


def slices(facts: HostFacts) -> dict[str, SliceSettings]:
    settings = facts.slice_settings()
    assert not isinstance(settings, Unavailable), settings
    return settings


def active(facts: HostFacts, unit: str) -> bool:
    return units_of(facts).is_active(unit)


# --------------------------------------------------------------------------- observe


def test_observe_reads_every_group_on_a_healthy_desktop(harness: Harness) -> None:
    """On a booted desktop every group except the GPUs is readable (GPUs: only where real)."""
    facts = harness.backend.observe()
    missing = set(facts.unavailable())
    expected = {"gpus"} if harness.name == "host" else set()
    assert expected == missing - {"vllm_profile"}


def test_observe_group_types(harness: Harness) -> None:
    """Each group has the type facts.py declares."""
    facts = harness.backend.observe()
    assert isinstance(facts.units, Units)
    assert isinstance(facts.audio, AudioGraph)
    assert isinstance(facts.load, LoadFact)
    assert isinstance(facts.memory, MemoryFact)
    assert isinstance(facts.pressure, PressureFact)
    assert isinstance(facts.sessions, tuple)
    assert isinstance(facts.paths, tuple)
    assert all(isinstance(p, PathFact) for p in facts.paths)
    assert facts.memory.total_mib >= facts.memory.available_mib > 0
    assert facts.load.cpus >= 1


def test_observe_reports_every_policy_unit(harness: Harness) -> None:
    """Every unit the policy names is reported, loaded or not, with a load state."""
    units = units_of(harness.backend.observe())
    reported = {u.name for u in units.units}
    assert set(harness.policy.units.all()) <= reported | {
        n for n in harness.policy.units.all() if units.get(n).load is LoadState.NOT_FOUND
    }
    assert units.get("no-such-unit.service").active is ActiveState.INACTIVE


def test_desktop_after_boot(harness: Harness) -> None:
    """After boot: desktop.target active, compute.target and vLLM inactive."""
    facts = harness.backend.observe()
    names = harness.policy.units
    assert (
        active(facts, names.desktop_target),
        active(facts, names.compute_target),
        active(facts, names.vllm),
    ) == (True, False, False)


def test_one_wayland_session_led_by_the_compositor(harness: Harness) -> None:
    """One active wayland session of class user; its leader is a compositor process."""
    facts = harness.backend.observe()
    sessions = graphical(facts)
    assert [
        (s.type, s.class_, s.state, s.active) for s in sessions
    ] == [("wayland", "user", "active", True)]
    assert not isinstance(facts.processes, Unavailable)
    compositors = {p.pid: p for p in facts.processes
                   if p.comm in harness.policy.processes.compositor}
    assert sessions[0].leader in compositors
    assert sessions[0].id == compositors[sessions[0].leader].session_id


def test_boot_id_is_stable(harness: Harness) -> None:
    """Two observations of the same boot carry the same non-empty boot id."""
    first = harness.backend.observe().boot_id
    assert first != ""
    assert first == harness.backend.observe().boot_id


def test_paths_cover_the_policy_paths(harness: Harness) -> None:
    """Path readiness is reported for the state dir, the audit log's dir and the model store."""
    from pathlib import PurePosixPath

    facts = harness.backend.observe()
    assert not isinstance(facts.paths, Unavailable)
    p = harness.policy.paths
    expected = {p.state_dir, str(PurePosixPath(p.audit_log).parent), p.model_store}
    assert expected == {f.path for f in facts.paths}


# --------------------------------------------------------------------------- units


def test_start_and_stop_a_unit(harness: Harness) -> None:
    """start_unit queues a start (the unit becomes active); stop_unit makes it inactive."""
    marker = harness.policy.units.studio_policy
    harness.backend.start_unit(marker)
    harness.wait_until(f"{marker} active", lambda f: active(f, marker))
    harness.backend.stop_unit(marker)
    facts = harness.wait_until(
        f"{marker} inactive",
        lambda f: units_of(f).get(marker).active is ActiveState.INACTIVE,
    )
    assert units_of(facts).get(marker).load == LoadState.LOADED


def test_kill_unit_then_reset_failed(harness: Harness) -> None:
    """kill_unit SIGKILLs a running service (it ends failed, its processes gone);
    reset_failed brings a failed unit back to inactive."""
    dm = harness.policy.units.display_manager
    harness.wait_until(f"{dm} active", lambda f: active(f, dm))
    harness.backend.kill_unit(dm)
    harness.wait_until(f"{dm} failed",
                       lambda f: units_of(f).get(dm).active is ActiveState.FAILED)
    harness.backend.reset_failed(dm)
    harness.wait_until(f"{dm} inactive",
                       lambda f: units_of(f).get(dm).active is ActiveState.INACTIVE)
    harness.restore()


@pytest.mark.parametrize("action", ["start_unit", "stop_unit", "isolate"])
def test_unknown_unit_is_a_permanent_error(harness: Harness, action: str) -> None:
    """Acting on a unit that does not exist raises a permanent BackendError naming it."""
    with pytest.raises(BackendError) as caught:
        getattr(harness.backend, action)("no-such-unit.target")
    assert (caught.value.temporary, "no-such-unit.target" in str(caught.value)) == (False, True)


def test_isolate_refused_without_allow_isolate(harness: Harness) -> None:
    """Isolating a unit without AllowIsolate= is refused, permanently."""
    with pytest.raises(BackendError) as caught:
        harness.backend.isolate(harness.policy.units.vllm)
    assert (caught.value.temporary, "isolate" in str(caught.value)) == (False, True)


def test_isolate_compute_ends_the_desktop_and_back(harness: Harness) -> None:
    """isolate(compute) stops the desktop side and its session; isolate(desktop) restores."""
    names = harness.policy.units
    harness.backend.isolate(names.compute_target)
    t = harness.policy.timeouts
    facts = harness.wait_until(
        "in compute with no graphical session",
        lambda f: active(f, names.compute_target) and not graphical(f),
        timeout_s=t.vllm_ready_s + t.unit_start_s,  # compute.target is ordered after vLLM
    )
    assert (
        active(facts, names.desktop_target), active(facts, names.graphical_target)
    ) == (False, False)
    harness.backend.isolate(names.desktop_target)
    facts = harness.wait_until(
        "back in desktop with a session",
        lambda f: active(f, names.desktop_target) and bool(graphical(f)), timeout_s=30,
    )
    assert not active(facts, names.compute_target)


# --------------------------------------------------------------------------- slices


def test_slice_properties_round_trip(harness: Harness) -> None:
    """Settings written at run time read back exactly, and None resets a property."""
    wanted = SliceSettings(cpu_weight=10, io_weight=20, cpu_quota_percent=50,
                           memory_high_mib=1024, memory_max_mib=2048, allowed_cpus="0")
    harness.backend.set_slice_properties("ai.slice", wanted)
    assert wanted == slices(harness.backend.observe()).get("ai.slice")
    harness.backend.set_slice_properties("ai.slice", SliceSettings(cpu_weight=100))
    assert SliceSettings(cpu_weight=100) == slices(harness.backend.observe()).get("ai.slice")


def test_every_policy_slice_is_reported(harness: Harness) -> None:
    """The three Dubnium slices are reported with their settings."""
    assert set(SLICES) <= set(slices(harness.backend.observe()))


# --------------------------------------------------------------------------- sessions


def test_terminate_session_removes_it(harness: Harness) -> None:
    """terminate_session ends the graphical session (gone within the policy's bound)."""
    session = graphical(harness.backend.observe())[0]
    harness.backend.terminate_session(session.id)
    facts = harness.wait_until(
        "the session gone",
        lambda f: session.id not in {s.id for s in graphical(f)},
        timeout_s=harness.policy.timeouts.session_exit_s,
    )
    assert [s for s in graphical(facts) if s.id == session.id] == []


def test_unknown_session_is_a_permanent_error(harness: Harness) -> None:
    """Terminating a session logind does not know raises a permanent BackendError."""
    with pytest.raises(BackendError) as caught:
        harness.backend.terminate_session("9999")
    assert (caught.value.temporary, "9999" in str(caught.value)) == (False, True)


def test_notify_user_never_raises(harness: Harness) -> None:
    """notify_user is best effort: it returns what was delivered (nothing is, without a
    notification daemon) and never raises."""
    delivery = harness.backend.notify_user("mode", "the desktop will end in 10 s")
    assert (type(delivery).__name__, delivery.delivered <= delivery.sessions) == (
        "Delivery", True)


# --------------------------------------------------------------------------- audio


def test_audio_stream_is_visible_as_busy(harness: Harness) -> None:
    """A playing stream shows as a busy stream with its application's pid; then it goes."""
    def busy(f: HostFacts) -> bool:
        return not isinstance(f.audio, Unavailable) and bool(f.audio.busy_streams)

    assert not busy(harness.backend.observe())
    with harness.audio_playing():
        facts = harness.wait_until("a busy stream", busy, timeout_s=10)
        assert not isinstance(facts.audio, Unavailable)
        assert all(n.app_pid > 0 for n in facts.audio.busy_streams)
    harness.wait_until("no busy stream", lambda f: not busy(f), timeout_s=10)


# --------------------------------------------------------------------------- vLLM profile


def test_vllm_profile_round_trip(harness: Harness) -> None:
    """A written vLLM profile is what the next observation reports."""
    profile = VllmProfile("compute", ("GPU-a", "GPU-b"), (0, 1))
    harness.backend.write_vllm_profile(profile)
    assert profile == harness.backend.observe().vllm_profile


def test_describe_names_the_backend(harness: Harness) -> None:
    """describe() says which backend it is."""
    assert harness.name == harness.backend.describe()["backend"]


# --------------------------------------------------------------------------- systemd semantics


def test_boot_slice_settings_are_the_desktop_ones(harness: Harness) -> None:
    """After boot the slices carry the desktop weights (the units' [Slice] settings)."""
    desktop = harness.policy.slices[Mode.DESKTOP]
    assert dict(desktop) == {n: s for n, s in slices(harness.backend.observe()).items()
                             if n in desktop}


def test_isolate_desktop_stops_what_it_does_not_want(harness: Harness) -> None:
    """A unit started by hand (the studio marker) is stopped by isolating desktop.target."""
    names = harness.policy.units
    harness.backend.start_unit(names.studio_policy)
    harness.wait_until("marker active", lambda f: active(f, names.studio_policy))
    harness.backend.isolate(names.desktop_target)
    facts = harness.wait_until(
        "marker stopped by isolate",
        lambda f: units_of(f).get(names.studio_policy).active is ActiveState.INACTIVE,
    )
    assert active(facts, names.desktop_target)


def test_starting_compute_target_conflicts_out_the_desktop_targets(harness: Harness) -> None:
    """start(compute.target) stops desktop.target and graphical.target (Conflicts=), but
    not the display manager they merely want: the session survives a plain start."""
    names = harness.policy.units
    harness.backend.start_unit(names.compute_target)
    t = harness.policy.timeouts
    facts = harness.wait_until(
        "compute.target active", lambda f: active(f, names.compute_target),
        timeout_s=t.vllm_ready_s + t.unit_start_s,
    )
    assert (False, False, True, 1) == (
        active(facts, names.desktop_target), active(facts, names.graphical_target),
        active(facts, names.display_manager), len(graphical(facts)),
    )


def test_runtime_slice_settings_survive_isolate(harness: Harness) -> None:
    """Settings applied at run time stay in force across isolate to compute and back."""
    names = harness.policy.units
    wanted = SliceSettings(cpu_weight=500, io_weight=500)
    harness.backend.set_slice_properties("platform.slice", wanted)
    harness.backend.isolate(names.compute_target)
    t = harness.policy.timeouts
    harness.wait_until("compute", lambda f: active(f, names.compute_target),
                       timeout_s=t.vllm_ready_s + t.unit_start_s)
    assert wanted == slices(harness.backend.observe()).get("platform.slice")
    harness.backend.isolate(names.desktop_target)
    facts = harness.wait_until("desktop", lambda f: active(f, names.desktop_target),
                               timeout_s=t.unit_start_s)
    assert wanted == slices(facts).get("platform.slice")
