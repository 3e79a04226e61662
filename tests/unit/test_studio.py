"""studio-local's audio tuning (issue 15) on the simulated host and in its pure parts.

The simulator models the same knobs as the host: PipeWire's clock settings, cpufreq
governors and EPP, the owner's user manager and user.slice weights, NVML reads. Entering
forces them (read back), leaving restores the exact previous values (also after a killed
controller), faults on the setters roll back, and NVML is never read in studio-local.
"""

from __future__ import annotations

import attrs
import pytest

from dubnium import plan as p
from dubnium.errors import ConfigError
from dubnium.facts import SliceSettings
from dubnium.modes import Mode, ObservedState
from dubnium.observe import classify
from dubnium.policy import Policy, default_policy
from dubnium.policyload import load_policy_data
from dubnium.reconcile import Reporter
from dubnium.studiofacts import AudioClock
from simulator.actionfaults import ActionFault, FaultEffect
from simulator.faults import ControllerKilled
from simulator.harness import Station

USER_MANAGER = "user@1000.service"


def owner_values(station: Station) -> tuple[object, ...]:
    """Non-default values of the owner's own (so a reset to defaults would show)."""
    world = station.world
    world.studio.force_quantum = 256
    world.studio.governors["policy1"] = "performance"
    world.studio.epps["policy2"] = "power"
    world.systemd.reset_slice(USER_MANAGER, SliceSettings(cpu_weight=150, io_weight=170))
    return knobs(station)


def knobs(station: Station) -> tuple[object, ...]:
    world = station.world
    settings = {s.name: s.settings for s in world.systemd.slice_facts()}
    return (world.studio.force_quantum, world.studio.force_rate, dict(world.studio.governors),
            dict(world.studio.epps), settings[USER_MANAGER], settings["user.slice"])


def test_policy_adds_the_audio_units_to_the_slice_snapshot() -> None:
    """The owner's audio units are raised in studio-local and unset in the desktop policy."""
    policy = default_policy()
    assert (SliceSettings(cpu_weight=1000, io_weight=1000), SliceSettings()) == (
        policy.slices[Mode.STUDIO_LOCAL][USER_MANAGER], policy.slices[Mode.DESKTOP][USER_MANAGER])


def test_policy_studio_section_round_trips() -> None:
    """Every studio key written by to_json is read back unchanged."""
    data = default_policy().to_json()
    data["studio"] = {**data["studio"], "quantum": 128, "rate": 96000, "governor": None,
                      "audio_units": ["user.slice", "user@4242.service"], "audio_uid": 4242}
    policy = load_policy_data(data)
    assert data["studio"] == policy.to_json()["studio"]
    assert "user@4242.service" in policy.slices[Mode.STUDIO_LOCAL]


@pytest.mark.parametrize(("unit", "message"), [
    ("ai.slice", "studio.audio_units[0]: ai.slice is one of Dubnium's own slices"),
    ("pipewire", "studio.audio_units[0]: not a systemd unit name"),
    ("pipewire.socket", "studio.audio_units[0]: expected a .slice or .service or .scope unit"),
])
def test_bad_audio_unit_is_a_config_error(unit: str, message: str) -> None:
    """An audio unit that is not a unit name, or one of Dubnium's slices, is refused."""
    data = default_policy().to_json()
    data["studio"]["audio_units"] = [unit]
    with pytest.raises(ConfigError) as err:
        load_policy_data(data)
    assert str(err.value).startswith(message)


def test_audio_clock_from_pw_dump() -> None:
    """The settings metadata and the running driver, as PipeWire 0.3.65's pw-dump prints them."""
    dump = [
        {"id": 31, "type": "PipeWire:Interface:Metadata", "props": {"metadata.name": "settings"},
         "metadata": [{"subject": 0, "key": "clock.rate", "type": "", "value": 48000},
                      {"subject": 0, "key": "clock.quantum", "type": "", "value": 1024},
                      {"subject": 0, "key": "clock.force-quantum", "type": "", "value": 64},
                      {"subject": 0, "key": "clock.force-rate", "type": "", "value": 0}]},
        {"id": 28, "type": "PipeWire:Interface:Node", "info": {
            "state": "suspended", "props": {"node.name": "Dummy-Driver", "node.driver": True}}},
        {"id": 30, "type": "PipeWire:Interface:Node", "info": {
            "state": "running", "props": {"node.name": "dubnium-null-sink", "node.driver": True}}},
    ]
    assert AudioClock(64, 0, 1024, 48000, "dubnium-null-sink") == AudioClock.from_pw_dump(dump)


