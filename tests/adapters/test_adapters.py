"""The host adapters' translation rules, on recorded inputs (no daemons needed).

What systemd, pw-dump and the EnvironmentFile say, turned into facts: these are the edges
where a mistake would make the controller believe something false.
"""

from __future__ import annotations

import errno

from backends.bus import translate
from backends.host import parse_profile
from backends.systemd import (
    UNSET,
    parse_active,
    parse_load,
    slice_properties,
    slice_settings_from_properties,
)
from dubnium.facts import ActiveState, LoadState, SliceSettings, Unavailable, VllmProfile


def test_unset_slice_properties_read_as_none() -> None:
    """systemd's UINT64_MAX ("unset"/"infinity") reads back as None, not a huge number."""
    props = {b"CPUWeight": UNSET, b"IOWeight": UNSET, b"CPUQuotaPerSecUSec": UNSET,
             b"MemoryHigh": UNSET, b"MemoryMax": UNSET}
    assert SliceSettings() == slice_settings_from_properties(props)


def test_slice_properties_units() -> None:
    """Quota in percent of one CPU, memory in MiB, weights as they are."""
    props = {b"CPUWeight": 10, b"IOWeight": 20, b"CPUQuotaPerSecUSec": 500_000,
             b"MemoryHigh": 1024 << 20, b"MemoryMax": 2048 << 20}
    assert SliceSettings(10, 20, 50, 1024, 2048) == slice_settings_from_properties(props)


def test_slice_settings_written_back_are_read_back() -> None:
    """What set_slice writes is what the read maps back to (None included)."""
    for settings in (SliceSettings(cpu_weight=1000, io_weight=None, cpu_quota_percent=250,
                                   memory_high_mib=None, memory_max_mib=4096,
                                   allowed_cpus="0-3,9"), SliceSettings()):
        props = {name: value for name, _, value in slice_properties(settings)}
        assert settings == slice_settings_from_properties(props)


def test_allowed_cpus_is_systemds_byte_mask() -> None:
    """AllowedCPUs goes on the bus as `ay`, CPU n at bit n % 8 of byte n // 8; empty: every
    CPU (None)."""
    triples = {name: (sig, value) for name, sig, value in
               slice_properties(SliceSettings(allowed_cpus="0-2,9"))}
    assert (triples[b"AllowedCPUs"], triples[b"CPUWeight"][0],
            slice_properties(SliceSettings())[-1]) == (
        (b"ay", bytes([0b0000_0111, 0b0000_0010])), b"t", (b"AllowedCPUs", b"ay", b""))


def test_unknown_active_state_is_never_active() -> None:
    """States a newer systemd may add are not read as active (and known ones map exactly)."""
    assert (ActiveState.ACTIVE, False, False) == (
        parse_active("active"), parse_active("maintenance") is ActiveState.ACTIVE,
        parse_active("something-new") in (ActiveState.ACTIVE, ActiveState.RELOADING),
    )


def test_unknown_load_state_is_an_error() -> None:
    """An unknown load state is reported as error, never as loaded."""
    assert (LoadState.NOT_FOUND, LoadState.ERROR) == (parse_load("not-found"), parse_load("x"))


class _FakeDBusError(Exception):
    def __init__(self, number: int, name: bytes, message: bytes) -> None:
        self.errno, self.err_name, self.err_message = number, name, message


def test_bus_errors_temporary_or_permanent() -> None:
    """A bus that is down or slow is temporary; an unknown session or unit is permanent."""
    cases = [
        (-errno.ENOENT, b"", b""),
        (-errno.ECONNREFUSED, b"", b""),
        (-1, b"org.freedesktop.DBus.Error.NoReply", b"no reply"),
        (-6, b"org.freedesktop.login1.NoSuchSession", b"No session '9' known"),
        (-1, b"org.freedesktop.systemd1.NoIsolation", b"refused"),
    ]
    got = [translate(_FakeDBusError(*c), "x").temporary for c in cases]  # type: ignore[arg-type]
    assert [True, True, True, False, False] == got


def test_profile_env_file_round_trip() -> None:
    """The EnvironmentFile written for vllm.service parses back to the same profile."""
    profile = VllmProfile("degraded", ("GPU-b",), (1,))
    text = profile.to_env() + "DUBNIUM_GPU_INDICES=1\n"
    assert profile == parse_profile(text, "/p")


def test_profile_without_name_is_unavailable() -> None:
    """A profile file that is not ours is unreadable evidence, not an 'off' profile."""
    assert isinstance(parse_profile("FOO=1\n", "/p"), Unavailable)
