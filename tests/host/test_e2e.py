"""End to end on the test host: the `mode` CLI (host backend) against real daemons.

Each test drives `mode --backend host --state-dir ... --config ...` inside the namespace
(as the workstation's root would), then checks the result with systemctl, loginctl and
pw-dump, not with Dubnium's own reading of the host. GPUs are the NVML stand-in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dubnium.codes import GuardId
from dubnium.modes import Mode
from dubnium.policyload import load_policy_data
from tests.host.testhost import INNER, TestHost, host_policy_json

pytestmark = pytest.mark.host
POLICY = load_policy_data(host_policy_json())
USER_SESSION = "alice"


@pytest.fixture(autouse=True)
def back_to_desktop(host: TestHost) -> Iterator[None]:
    """Every test starts from, and leaves, the desktop the host booted into."""
    yield
    host.restore_desktop()


def current(host: TestHost) -> tuple[int, str]:
    """`mode current --json`: exit status and observed state."""
    proc = host.mode("current", "--refresh", "--json")
    return proc.returncode, json.loads(proc.stdout)["observed_state"]


def slice_values(host: TestHost, name: str) -> dict[str, str]:
    out = host.systemctl("show", name, "-p", "CPUWeight", "-p", "IOWeight").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def request(host: TestHost, mode: str) -> int:
    proc = host.mode("request", mode)
    if proc.returncode not in (0, *(g.exit_code for g in GuardId)):
        print(proc.stdout, proc.stderr)
    return proc.returncode


def test_current_is_desktop_after_boot(host: TestHost) -> None:
    """A freshly booted host is observed as desktop, with all evidence readable."""
    proc = host.mode("current", "--refresh", "--json")
    data = json.loads(proc.stdout)
    assert (0, "desktop", {}) == (
        proc.returncode, data["observed_state"], data["evidence"]["unavailable"]
    )


def test_after_a_transition_current_is_served_from_its_record(host: TestHost) -> None:
    """Right after a transition, `mode current` serves the observation the transition
    recorded (source recorded, young), equal to what a live observation shows (with the
    record gone: `--refresh` would back off in studio-local)."""
    assert 0 == request(host, "studio-local")
    served = json.loads(host.mode("current", "--json").stdout)
    host.run("rm", str(host.state_dir / "current.json"))
    live = json.loads(host.mode("current", "--json").stdout)
    assert ("recorded", "observed", "studio-local", "studio-local") == (
        served["source"], live["source"], served["observed_state"], live["observed_state"])
    assert 0 <= served["age_s"] <= POLICY.timeouts.current_max_age_s


def test_studio_local_and_back_changes_and_restores_real_slice_weights(host: TestHost) -> None:
    """studio-local sets the studio slice weights in systemd; desktop restores the old ones."""
    before = {s: slice_values(host, s) for s in ("interactive.slice", "ai.slice",
                                                  "platform.slice")}
    assert 0 == request(host, "studio-local")
    studio = POLICY.slices[Mode.STUDIO_LOCAL]
    assert {s: {"CPUWeight": str(v.cpu_weight), "IOWeight": str(v.io_weight)}
            for s, v in studio.items()} == {s: slice_values(host, s) for s in studio}
    assert ("active", "active") == (host.is_active("studio-local-policy.service"),
                                    host.is_active("audio-priority.service"))
    assert (0, "studio-local") == current(host)
    assert 0 == request(host, "desktop")
    assert before == {s: slice_values(host, s) for s in before}
    assert "inactive" == host.is_active("studio-local-policy.service")
    assert (0, "desktop") == current(host)


def test_compute_and_back(host: TestHost) -> None:
    """compute ends alice's session, isolates compute.target, starts vLLM; desktop undoes it."""
    assert [USER_SESSION] == [s["user"] for s in host.sessions()]
    assert 0 == request(host, "compute")
    assert [] == host.sessions()
    assert {"compute.target": "active", "desktop.target": "inactive",
            "graphical.target": "inactive", "vllm.service": "active"} == {
        u: host.is_active(u) for u in ("compute.target", "desktop.target", "graphical.target",
                                       "vllm.service")}
    profile = (host.root / "run/mode-controller/vllm-profile.env").read_text()
    assert "CUDA_VISIBLE_DEVICES=GPU-d0b00000-0000-4000-8000-000000000000," \
           "GPU-d0b00000-0000-4000-8000-000000000001\n" in profile
    env = host.run("sh", "-c", "tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value "
                   "vllm.service)/environ").stdout
    assert "DUBNIUM_TENSOR_PARALLEL_SIZE=2" in env.splitlines()
    assert (0, "compute") == current(host)

    assert 0 == request(host, "desktop")
    assert [USER_SESSION] == [s["user"] for s in host.sessions()]
    assert ("active", "inactive") == (host.is_active("desktop.target"),
                                      host.is_active("vllm.service"))
    assert (0, "desktop") == current(host)


