"""The resident observer on the test host: mode-current.socket (real systemd socket
activation) starts `mode current-server`, which answers a live `mode current` with an
observation of the real daemons that it makes after the question.

The caller is root without `--refresh` and with no recorded answer (current.json removed
first), which is a live observation through the console script's fast path, and alice, an
ordinary user, whose `--refresh` is always live and writes nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.host.testhost import REPO, TestHost
from tests.unit.test_readpath import PROBE

pytestmark = pytest.mark.host


@pytest.fixture(autouse=True)
def resident_observer(host: TestHost) -> Iterator[None]:
    host.systemctl("start", "mode-current.socket")
    yield
    host.systemctl("stop", "mode-current.socket", "mode-current.service", check=False)
    host.restore_desktop()


def live_current(host: TestHost, *, as_user: bool = False
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """`mode current --json` with no recorded answer, as root, or `--refresh` as alice:
    (what it loaded and its exit code, its JSON)."""
    host.run("rm", "-f", str(host.state_dir / "current.json"))
    verb = ("current", "--json", *(["--refresh"] if as_user else []))
    proc = host.run(sys.executable, "-c", PROBE, *host.mode_argv(*verb)[1:],
                    env={"PYTHONPATH": str(REPO)}, gpus=True, check=False, as_user=as_user)
    probe = next(line for line in proc.stderr.splitlines() if line.startswith("PROBE "))
    return json.loads(probe[6:]), json.loads(proc.stdout)


def test_the_socket_starts_the_server_and_it_answers_what_the_host_shows(
        host: TestHost) -> None:
    """The first live `mode current` starts mode-current.service and gets desktop, observed
    now, without loading the observer itself; a change on the host between two questions
    is in the second answer (no answer is kept), and its undoing in the third."""
    assert "inactive" == host.is_active("mode-current.service")
    probe, data = live_current(host)
    assert (0, "desktop", "observed") == (probe["code"], data["observed_state"], data["source"])
    assert not {"dubnium.observe", "backends.host", "attrs"} & set(probe["loaded"])
    assert "active" == host.is_active("mode-current.service")

    host.systemctl("start", "vllm.service")  # vLLM on the desktop: not the desktop contract
    probe, data = live_current(host)
    assert (probe["code"], data["observed_state"]) != (0, "desktop")
    assert "dubnium.observe" not in probe["loaded"]
    host.systemctl("stop", "vllm.service")
    probe, data = live_current(host)
    assert (0, "desktop") == (probe["code"], data["observed_state"])


def test_the_answer_is_the_one_the_caller_would_observe_itself(host: TestHost) -> None:
    """Apart from the time, the server's answer equals the caller's own observation (the
    socket stopped, so `mode current` observes in its own process)."""
    _, served = live_current(host)
    host.systemctl("stop", "mode-current.socket", "mode-current.service")
    probe, own = live_current(host)
    assert "dubnium.observe" in probe["loaded"]
    skip = ("timestamp", "age_s")
    assert {k: v for k, v in served.items() if k not in skip} == {
        k: v for k, v in own.items() if k not in skip}


def test_an_ordinary_users_live_current_is_answered_too(host: TestHost) -> None:
    """alice's `mode current --refresh --json` (what a status bar of hers runs) is answered
    by the resident observer: desktop, exit 0, nothing of the observer loaded in her
    process, and no record written (no current.json: only the timer records)."""
    probe, data = live_current(host, as_user=True)
    assert (0, "desktop", "observed") == (probe["code"], data["observed_state"], data["source"])
    assert not {"dubnium.observe", "backends.host", "attrs"} & set(probe["loaded"])
    assert not host.outside(host.state_dir / "current.json").exists()
