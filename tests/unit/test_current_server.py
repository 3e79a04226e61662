"""The resident observer (`mode current-server`, `backends.currentserver`) and its caller
(`dubnium_app.currentclient`): a live `mode current` answered by the server, and every way
the caller falls back to observing in its own process.

The server runs here as systemd runs it (a listening socket as fd 3, `LISTEN_FDS`,
`LISTEN_PID`), on a host without D-Bus, so every observation is honest and incomplete
(exit 25). tests/host/test_current_server.py runs it from a real mode-current.socket.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.currentserver import CurrentServer, listening_socket
from backends.session import _host_backend
from dubnium import readpath
from dubnium.codes import ExitCode
from dubnium.errors import BackendUnavailable
from dubnium.policy import Policy
from dubnium.policyload import load_policy
from dubnium.session import runtime_in
from tests.unit.test_readpath import run

REPO = Path(__file__).resolve().parents[2]
NO_BUS = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
# systemd's side of socket activation: the socket becomes fd 3 of the exec'd `mode`.
ACTIVATE = ("import os, sys; os.dup2(int(sys.argv[1]), 3); "
            "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); "
            "os.execv(sys.executable, [sys.executable, '-c', "
            "'import sys; sys.argv[0] = \"mode\"; from dubnium_app.launch import main; main()', "
            "*sys.argv[2:]])")


def _files(where: Path, **timeouts: float) -> tuple[Path, Path]:
    state = where / "state"
    state.mkdir()
    config = where / "config.json"
    base = Policy().to_json()
    config.write_text(json.dumps({
        **base, "paths": {**base["paths"], "state_dir": str(state)},
        "timeouts": {**base["timeouts"], "current_max_age_s": 0, **timeouts}}))
    return state, config


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return _files(tmp_path)


def _listen(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    return listener


@pytest.fixture
def server(files: tuple[Path, Path]) -> Iterator[subprocess.Popen[str]]:
    """`mode current-server` for `files`, started the way mode-current.socket starts it."""
    state, config = files
    listener = _listen(state / readpath.CURRENT_SOCKET)
    proc = subprocess.Popen(
        [sys.executable, "-c", ACTIVATE, str(listener.fileno()), "--backend", "host",
         "--config", str(config), "current-server"],
        pass_fds=(listener.fileno(),), env={**os.environ, **NO_BUS, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    listener.close()
    yield proc
    proc.kill()
    proc.communicate(timeout=10)


def _client(config: Path, *args: str) -> tuple[dict[str, Any], Any]:
    return run(config, "current", "--json", *args, env=NO_BUS)


def test_a_live_current_is_answered_by_the_resident_observer(
        files: tuple[Path, Path], server: subprocess.Popen[str]) -> None:
    """With mode-current.socket there, a live `mode current --json` loads neither the
    observer nor the host backend (the server observed), and prints what observing in its
    own process prints, but for the time."""
    state, config = files
    probe, served = _client(config)
    assert not {"dubnium.observe", "backends.host", "attrs"} & set(probe["loaded"])
    (state / readpath.CURRENT_SOCKET).unlink()
    own_probe, own = _client(config)
    assert "dubnium.observe" in own_probe["loaded"]
    assert ("observed", probe["code"]) == (served["source"], own_probe["code"])
    assert probe["code"] == ExitCode.EVIDENCE_UNAVAILABLE
    skip = ("timestamp", "age_s")
    assert {k: v for k, v in served.items() if k not in skip} == {
        k: v for k, v in own.items() if k not in skip}


def test_each_answer_is_a_new_observation(
        files: tuple[Path, Path], server: subprocess.Popen[str]) -> None:
    """The server observes after each question: two answers, two evidence times."""
    _, config = files
    first = _client(config)[1]["timestamp"]
    time.sleep(0.01)
    second = _client(config)[1]["timestamp"]
    assert readpath.timestamp_ns(second) > readpath.timestamp_ns(first)  # type: ignore[operator]


def test_a_config_broken_after_the_server_started_is_reported_by_the_caller(
        files: tuple[Path, Path], server: subprocess.Popen[str]) -> None:
    """The server checks its config at every question: one that no longer loads is
    refused, and the caller's own observation reports it (exit 6), not a stale policy."""
    _, config = files
    assert _client(config)[0]["code"] == ExitCode.EVIDENCE_UNAVAILABLE
    config.write_text(config.read_text().replace('"schema_version": 1', '"schema_version": 9'))
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv[0] = 'mode'; "
         "from dubnium_app.launch import main; main()", "--backend", "host", "--config",
         str(config), "current"], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **NO_BUS}, cwd=REPO)
    assert (done.returncode, done.stderr.count("\n")) == (ExitCode.CONFIG_INVALID, 1)
    assert "schema_version" in done.stderr


def test_another_config_is_not_answered(files: tuple[Path, Path], tmp_path: Path,
                                        server: subprocess.Popen[str]) -> None:
    """A caller with another config (same state directory) observes itself."""
    _, config = files
    other = tmp_path / "other.json"
    other.write_text(config.read_text())
    probe, _ = _client(other)
    assert "dubnium.observe" in probe["loaded"]