def test_audio_guard_blocks_compute_on_a_real_stream(host: TestHost) -> None:
    """While pw-play plays, `mode request compute` is refused by audio_idle; nothing changes."""
    with host.playing_audio():
        assert GuardId.AUDIO_IDLE.exit_code == request(host, "compute")
        assert [USER_SESSION] == [s["user"] for s in host.sessions()]
        assert ("active", "inactive") == (host.is_active("desktop.target"),
                                          host.is_active("compute.target"))


def test_state_files_written_inside_the_host(host: TestHost) -> None:
    """A request records desired state in the state dir given on the command line."""
    assert 0 == request(host, "desktop")
    assert "desktop" == host.outside(INNER / "state" / "desired").read_text().strip()


HANDOFF = """\
set -eu
leader=$(loginctl show-session "$1" -p Leader --value)
cgroup=$(grep ':name=systemd:' /proc/"$leader"/cgroup | cut -d: -f3)
echo $$ > "/sys/fs/cgroup/systemd$cgroup/cgroup.procs"
shift
exec "$@"
"""


def test_request_from_inside_the_session_survives_the_session_ending(host: TestHost) -> None:
    """`mode request compute` typed in the desktop's own session is handed off to a transient
    unit: the session (and the terminal's process) ends, the transition completes anyway."""
    session = host.sessions()[0]["id"]
    script = host.outside(INNER / "in-session.sh")
    script.write_text(HANDOFF)
    last = host.outside(host.state_dir) / "last-transition.json"
    last.unlink(missing_ok=True)
    proc = host.run("bash", str(INNER / "in-session.sh"), session,
                    *host.mode_argv("request", "compute"), check=False, timeout=120,
                    gpus=True)
    # The caller lived in the session: it is killed with it (or, if it outlived it, it
    # reports the handed-off unit's result). Either way the controller finished outside.
    assert proc.returncode in (0, -15, 143), proc.stderr
    host.wait_for("the handed-off transition's record", last.exists, 60)
    record = json.loads(last.read_text())
    assert ("converged", [], "active") == (
        record["outcome"], host.sessions(), host.is_active("compute.target"))
    assert (0, "compute") == current(host)
    # It really ran in a transient unit (kept across the isolate), not in the session.
    journal = host.run("journalctl", "--no-pager", "-q", "-o", "cat", "-u", "mode-request-*",
                       check=False).stdout
    assert "Deactivated successfully" in journal, journal


@pytest.mark.parametrize("verb", [("request", "compute"), ("reconcile",), ("cancel",),
                                  ("idle", "pause")])
def test_an_ordinary_user_cannot_change_the_host(host: TestHost, verb: tuple[str, ...]) -> None:
    """A mutating verb as alice: exit 3, one line that says to use sudo, nothing changed."""
    proc = host.run(*host.mode_argv(*verb), as_user=True, gpus=True, check=False)
    assert (proc.returncode, proc.stderr.count("\n"), "sudo mode" in proc.stderr) == (
        3, 1, True), proc.stderr
    assert "Traceback" not in proc.stderr
    assert ("active", [USER_SESSION]) == (host.is_active("desktop.target"),
                                          [s["user"] for s in host.sessions()])
