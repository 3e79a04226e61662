"""Evidence that cannot be read, on the test host: dbus stopped, PipeWire stopped.

The host backend must carry it as Unavailable with the daemon's own reason; `mode current`
must say so (exit 25) and `mode request compute` must refuse (guard check error, 20) —
unknown or blocked, never success. Each test restores the daemons it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from backends.host import HostBackend
from dubnium.codes import ExitCode
from dubnium.policyload import load_policy_data
from tests.host.testhost import UID, TestHost, host_policy_json

pytestmark = pytest.mark.host
POLICY = load_policy_data(host_policy_json())


@pytest.fixture(autouse=True)
def back_to_desktop(host: TestHost) -> Iterator[None]:
    yield
    host.restore_desktop()


def stop_dbus(host: TestHost) -> None:
    host.systemctl("stop", "dbus.socket", "dbus.service")


def stop_pipewire(host: TestHost) -> None:
    host.run("systemctl", "--user", "stop", "pipewire.socket", "pipewire.service",
             "wireplumber.service", as_user=True)


def test_dbus_down_makes_units_sessions_and_slices_unavailable(host: TestHost) -> None:
    """With the system bus gone, systemd and logind evidence is Unavailable, with why."""
    stop_dbus(host)
    facts = HostBackend.for_namespace(POLICY, host.pid).observe()
    missing = facts.unavailable()
    assert {"units", "sessions", "slices"} <= set(missing)
    assert "cannot connect to the system bus" in missing["units"]


def test_dbus_down_current_reports_missing_evidence(host: TestHost) -> None:
    """`mode current` with dbus stopped: exit 25, the missing groups named in the JSON."""
    stop_dbus(host)
    proc = host.mode("current", "--refresh", "--json")
    data = json.loads(proc.stdout)
    assert (ExitCode.EVIDENCE_UNAVAILABLE, "unknown") == (proc.returncode,
                                                          data["observed_state"])
    assert {"units", "sessions", "slices"} <= set(data["evidence"]["unavailable"])


def test_dbus_down_compute_refused(host: TestHost) -> None:
    """`mode request compute` with dbus stopped refuses with a guard check error (20)."""
    stop_dbus(host)
    assert ExitCode.GUARD_CHECK_ERROR == host.mode("request", "compute").returncode


def test_pipewire_down_makes_audio_unavailable_with_pw_dump_message(host: TestHost) -> None:
    """With alice's PipeWire stopped, the audio graph is Unavailable, not an empty graph."""
    stop_pipewire(host)
    audio = HostBackend.for_namespace(POLICY, host.pid).observe().unavailable().get("audio", "")
    assert f"/run/user/{UID}" in audio
    assert ("pw-dump" in audio) or ("no PipeWire socket" in audio)


def test_pipewire_down_current_names_the_missing_evidence(host: TestHost) -> None:
    """`mode current` with PipeWire stopped names audio (and its clock, read from the same
    daemon) as unavailable, confidence not high."""
    stop_pipewire(host)
    data = json.loads(host.mode("current", "--refresh", "--json").stdout)
    assert (["audio", "audio_clock"], "medium") == (sorted(data["evidence"]["unavailable"]),
                                     data["confidence"])


def test_pipewire_down_current_exits_25(host: TestHost) -> None:
    """`mode current` with PipeWire stopped exits 25 (evidence unavailable)."""
    stop_pipewire(host)
    proc = host.mode("current", "--refresh", "--json")
    assert ExitCode.EVIDENCE_UNAVAILABLE == proc.returncode


def test_pipewire_down_compute_refused(host: TestHost) -> None:
    """`mode request compute` with PipeWire stopped: audio_idle cannot check, exit 20."""
    stop_pipewire(host)
    proc = host.mode("request", "compute")
    assert ExitCode.GUARD_CHECK_ERROR == proc.returncode
    assert [] != host.sessions()
