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
unparseable output becomes `Unavailable` carrying pw-dump's own message. The studio-local
clock (issue 15) is set with `pw-metadata -n settings 0 clock.force-quantum N` on the audio
user's daemon (`set_clock`, which raises BackendError) and read back from the same pw-dump
that gives the graph (`AudioClock.from_pw_dump`), never from pw-metadata's own report.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dubnium.errors import BackendError
from dubnium.facts import AudioGraph, AudioNode, Unavailable
from dubnium.studiofacts import FORCE_QUANTUM, FORCE_RATE, AudioClock

SOCKET = "pipewire-0"


class PipeWireAdapter:
    """Reads the PipeWire graph(s) of one host."""

    def __init__(
        self, *, runtime_dir: Path | None, fs_root: Path, timeout_s: float = 2.0,
        pw_dump: str = "pw-dump", pw_metadata: str = "pw-metadata",
        command_prefix: tuple[str, ...] = (),
    ) -> None:
        self._runtime_dir = runtime_dir
        self._fs_root = fs_root
        self._timeout_s = timeout_s
        self._pw_dump = pw_dump
        self._pw_metadata = pw_metadata
        # Writes run inside the observed host's namespaces when it is one (the test host):
        # PipeWire ignores metadata writes of a client it cannot place (pw-metadata still
        # reports success there; the read-back catches it).
        self._prefix = command_prefix
        # The last dump of each daemon (or why it could not be read), for the clock.
        self.last_objects: dict[Path, list[Any] | Unavailable] = {}

    def user_dir(self, uid: int) -> Path:
        """The runtime directory of `uid` (the one given to the adapter, when given)."""
        if self._runtime_dir is not None:
            return self._runtime_dir
        return self._fs_root / "run" / "user" / str(uid)

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
        self.last_objects = {}
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

    def clock(self, uid: int) -> AudioClock | Unavailable | None:
        """The audio user's clock settings, from the dump `finish()` just collected (or a
        new one). None when that user runs no PipeWire (no socket): nothing to force."""
        directory = self.user_dir(uid)
        if directory not in self.last_objects:
            if not (directory / SOCKET).exists():
                return None
            self._collect(directory, self._spawn(directory))
        objects = self.last_objects[directory]
        if isinstance(objects, Unavailable):
            return objects
        clock = AudioClock.from_pw_dump(objects)
        if clock is None:
            return Unavailable(f"pw-dump ({directory}): no `settings` metadata")
        return clock

    def modules(self, uid: int) -> tuple[str, ...] | None:
        """The names of the modules the audio user's daemon loaded (None: unreadable)."""
        directory = self.user_dir(uid)
        if directory not in self.last_objects:
            self._collect(directory, self._spawn(directory))
        objects = self.last_objects[directory]
        if isinstance(objects, Unavailable):
            return None
        return tuple(
            str((o.get("info") or {}).get("name") or "") for o in objects
            if isinstance(o, dict) and o.get("type") == "PipeWire:Interface:Module"
        )

    def set_clock(self, uid: int, force_quantum: int, force_rate: int) -> None:
        """pw-metadata -n settings 0 clock.force-{quantum,rate} N on `uid`'s daemon."""
        directory = self.user_dir(uid)
        env = {"XDG_RUNTIME_DIR": str(directory), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        inside: list[str] = []
        if self._prefix:
            inside = [*self._prefix, "env", f"XDG_RUNTIME_DIR=/run/user/{uid}"]
        for key, value in ((FORCE_QUANTUM, force_quantum), (FORCE_RATE, force_rate)):
            argv = [*inside, self._pw_metadata, "-n", "settings", "0", key, str(value)]
            try:
                proc = subprocess.run(argv, env=env, capture_output=True,
                                      text=True, timeout=self._timeout_s, check=False)
            except subprocess.TimeoutExpired:
                raise BackendError(f"pw-metadata {key}: no answer within "
                                   f"{self._timeout_s:g} s", temporary=True) from None
            except OSError as exc:
                raise BackendError(f"pw-metadata: cannot run: {exc.strerror}") from None
            if proc.returncode != 0:
                message = _last_line(proc.stderr) or _last_line(proc.stdout) or "no message"
                raise BackendError(f"pw-metadata {key}={value} ({directory}): {message} "
                                   f"(exit {proc.returncode})", temporary=True)

    def _collect(
        self, directory: Path, proc: subprocess.Popen[str] | Unavailable
    ) -> AudioGraph | Unavailable:
        result = self._collect_objects(directory, proc)
        self.last_objects[directory] = result
        if isinstance(result, Unavailable):
            return result
        return AudioGraph.from_pw_dump(result)

    def _collect_objects(
        self, directory: Path, proc: subprocess.Popen[str] | Unavailable
    ) -> list[Any] | Unavailable:
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
            return parse_dump(stdout or "[]")
        except ValueError as exc:
            return Unavailable(f"pw-dump ({directory}): unparseable output: {exc}")

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


def parse_dump(text: str) -> list[Any]:
    """The objects of pw-dump's output, which may be several JSON arrays in a row.

    Seen on the test host: an object removed while pw-dump runs is printed first as its own
    array (`[{"id": 41, "info": null}]`), then the full dump. Arrays are applied in order:
    an entry whose info, props and type are null removes the object with that id.
    """
    decoder = json.JSONDecoder()
    objects: dict[object, Any] = {}
    position, found = 0, False
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        try:
            chunk, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ValueError(exc.msg) from None
        if not isinstance(chunk, list):
            raise ValueError("expected a JSON array")
        found = True
        for obj in chunk:
            if not isinstance(obj, dict):
                continue
            key = obj.get("id")
            if obj.get("info") is None and obj.get("props") is None and obj.get("type") is None:
                objects.pop(key, None)
            else:
                objects[key] = obj
    if not found:
        raise ValueError("no JSON array")
    return list(objects.values())


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _linked_version(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("Linked with"):
            return line.split()[-1]
    return ""
