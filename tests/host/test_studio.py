"""studio-local on the test host (issue 15): real PipeWire, WirePlumber and alice's user manager.

Drives `mode --backend host` inside the namespace and checks the result with pw-dump and
`systemctl show`, not with Dubnium's own reading: entering studio-local forces alice's
PipeWire quantum, raises her user manager's and user.slice's weights and keeps CPU 1 for
them (ai.slice on CPU 0: AllowedCPUs as systemd shows it); leaving restores
the exact previous values (set to non-default values first, so a reset to defaults would
fail), also when the controller that entered was SIGKILLed before any exit step. The NVML
test counts the real backend's NVML calls while studio-local is in force: zero.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from backends.host import HostBackend
from backends.nvml import NvmlAdapter
from dubnium.audit import MemoryAuditLog
from dubnium.facts import GpuFact
from dubnium.modes import Mode, ObservedState
from dubnium.policyload import load_policy_data
from dubnium.reconcile import Reconciler
from dubnium.state import LOCK, MemoryStore, RuntimeState
from tests.host.testhost import UID, TestHost, host_policy_json

pytestmark = pytest.mark.host
POLICY = load_policy_data(host_policy_json())
USER_MANAGER = f"user@{UID}.service"
QUANTUM = POLICY.studio.quantum


@pytest.fixture(autouse=True)
def back_to_desktop(host: TestHost) -> Iterator[None]:
    """Every test starts from, and leaves, the desktop the host booted into."""
    yield
    host.run("rm", "-rf", "/run/systemd/system/studio-local-policy.service.d", check=False)
    host.systemctl("daemon-reload", check=False)
    host.restore_desktop()


def weights(host: TestHost, unit: str) -> tuple[str, str]:
    out = host.systemctl("show", unit, "-p", "CPUWeight", "-p", "IOWeight").stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return values["CPUWeight"], values["IOWeight"]


def audio_state(host: TestHost) -> tuple[object, tuple[str, str], tuple[str, str]]:
    """(alice's clock.force-quantum per pw-dump, her user manager's and user.slice's weights)"""
    return (host.pw_settings()["clock.force-quantum"], weights(host, USER_MANAGER),
            weights(host, "user.slice"))


def allowed_cpus(host: TestHost) -> tuple[str, ...]:
    """AllowedCPUs= as systemd shows it, of alice's user manager, user.slice and ai.slice."""
    out = []
    for unit in (USER_MANAGER, "user.slice", "ai.slice"):
        shown = host.systemctl("show", unit, "-p", "AllowedCPUs").stdout.strip()
        out.append(shown.partition("=")[2])
    return tuple(out)


def owner_values(host: TestHost, quantum: int) -> None:
    """Values of the owner's own, not systemd's or PipeWire's defaults."""
    host.pw_metadata("clock.force-quantum", quantum)
    host.systemctl("set-property", "--runtime", USER_MANAGER, "CPUWeight=150", "IOWeight=170")
    host.systemctl("set-property", "--runtime", "user.slice", "CPUWeight=90", "IOWeight=80")


def test_studio_local_forces_the_quantum_and_weighs_alices_audio_desktop_restores(
        host: TestHost) -> None:
    """Entering changes the quantum in pw-dump and the weights systemd reports; leaving
    puts back the exact previous values."""
    owner_values(host, 512)
    host.systemctl("set-property", "--runtime", "user.slice", "AllowedCPUs=0-1")
    before = audio_state(host), allowed_cpus(host)
    assert ((512, ("150", "170"), ("90", "80")), ("", "0-1", "")) == before
    proc = host.mode("request", "studio-local")
    assert 0 == proc.returncode, proc.stdout + proc.stderr
    assert ((QUANTUM, ("1000", "1000"), ("1000", "1000")), ("1", "1", "0")) == (
        audio_state(host), allowed_cpus(host))
    proc = host.mode("request", "desktop")
    assert 0 == proc.returncode, proc.stdout + proc.stderr
    assert before == (audio_state(host), allowed_cpus(host))


def test_a_controller_killed_in_studio_local_entry_is_restored_by_the_next(
        host: TestHost) -> None:
    """SIGKILL after the tuning is applied, before any exit step: the next controller's
    desktop request restores the exact values saved on entry."""
    owner_values(host, 256)
    before = audio_state(host)
    # Hold the entry in its marker start, after the tuning is applied, so the kill lands
    # between the apply and the end of the entry.
    host.run("mkdir", "-p", "/run/systemd/system/studio-local-policy.service.d")
    host.run("sh", "-c", "printf '[Service]\\nExecStartPre=/bin/sleep 30\\n' > "
             "/run/systemd/system/studio-local-policy.service.d/50-slow.conf")
    host.systemctl("daemon-reload")
    entering = subprocess.Popen(
        ["nsenter", "-t", str(host.pid), "-p", "-m", "--", *host.mode_argv("request",
                                                                            "studio-local")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        host.wait_for("the studio quantum in force",
                      lambda: host.pw_settings()["clock.force-quantum"] == QUANTUM, 20)
        lock = json.loads(host.outside(host.state_dir / LOCK).read_text())
        host.run("kill", "-KILL", str(lock["pid"]))
        entering.wait(timeout=10)
    finally:
        if entering.poll() is None:
            entering.kill()
            entering.wait()
    assert (QUANTUM, ("1000", "1000"), ("1000", "1000")) == audio_state(host)
    host.run("rm", "-rf", "/run/systemd/system/studio-local-policy.service.d")
    host.systemctl("daemon-reload")
    proc = host.mode("request", "desktop")
    assert 0 == proc.returncode, proc.stdout + proc.stderr
    assert before == audio_state(host)


class CountingNvml(NvmlAdapter):
    """The real adapter (the NVML stand-in is not loaded here: it reports unavailable),
    counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self) -> tuple[GpuFact, ...] | object:  # type: ignore[override]
        self.calls += 1
        return super().read()


def test_no_nvml_call_while_studio_local_is_in_force(host: TestHost) -> None:
    """The host backend asks NVML zero times in studio-local, and again once it is left."""
    nvml = CountingNvml()
    backend = HostBackend.for_namespace(POLICY, host.pid, nvml=nvml)
    rec = Reconciler(backend, POLICY, RuntimeState(MemoryStore()), MemoryAuditLog(), pid=1)
    assert "converged" == rec.request(Mode.STUDIO_LOCAL).outcome.value
    at_entry = nvml.calls
    states = [rec.observe()[1].state for _ in range(20)]
    in_studio = nvml.calls - at_entry
    assert "converged" == rec.request(Mode.DESKTOP).outcome.value
    assert ([ObservedState.STUDIO_LOCAL] * 20, 0) == (states, in_studio)
    assert nvml.calls > at_entry  # leaving reads NVML again (the count can move)