def test_a_server_of_another_user_is_not_believed() -> None:
    """A socket answered by neither root nor the caller (here: nobody, claiming compute) is
    ignored; the caller observes itself."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the impostor as another user")
    with tempfile.TemporaryDirectory() as where:
        Path(where).chmod(0o755)
        state, config = _files(Path(where))
        state.chmod(0o777)
        _believes_no_impostor(state, config)


def _believes_no_impostor(state: Path, config: Path) -> None:
    liar = ("import json, socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); "
            "s.listen(1); print('ready', flush=True); c, _ = s.accept(); c.recv(65536); "
            "c.sendall(json.dumps(" + repr(_compute_answer()) + ").encode()); c.close()")
    proc = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
         liar, str(state / readpath.CURRENT_SOCKET)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        probe, data = _client(config)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert ("unknown", True) == (data["observed_state"], "dubnium.observe" in probe["loaded"])


def _compute_answer() -> dict[str, Any]:
    return {"schema_version": 1, "observed_state": "compute", "confidence": "high",
            "degraded": False, "signals": {}, "conflicts": [], "evidence": {},
            "timestamp": "2030-01-01T00:00:00+00:00"}


def test_a_server_that_does_not_answer_in_time_is_left(tmp_path: Path) -> None:
    """A server that takes the question and says nothing holds the caller for
    timeouts.current_server_s, then the caller observes itself."""
    state, config = _files(tmp_path, current_server_s=0.5)
    listener = _listen(state / readpath.CURRENT_SOCKET)  # accepted by the kernel, never read
    try:
        started = time.monotonic()
        probe, data = _client(config)
        waited = time.monotonic() - started
    finally:
        listener.close()
    assert ("unknown", True) == (data["observed_state"], "dubnium.observe" in probe["loaded"])
    assert waited >= 0.5


def test_a_zero_bound_never_asks(tmp_path: Path) -> None:
    """timeouts.current_server_s = 0: the socket is not even connected to."""
    state, config = _files(tmp_path, current_server_s=0)
    listener = _listen(state / readpath.CURRENT_SOCKET)
    listener.setblocking(False)
    try:
        probe, _ = _client(config)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert "dubnium.observe" in probe["loaded"]


# ------------------------------------------------------------------ the server itself


def _in_thread(state: Path, config: Path, idle_s: float) -> tuple[threading.Thread, list[int]]:
    server = CurrentServer(config, state, runtime_in(state), load_policy, _host_backend)
    listener = _listen(state / readpath.CURRENT_SOCKET)
    result: list[int] = []

    def serve() -> None:
        with listener:
            result.append(server.serve(listener, idle_exit_s=idle_s))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, result


def _ask(state: Path, payload: bytes, close_write: bool = True) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(str(state / readpath.CURRENT_SOCKET))
        conn.sendall(payload)
        if close_write:
            conn.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: conn.recv(65536), b""))


def test_callers_that_say_nothing_or_nonsense_do_not_stop_the_server(
        files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Garbage, a foreign question and a silent caller each get no observation; the next
    proper question is answered; the server ends by itself when no one comes."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", NO_BUS["DBUS_SYSTEM_BUS_ADDRESS"])
    state, config = files
    thread, result = _in_thread(state, config, idle_s=3.0)
    assert b"" == _ask(state, b"\xff\xfe not json\n")
    refused = json.loads(_ask(state, b'{"v": 1, "config": "relative", "state_dir": "/x"}\n'))
    assert set(refused) == {"refused"}
    other = json.loads(_ask(state, readpath.server_request(str(config), "/elsewhere")))
    assert other == {"refused": "another state directory"}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(str(state / readpath.CURRENT_SOCKET))  # and says nothing
        answer = json.loads(_ask(state, readpath.server_request(str(config), str(state))))
    assert readpath.server_answer(answer) is not None
    thread.join(timeout=30)
    assert result == [0]


def test_without_a_socket_from_systemd_the_server_says_so() -> None:
    """`mode current-server` by hand: BackendUnavailable naming the socket unit."""
    with pytest.raises(BackendUnavailable, match=r"mode-current\.socket"):
        listening_socket({})
    with pytest.raises(BackendUnavailable, match=r"mode-current\.socket"):
        listening_socket({"LISTEN_FDS": "1", "LISTEN_PID": "1"})


@pytest.mark.parametrize(("backend", "code"), [("host", ExitCode.BACKEND_UNAVAILABLE),
                                               ("sim", ExitCode.USAGE)])
def test_current_server_by_hand_is_one_line(files: tuple[Path, Path], backend: str,
                                            code: int) -> None:
    _, config = files
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv[0] = 'mode'; "
         "from dubnium_app.launch import main; main()", "--backend", backend, "--config",
         str(config), "current-server"], capture_output=True, text=True, timeout=60,
        check=False, cwd=REPO, env={k: v for k, v in os.environ.items()
                                    if not k.startswith("LISTEN_")})
    assert (done.returncode, done.stderr.count("\n"), "Traceback" in done.stderr) == (
        code, 1, False), done.stderr