def test_parse_dump_applies_a_removal_printed_before_the_full_dump() -> None:
    """pw-dump may print a removed object as its own array first: both arrays are read."""
    from backends.pipewire import parse_dump

    text = ('[\n {"id": 41, "info": null}\n]\n[\n {"id": 0, "type": "PipeWire:Interface:Core"},'
            '\n {"id": 41, "type": "PipeWire:Interface:Node", "info": {}}\n]\n')
    assert [0, 41] == [o["id"] for o in parse_dump(text)]


def test_entering_forces_and_leaving_restores_the_exact_previous_values() -> None:
    """studio-local forces quantum 64, performance and the audio weights; desktop puts back
    exactly what the owner had (not the defaults)."""
    station = Station.create()
    before = owner_values(station)
    assert "converged" == station.request(Mode.STUDIO_LOCAL).outcome.value
    perf = {f"policy{i}": "performance" for i in range(4)}
    raised = SliceSettings(cpu_weight=1000, io_weight=1000)
    assert (64, 0, perf, raised, raised) == (
        *knobs(station)[:3], *knobs(station)[4:])
    assert ObservedState.STUDIO_LOCAL == station.observe().state
    assert "converged" == station.request(Mode.DESKTOP).outcome.value
    assert before == knobs(station)


def test_a_controller_killed_mid_entry_leaves_the_next_one_to_restore_exactly() -> None:
    """Killed after the tuning is applied, before the markers: the host is not desktop
    (the contract names the leftovers) and the next request restores the saved values."""

    class KillAtMarkers(Reporter):
        def step_started(self, leg: str, step: p.Step) -> None:
            if isinstance(step, p.StartUnit):
                raise ControllerKilled()

    station = Station.create()
    before = owner_values(station)
    station.reporter = KillAtMarkers()
    with pytest.raises(ControllerKilled):
        station.request(Mode.STUDIO_LOCAL)
    station.reporter = None
    station.store.holder_alive = None  # its process is gone (as the fault campaigns do)
    observed = classify(station.backend.observe(), station.policy)  # the lock aside
    assert (ObservedState.DEGRADED_DESKTOP, ["slices_at_desktop_policy", "no_studio_tuning"]) == (
        observed.state, [t.id.value for t in observed.missing])
    # The next controller finds the dead attempt's journal and finishes its rollback before
    # deciding (issue 10): the host is then desktop, so the request itself may be "already".
    outcome = station.controller(pid=4200).request(Mode.DESKTOP).outcome.value
    assert (True, before) == (outcome in ("converged", "already-converged"), knobs(station))


def test_no_nvml_read_while_studio_local_is_in_force() -> None:
    """With audio running, studio-local reads NVML zero times (GPU facts carry their age);
    the desktop reads it on every observation (so the count can move)."""
    station = Station.create()
    station.world.start_audio_stream("reaper-out")
    assert "converged" == station.request(Mode.STUDIO_LOCAL).outcome.value
    reads, xruns = station.world.studio.nvml_reads, station.world.studio.xruns
    for _ in range(50):
        station.world.advance(60.0)
        facts = station.backend.observe()
    assert (0, 0) == (station.world.studio.nvml_reads - reads, station.world.studio.xruns - xruns)
    assert (facts.gpus_age_s or 0.0) >= 3000.0
    assert "converged" == station.request(Mode.DESKTOP).outcome.value
    assert station.world.studio.nvml_reads > reads


@pytest.mark.parametrize("fault", [
    ActionFault("set_audio_clock", FaultEffect.IGNORED, times=-1),
    ActionFault("set_cpu_policy", FaultEffect.ERROR, target="policy2", temporary=False),
])
def test_a_setter_that_fails_or_does_nothing_rolls_back_to_the_exact_values(
        fault: ActionFault) -> None:
    """A pw-metadata that reports success but changes nothing (caught by reading back), or a
    governor write that fails: rolled back, every knob as it was."""
    station = Station.create()
    before = owner_values(station)
    station.world.inject_action_fault(fault)
    assert "rolled-back" == station.request(Mode.STUDIO_LOCAL).outcome.value
    station.world.action_faults.clear()
    assert (ObservedState.DESKTOP, before) == (station.observe().state, knobs(station))


