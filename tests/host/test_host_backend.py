"""The host backend on the test host, beyond the shared contract: what only a real host has.

Notification delivery on alice's session bus, `describe()` and the hardware preflight for
`mode doctor`, process
runtimes from /proc, the atomic vLLM profile, and the observation's cost.
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import time

import pytest

from backends.host import HostBackend
from dubnium.facts import Unavailable, VllmProfile
from dubnium.policyload import load_policy_data
from tests.host.testhost import UID, TestHost, host_policy_json

pytestmark = pytest.mark.host
POLICY = load_policy_data(host_policy_json())


def backend(host: TestHost) -> HostBackend:
    return HostBackend.for_namespace(POLICY, host.pid)


def test_notification_reaches_the_users_session_bus(host: TestHost) -> None:
    """notify_user calls org.freedesktop.Notifications.Notify on alice's session bus."""
    monitor = subprocess.Popen(
        ["nsenter", "-t", str(host.pid), "-p", "-m", "--", "setpriv", f"--reuid={UID}",
         f"--regid={UID}", "--clear-groups", "timeout", "3", "dbus-monitor", "--address",
         f"unix:path=/run/user/{UID}/bus", "interface='org.freedesktop.Notifications'"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(0.5)  # let the monitor register; it exits by itself after 3 s
    b = backend(host)
    b.notify_user("Switching to compute mode", "the desktop ends in 10 s")
    out, _ = monitor.communicate(timeout=10)
    assert 1 == len(b.last_notifications)
    assert ("member=Notify" in out, "Switching to compute mode" in out) == (True, True)


def test_notify_is_bounded_without_a_notification_daemon(host: TestHost) -> None:
    """No notification daemon: notify_user returns within its bound and records why."""
    start = time.monotonic()
    b = backend(host)
    delivery = b.notify_user("s", "b")
    assert time.monotonic() - start < 5
    assert [False] == [n.delivered for n in b.last_notifications]
    assert (delivery.delivered, delivery.sessions, delivery.ok) == (0, 1, False)


def test_describe_reports_versions_and_gpu_topology(host: TestHost) -> None:
    """describe(): systemd/PipeWire/WirePlumber versions, GPUs not observable and why."""
    info = backend(host).describe()
    versions = info["versions"]
    assert isinstance(versions, dict)
    assert ("0.3.65", "0.4.13", True) == (
        versions["pipewire"], versions["wireplumber"], versions["systemd"].startswith("252")
    )
    topology = info["gpu_topology"]
    assert isinstance(topology, dict)
    assert (None, ["gpus"]) == (topology["matches"], list(info["unavailable"]))  # type: ignore[call-overload]


@pytest.mark.skipif(bool(ctypes.util.find_library("nvidia-ml")),
                    reason="an NVIDIA driver is present: the no-driver report is moot")
def test_doctor_hardware_probe_reads_the_hosts_proc(host: TestHost) -> None:
    """hardware_findings(): the preflight reads the test host's /proc (the kernel's CPU and
    memory counts) and reports NVML's absence with its value, as dubnium-preflight does."""
    b = backend(host)
    found = b.hardware_findings(b.observe()).data["found"]
    mib = 1024 * 1024
    expected = (os.sysconf("SC_NPROCESSORS_ONLN"),
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // mib, 12)
    assert expected == (found["cpu"]["logical_cpus"], found["memory"]["total_mib"],
                        found["nvml"]["error_value"])


def test_compositor_runtime_grows(host: TestHost) -> None:
    """The compositor's runtime comes from /proc starttime and grows with real time."""
    b = backend(host)

    def runtime() -> float:
        procs = b.observe().processes
        assert not isinstance(procs, Unavailable)
        return next(p.runtime_s for p in procs if p.comm == "Hyprland")

    first = runtime()
    time.sleep(0.3)
    assert runtime() > first


def test_vllm_profile_is_written_inside_the_host(host: TestHost) -> None:
    """The profile lands at the policy's path inside the namespace, readable by vllm.service."""
    backend(host).write_vllm_profile(VllmProfile("compute", ("GPU-x",), (0,)))
    text = (host.root / POLICY.vllm.profile_path.lstrip("/")).read_text()
    assert "CUDA_VISIBLE_DEVICES=GPU-x\n" in text


def test_a_fifo_in_place_of_the_vllm_profile_does_not_hang_observe(host: TestHost) -> None:
    """A FIFO at the profile path: the profile is unavailable (named), observe returns."""
    import os
    import signal

    path = host.root / POLICY.vllm.profile_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    signal.alarm(20)  # a blocking open would hang here forever
    try:
        facts = backend(host).observe()
    finally:
        signal.alarm(0)
        path.unlink()
    assert isinstance(facts.vllm_profile, Unavailable)
    assert "not a regular file" in facts.vllm_profile.reason
