"""The caller's side of the resident observer (`backends.currentserver`).

`dubnium_app.entry` asks here before it observes in its own process: when
`<state dir>/current.sock` is a socket, it sends one question (observe now, with this config
and state directory) and waits at most `timeouts.current_server_s` for the observation.
The answer is used only when it comes whole, from root or from the caller's own user
(SO_PEERCRED: with socket activation, systemd's PID 1), and is an observation of ours;
anything else — no socket, nobody listening, a refusal, a timeout, a stranger — is None,
and the caller observes itself. Standard library only: this runs before anything heavy is
imported.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import time

from dubnium import readpath, strictjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def ask(config: str, state_dir: str, bound_s: float) -> dict[str, Any] | None:
    """The resident observer's observation for `config` and `state_dir`, or None."""
    if bound_s <= 0:
        return None
    path = os.path.join(state_dir, readpath.CURRENT_SOCKET)
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            return None
    except OSError:
        return None
    deadline = time.monotonic() + bound_s
    try:
        question = readpath.server_request(os.path.abspath(config), os.path.abspath(state_dir))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(bound_s)
            conn.connect(path)
            _, uid, _ = _CREDENTIALS.unpack(conn.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
            if uid not in (0, os.geteuid()):
                return None
            conn.sendall(question)
            reply = _read_all(conn, deadline)
        return readpath.server_answer(strictjson.loads(reply))
    except (OSError, ValueError):
        return None


def _read_all(conn: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes (at most `strictjson.MAX_BYTES`), before
    `deadline`; TimeoutError or ValueError otherwise."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the resident observer did not answer in time")
        conn.settimeout(left)
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > strictjson.MAX_BYTES:
            raise ValueError("answer too long")
        chunks.append(chunk)
