"""The resident observer: `mode current-server` answers live `mode current` calls.

A live `mode current` in its own process spends most of its time starting: the interpreter,
attrs building the policy's and the facts' classes, pystemd, nvidia-ml-py. This process
pays that once. systemd starts it on the first connection to `mode-current.socket`
(`<state dir>/current.sock`, open to every user: observing needs no root) and passes the
listening socket (`LISTEN_FDS`, sd_listen_fds(3)); it exits after `IDLE_EXIT_S` without a
caller, and the next caller starts it again.

Each connection is one question and one answer, in order, one at a time:

- the caller sends one JSON line: the config file and the state directory it would observe
  with (`dubnium.readpath.server_request`);
- the server answers only for its own: the same config (by its resolved path; a config
  changed on disk since the last answer is loaded again, validated, first) and the same
  state directory. Then it observes the host *now*, after the question arrived
  (`dubnium.readpath.observe_json`: D-Bus, /proc, pw-dump, NVML, the lock and the last
  record), and sends that observation's JSON, the same JSON a live observation in the
  caller's process gives, stamped with the time its evidence began to be read;
- anything else (another config, a config that no longer loads, an error while observing)
  is answered `{"refused": "..."}`, and the caller observes in its own process, which
  reports the problem in its own words and exit code.

It records nothing: no current.json, no metrics (the observer timer does, as root); like
every observation made as root, it keeps the last GPU reading for studio-local
(`backends.gpucache`). A caller
that sends nothing is dropped after `REQUEST_TIMEOUT_S`; one that reads nothing does not
hold the next one longer than that either.

Called by `backends.session.HostSession.serve_current` (`mode current-server`). The caller's
side is `dubnium_app.currentclient`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dubnium import readpath, strictjson
from dubnium.backend import Backend
from dubnium.errors import BackendUnavailable, DubniumError
from dubnium.policy import Policy
from dubnium.state import RuntimeState

IDLE_EXIT_S = 300.0
REQUEST_TIMEOUT_S = 2.0
REQUEST_LIMIT = 64 * 1024
SD_LISTEN_FDS_START = 3


def listening_socket(environ: dict[str, str] | None = None) -> socket.socket:
    """The stream socket systemd passed (sd_listen_fds(3)): `LISTEN_FDS` ≥ 1 for this
    process (`LISTEN_PID`), fd 3 a listening AF_UNIX stream socket. The variables are
    removed, and the fd is not inherited by the observation's children (pw-dump).

    BackendUnavailable when there is none: `mode current-server` is run by
    mode-current.socket, not by hand."""
    env = os.environ if environ is None else environ
    pid, count = env.pop("LISTEN_PID", ""), env.pop("LISTEN_FDS", "")
    env.pop("LISTEN_FDNAMES", None)
    if not count.isdigit() or int(count) < 1 or (pid and pid != str(os.getpid())):
        raise BackendUnavailable(
            "mode current-server: no socket from systemd (it is started by "
            "mode-current.socket, not by hand)")
    try:
        listener = socket.socket(fileno=SD_LISTEN_FDS_START)
    except OSError as exc:
        raise BackendUnavailable(f"mode current-server: fd 3 is not a socket: {exc}") from None
    if listener.family != socket.AF_UNIX or listener.type != socket.SOCK_STREAM:
        listener.detach()
        raise BackendUnavailable("mode current-server: fd 3 is not a UNIX stream socket")
    listener.set_inheritable(False)
    return listener


class CurrentServer:
    """Answers `mode current` for one config and state directory (see the module doc)."""

    def __init__(self, config: Path, state_dir: Path, runtime: RuntimeState,
                 load: Callable[[Path], Policy], backend_for: Callable[[Policy], Backend]
                 ) -> None:
        self._config = config
        self._state_dir = os.path.realpath(state_dir)
        self._runtime = runtime
        self._load = load
        self._backend_for = backend_for
        self._loaded: tuple[int, ...] | None = None
        self._policy: Policy | None = None
        self._backend: Backend | None = None

    def serve(self, listener: socket.socket, idle_exit_s: float = IDLE_EXIT_S) -> int:
        """Answer callers one at a time until none comes for `idle_exit_s`; exit status 0."""
        listener.settimeout(idle_exit_s)
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return 0
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(REQUEST_TIMEOUT_S)
        try:
            question = _read_request(conn)
        except (OSError, ValueError):
            return  # a caller that said nothing readable in time gets nothing
        reply = self.reply(question)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply, sort_keys=True).encode() + b"\n")

    def reply(self, question: object) -> dict[str, Any]:
        """The answer to one question: the observation's JSON, or `{"refused": why}`."""
        asked = readpath.parse_server_request(question)
        if asked is None:
            return {"refused": "not a question of this server"}
        config, state_dir = asked
        if os.path.realpath(state_dir) != self._state_dir:
            return {"refused": "another state directory"}
        if os.path.realpath(config) != os.path.realpath(self._config):
            return {"refused": "another config"}
        try:
            policy, backend = self._current_policy()
            _, data = readpath.observe_json(backend, policy, self._runtime)
        except (DubniumError, OSError, ValueError) as exc:
            return {"refused": str(exc) or type(exc).__name__}
        return data

    def _current_policy(self) -> tuple[Policy, Backend]:
        """The policy (loaded again, validated, when the file changed) and its backend."""
        st = os.stat(self._config)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if self._policy is None or self._backend is None or key != self._loaded:
            self._policy = self._backend = None
            policy = self._load(self._config)
            self._backend = self._backend_for(policy)
            self._policy, self._loaded = policy, key
        return self._policy, self._backend


def _read_request(conn: socket.socket) -> object:
    """One JSON line from the caller (at most REQUEST_LIMIT bytes)."""
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > REQUEST_LIMIT:
            raise ValueError("request too long")
    return strictjson.loads(data.split(b"\n", 1)[0])
