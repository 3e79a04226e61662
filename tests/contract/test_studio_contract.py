"""The studio-local knobs of the Backend contract (issue 15), on the simulator and the host.

The same assertions on a fresh simulated world and on the test host (alice's real PipeWire
and user manager): PipeWire's forced quantum/rate is set and read back through observe(),
the owner's audio units take and report CPU/IO weights, cpufreq is reported (none on the CI
machine, four policies in the simulator), NVML is left alone while the overlay's markers
are up, and the readiness facts are readable.
"""

from __future__ import annotations

from dubnium.facts import SliceSettings, Unavailable
from dubnium.studiofacts import AudioClock, AudioReadiness, CpuFreq
from tests.contract.harness import Harness


def clock(harness: Harness) -> AudioClock:
    value = harness.backend.observe().audio_clock
    assert isinstance(value, AudioClock), value
    return value


def test_audio_clock_is_read_from_the_audio_users_pipewire(harness: Harness) -> None:
    """The owner's PipeWire settings: nothing forced after boot, a 48 kHz default rate."""
    assert (0, 0, 48000) == (clock(harness).force_quantum, clock(harness).force_rate,
                             clock(harness).rate)


def test_forced_quantum_and_rate_round_trip(harness: Harness) -> None:
    """set_audio_clock is seen by the next observation; 0 un-forces again."""
    harness.backend.set_audio_clock(128, 48000)
    forced = harness.wait_until("the quantum forced", lambda f: isinstance(
        f.audio_clock, AudioClock) and f.audio_clock.force_quantum == 128).audio_clock
    harness.backend.set_audio_clock(0, 0)
    back = harness.wait_until("the quantum un-forced", lambda f: isinstance(
        f.audio_clock, AudioClock) and f.audio_clock.force_quantum == 0).audio_clock
    assert ((128, 48000), (0, 0)) == (
        (getattr(forced, "force_quantum", None), getattr(forced, "force_rate", None)),
        (getattr(back, "force_quantum", None), getattr(back, "force_rate", None)))


def test_audio_units_take_and_report_weights(harness: Harness) -> None:
    """The owner's user manager and user.slice report the weights and reserved CPUs set on
    them, and unset."""
    units = harness.policy.studio.audio_units
    raised = SliceSettings(cpu_weight=900, io_weight=800, allowed_cpus="0")
    for unit in units:
        harness.backend.set_slice_properties(unit, raised)
    seen = harness.backend.observe().slice_settings()
    for unit in units:
        harness.backend.set_slice_properties(unit, SliceSettings())
    after = harness.backend.observe().slice_settings()
    assert not isinstance(seen, Unavailable)
    assert not isinstance(after, Unavailable)
    assert (dict.fromkeys(units, raised), dict.fromkeys(units, SliceSettings())) == (
        {u: seen.get(u) for u in units}, {u: after.get(u) for u in units})


def test_cpufreq_is_reported(harness: Harness) -> None:
    """cpufreq is a value: the simulator's four policies, none on a machine without it."""
    freq = harness.backend.observe().cpufreq
    assert isinstance(freq, CpuFreq)
    if harness.name == "sim":
        assert ["powersave"] * 4 == [p.governor for p in freq.policies]


def test_gpu_facts_are_fresh_outside_studio_local(harness: Harness) -> None:
    """On the desktop the GPU facts are read now (no age)."""
    assert None is harness.backend.observe().gpus_read_at_ns


def test_readiness_facts_name_the_audio_user(harness: Harness) -> None:
    """The readiness facts are readable: the audio user, its PipeWire's RT module."""
    r = harness.backend.audio_readiness()
    assert isinstance(r, AudioReadiness)
    assert (harness.policy.studio.audio_user, True) == (r.audio_user, r.pipewire_rt_module)
