"""PipeWire through `pw-dump -N`: the audio graph (streams, JACK clients, their applications).

Called by `backends.host.HostBackend`. PipeWire runs per user; the controller runs as root
and reads each user's daemon through its socket, `/run/user/<uid>/pipewire-0`. Which
daemons are read: the one in `runtime_dir` when given; otherwise every runtime directory
that has a PipeWire socket, and every session user's directory, which must have one (a
session user whose PipeWire cannot be read makes the audio evidence Unavailable, never an
empty graph). With no session and no socket there is no PipeWire to play through: the graph
is empty.

`start()` runs pw-dump for every daemon with a socket before the caller reads D-Bus, and
`finish()` collects it after, so its ~10 ms overlap the bus calls. The edge is `_spawn()`
and `_collect()`, the one place pw-dump is run and read: a non-zero exit, a timeout or
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

    def start(self) -> dict[Path, subprocess.Popen[str] | Unavailable]:
        """Start pw-dump for every runtime directory that has a socket now, without
        waiting: the caller reads D-Bus meanwhile and collects with `finish`."""
        if self._runtime_dir is not None:
            dirs = [self._runtime_dir] if (self._runtime_dir / SOCKET).exists() else []
        else:
            dirs = [d for d, _ in self.runtime_dirs(()) if (d / SOCKET).exists()]
        return {d: self._spawn(d) for d in dirs}

    def finish(
        self, pending: dict[Path, subprocess.Popen[str] | Unavailable],
        session_uids: Iterable[int],
    ) -> AudioGraph | Unavailable:
        """The graph of every daemon `runtime_dirs` names: those started by `start`
        collected, any other (a session user's, found since) read now."""
        try:
            nodes: list[AudioNode] = []
            for directory, required in self.runtime_dirs(session_uids):
                proc = pending.pop(directory, None)
                if proc is None:
                    if not (directory / SOCKET).exists():
                        if required:
                            return Unavailable(f"no PipeWire socket at {directory / SOCKET}")
                        continue
                    proc = self._spawn(directory)
                graph = self._collect(directory, proc)
                if isinstance(graph, Unavailable):
                    return graph
                nodes.extend(graph.nodes)
            return AudioGraph(tuple(nodes))
        finally:
            for leftover in pending.values():
                if not isinstance(leftover, Unavailable):
                    leftover.kill()
                    leftover.communicate()

    def read(self, session_uids: Iterable[int]) -> AudioGraph | Unavailable:
        return self.finish(self.start(), session_uids)

    def _spawn(self, directory: Path) -> subprocess.Popen[str] | Unavailable:
        env = {"XDG_RUNTIME_DIR": str(directory), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        try:
            return subprocess.Popen(
                [self._pw_dump, "-N"], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        except OSError as exc:
            return Unavailable(f"pw-dump: cannot run: {exc.strerror}")

    def _collect(
        self, directory: Path, proc: subprocess.Popen[str] | Unavailable
    ) -> AudioGraph | Unavailable:
        if isinstance(proc, Unavailable):
            return proc
        try:
            stdout, stderr = proc.communicate(timeout=self._timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return Unavailable(f"pw-dump ({directory}): no answer within {self._timeout_s:g} s")
        if proc.returncode != 0:
            message = _last_line(stderr) or _last_line(stdout) or "no message"
            return Unavailable(f"pw-dump ({directory}): {message} (exit {proc.returncode})")
        try:
            objects = json.loads(stdout or "[]")
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