def test_a_machine_without_cpufreq_enters_and_says_so() -> None:
    """No cpufreq (a VM): studio-local still converges; the step reports the governor left."""
    station = Station.create()
    station.world.studio.cpufreq = False
    result = station.request(Mode.STUDIO_LOCAL)
    details = [s.detail for s in result.record.steps if "force PipeWire" in s.step]
    assert ("converged", ["clock.force-quantum=64 clock.force-rate=0; no cpufreq on this "
                          "machine: governor left alone (read back)"]) == (
        result.outcome.value, details)


def test_policy_without_studio_tuning_plans_no_forcing() -> None:
    """quantum, rate and governor null: the apply step forces nothing."""
    policy = attrs.evolve(default_policy(), studio=attrs.evolve(
        Policy().studio, quantum=None, rate=None, governor=None))
    station = Station.create(policy=policy)
    before = knobs(station)
    assert "converged" == station.request(Mode.STUDIO_LOCAL).outcome.value
    assert before[:4] == knobs(station)[:4]


def _reserving_audio_cpus() -> Policy:
    """CPUs 2-3 kept for the audio units in studio-local, ai and platform on 0-1."""
    return load_policy_data({"schema_version": 1, "studio": {"audio_cpus": "2-3"},
                             "slices": {"studio-local": {
                                 "ai.slice": {"allowed_cpus": "0-1"},
                                 "platform.slice": {"allowed_cpus": "0-1"}}}})


def test_audio_cpus_are_reserved_in_studio_local_and_every_cpu_comes_back() -> None:
    """With studio.audio_cpus, entering gives the audio units those CPUs and ai/platform the
    others (the contract and the oracle check them); leaving restores every CPU, also the
    reservation the owner had set on ai.slice."""
    station = Station.create(policy=_reserving_audio_cpus())
    station.world.systemd.reset_slice("ai.slice", SliceSettings(cpu_weight=100, io_weight=100,
                                                                allowed_cpus="0-2"))

    def cpus() -> list[str | None]:
        settings = {s.name: s.settings for s in station.world.systemd.slice_facts()}
        return [settings[n].allowed_cpus for n in
                ("user.slice", USER_MANAGER, "ai.slice", "platform.slice")]

    before = cpus()
    entered = station.request(Mode.STUDIO_LOCAL).outcome.value
    inside = (cpus(), station.observe().state)
    left = station.request(Mode.DESKTOP).outcome.value
    assert (before, entered, inside, left, cpus()) == (
        [None, None, "0-2", None], "converged",
        (["2-3", "2-3", "0-1", "0-1"], ObservedState.STUDIO_LOCAL), "converged",
        [None, None, "0-2", None])


def test_a_reservation_changed_under_studio_local_is_not_studio_local() -> None:
    """Someone widens ai.slice back to every CPU while studio-local is in force: the
    observer names the slice term, and the oracle agrees the contract does not hold."""
    from simulator.oracle import missing  # the oracle's own reading of the world

    station = Station.create(policy=_reserving_audio_cpus())
    assert "converged" == station.request(Mode.STUDIO_LOCAL).outcome.value
    world = station.world
    ai = {s.name: s.settings for s in world.systemd.slice_facts()}["ai.slice"]
    world.systemd.reset_slice("ai.slice", attrs.evolve(ai, allowed_cpus=None))
    observed = classify(station.backend.observe(), station.policy)
    assert (observed.state is ObservedState.STUDIO_LOCAL,
            "slices_at_studio_policy" in [t.id.value for t in observed.missing],
            bool(missing(world, station.policy, Mode.STUDIO_LOCAL.value))) == (
        False, True, True)


def test_a_reservation_changed_by_someone_else_is_named_at_exit_and_read_back() -> None:
    """ai.slice's CPUs changed by hand in studio-local (neither the overlay's nor the saved
    value): the exit restores the saved value and its record names the change, a CPU list,
    which reads back from the audit log as written."""
    from dubnium.reconcile import read_record
    from dubnium.records import AttemptRecord, ExternalChange, to_json

    station = Station.create(policy=_reserving_audio_cpus())
    assert "converged" == station.request(Mode.STUDIO_LOCAL).outcome.value
    ai = {s.name: s.settings for s in station.world.systemd.slice_facts()}["ai.slice"]
    station.world.systemd.reset_slice("ai.slice", attrs.evolve(ai, allowed_cpus="0"))
    record = station.request(Mode.DESKTOP).record
    assert isinstance(record, AttemptRecord)
    changed = ExternalChange("ai.slice", "allowed_cpus", "0", "0-1", None)
    assert (changed in record.external_changes, read_record(to_json(record)) == record) == (
        True, True)
