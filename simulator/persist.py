"""The simulated world on disk, so that separate `mode` and `mode-sim` invocations drive one.

`WorldFile` reads and writes `<state_dir>/sim-world.json` (schema-versioned, carrying the
world's policy); writes are atomic (temp file in the same directory, every byte, fsync,
rename) and reads take only a regular file, through the strict JSON reader. Used by
`mode-sim` (`simulator.cli`) and, through `SimSession`, by the `mode` CLI's composition root
(`dubnium.cli`): a session loads the world once, hands out its `SimBackend`, and saves it
after a mutating verb while holding an exclusive lock on the world.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dubnium import fsutil, strictjson
from dubnium.backend import BackendUnavailable, StateCorrupt, StorageError
from dubnium.policy import Policy
from simulator.backend import SimBackend
from simulator.trace import Recorder
from simulator.world import World

WORLD_FILE = "sim-world.json"
LOCK_FILE = "sim-world.lock"


class WorldFile:
    """`<state_dir>/sim-world.json`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / WORLD_FILE

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self, recorder: Recorder | None = None) -> World:
        """The saved world; BackendUnavailable when none, StateCorrupt when unreadable."""
        try:
            raw = fsutil.read_regular(self.path)
        except OSError as exc:
            raise StateCorrupt(f"{self.path}: cannot read the simulated world: "
                               f"{exc.strerror or exc}") from None
        if raw is None:
            raise BackendUnavailable(f"no simulated world at {self.path}; run mode-sim create")
        try:
            data = strictjson.loads(raw)
        except ValueError as exc:
            raise StateCorrupt(
                f"{self.path}: not a simulated world ({exc}); recreate it with "
                "mode-sim create --force"
            ) from None
        try:
            return World.from_json(data, recorder)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError,
                OverflowError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            detail = detail.splitlines()[0] if detail else type(exc).__name__
            raise StateCorrupt(
                f"{self.path}: not a simulated world ({detail}); recreate it with "
                "mode-sim create --force"
            ) from None

    def save(self, world: World) -> None:
        """Write atomically: a temp file in the same directory, every byte, fsync, rename,
        fsync the dir. StorageError (the old file intact) when the disk refuses."""
        data = json.dumps(world.to_json(), sort_keys=True, separators=(",", ":"))
        try:
            fsutil.atomic_write(self.path, (data + "\n").encode())
        except OSError as exc:
            raise StorageError(f"cannot save the simulated world {self.path}: "
                               f"{exc.strerror or exc}") from None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the world (blocks while another process holds it)."""
        path = self.state_dir / LOCK_FILE
        try:
            fsutil.ensure_dir(self.state_dir)
            fd = fsutil.open_regular(path, os.O_RDWR | os.O_CREAT, 0o600)
        except fsutil.NotRegularFile as exc:
            raise StateCorrupt(f"{path}: {exc.strerror}; remove it") from None
        except OSError as exc:
            raise StorageError(f"cannot open {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)


PACE_ENV = "DUBNIUM_SIM_PACE"


def _pace() -> float:
    """Real seconds per virtual second from DUBNIUM_SIM_PACE (unset, bad or negative: 0)."""
    try:
        return max(0.0, float(os.environ.get(PACE_ENV, "0")))
    except ValueError:
        return 0.0


class SimSession:
    """One `mode` invocation's hold on the saved world (used by `dubnium.cli`)."""

    def __init__(self, file: WorldFile, world: World) -> None:
        self.file = file
        self.world = world
        self.backend = SimBackend(world, pace=_pace())
        self._stamp = file._stamp()

    @classmethod
    def open(cls, state_dir: Path, policy: Policy | None = None) -> SimSession:
        """Load the world saved in `state_dir` (BackendUnavailable when there is none).

        The world carries its own policy (`session.policy`); `policy` is accepted so that a
        caller with an explicit config can pass it, but the world keeps the one it was
        created with.
        """
        del policy
        file = WorldFile(state_dir)
        return cls(file, file.load())

    @property
    def policy(self) -> Policy:
        return self.world.policy

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the world's lock; if another process saved it since it was loaded, reload."""
        with self.file.locked():
            if self.file._stamp() != self._stamp:
                self.world = self.file.load(self.world.recorder)
                self.backend.world = self.world
            yield

    def save(self) -> None:
        self.file.save(self.world)
        self._stamp = self.file._stamp()


def world_json_text(world: World) -> str:
    """The world as indented, key-sorted JSON text (what `mode-sim show --json` prints)."""
    data: Any = world.to_json()
    return json.dumps(data, indent=2, sort_keys=True)
