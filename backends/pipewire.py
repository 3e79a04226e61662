"""PipeWire through `pw-dump -N`: the audio graph (streams, JACK clients, their applications).

Called by `backends.host.HostBackend`. PipeWire runs per user; the controller runs as root
and reads each user's daemon through its socket, `/run/user/<uid>/pipewire-0`. Which
daemons are read: the one in `runtime_dir` when given; otherwise every runtime directory
that has a PipeWire socket, and every session user's directory, which must have one (a
session user whose PipeWire cannot be read makes the audio evidence Unavailable, never an
empty graph). With no session and no socket there is no PipeWire to play through: the graph
is empty.

The edge is `_dump()`, the one place pw-dump is run: a non-zero exit, a timeout or
unparseable output becomes `Unavailable` carrying pw-dump's own message.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from dubnium.facts import AudioGraph, AudioNode, Unavailable

SOCKET = "pipewire-0"


class PipeWireAdapter:
    """Reads the PipeWire graph(s) of one host."""

    def __init__(
        self, *, runtime_dir: Path | None, fs_root: Path, timeout_s: float = 2.0,
        pw_dump: str = "pw-dump",
    ) -> None:
        self._runtime_dir = runtime_dir
        self._fs_root = fs_root
        self._timeout_s = timeout_s
        self._pw_dump = pw_dump

    def runtime_dirs(self, session_uids: Iterable[int]) -> tuple[tuple[Path, bool], ...]:
        """(directory, required) pairs to read; required ones must have a socket."""
        if self._runtime_dir is not None:
            return ((self._runtime_dir, True),)
        base = self._fs_root / "run" / "user"
        found: dict[Path, bool] = {}
        try:
            for entry in sorted(base.iterdir()):
                if (entry / SOCKET).exists():
                    found[entry] = False
        except OSError:
            pass
        for uid in sorted(set(session_uids)):
            if uid != 0:
                found[base / str(uid)] = True
        return tuple(found.items())

    def read(self, session_uids: Iterable[int]) -> AudioGraph | Unavailable:
        nodes: list[AudioNode] = []
        for directory, required in self.runtime_dirs(session_uids):
            if not (directory / SOCKET).exists():
                if required:
                    return Unavailable(f"no PipeWire socket at {directory / SOCKET}")
                continue
            graph = self._dump(directory)
            if isinstance(graph, Unavailable):
                return graph
            nodes.extend(graph.nodes)
        return AudioGraph(tuple(nodes))

    def _dump(self, directory: Path) -> AudioGraph | Unavailable:
        env = {"XDG_RUNTIME_DIR": str(directory), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        try:
            proc = subprocess.run(
                [self._pw_dump, "-N"], env=env, capture_output=True, text=True,
                timeout=self._timeout_s, check=False,
            )
        except subprocess.TimeoutExpired:
            return Unavailable(f"pw-dump ({directory}): no answer within {self._timeout_s:g} s")
        except OSError as exc:
            return Unavailable(f"pw-dump: cannot run: {exc.strerror}")
        if proc.returncode != 0:
            message = _last_line(proc.stderr) or _last_line(proc.stdout) or "no message"
            return Unavailable(f"pw-dump ({directory}): {message} (exit {proc.returncode})")
        try:
            objects = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError as exc:
            return Unavailable(f"pw-dump ({directory}): unparseable output: {exc.msg}")
        if not isinstance(objects, list):
            return Unavailable(f"pw-dump ({directory}): expected a JSON array")
        return AudioGraph.from_pw_dump(objects)

    def versions(self) -> dict[str, str]:
        """Library versions of pw-dump (libpipewire) and wireplumber, as they report them."""
        out = {}
        for name, command in (("pipewire", self._pw_dump), ("wireplumber", "wireplumber")):
            try:
                proc = subprocess.run(
                    [command, "--version"], capture_output=True, text=True,
                    timeout=self._timeout_s, check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                out[name] = f"unknown ({exc})"
                continue
            out[name] = _linked_version(proc.stdout) or f"unknown (exit {proc.returncode})"
        return out


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _linked_version(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("Linked with"):
            return line.split()[-1]
    return ""
