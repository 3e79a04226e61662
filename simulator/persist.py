"""The simulated world on disk, so that separate `mode` and `mode-sim` invocations drive one.

`WorldFile` reads and writes `<state_dir>/sim-world.json` (schema-versioned, carrying the
world's policy); writes are atomic (temp file in the same directory, every byte, fsync,
rename) and reads take only a regular file, through the strict JSON reader. Used by
`mode-sim` (`simulator.cli`) and, through `SimSession`, by the `mode` CLI's simulated session
(`simulator.session`). A session behaves like a machine: its backend and clock write the world
through (`WriteThrough`): every observation reloads the world if another process saved it,
and every action and every sleep saves it before returning, each under the world's lock held
only for that read or write. So a `mode` process killed at any moment leaves the world as a
machine would be (half-done), a record written after an observation never claims more than
the saved world shows, and two `mode` processes meet at the controller's own lock (the
second request exits 5), not at the world file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from dubnium import fsutil, strictjson
from dubnium.backend import Backend, Clock, Delivery
from dubnium.errors import (
    BackendError,
    BackendUnavailable,
    NotRegularFile,
    StateCorrupt,
    StorageError,
)
from dubnium.facts import HostFacts, SliceSettings, VllmProfile
from dubnium.idle import IdleFacts
from dubnium.plan import Step
from dubnium.policy import Policy
from dubnium.reconcile import Reporter
from dubnium.studiofacts import AudioReadiness, CpuSetting
from simulator import worldjson
from simulator.backend import SimBackend
from simulator.clock import PacedClock, seconds_to_ns
from simulator.trace import Recorder
from simulator.world import World

T = TypeVar("T")
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
            return worldjson.load(data, recorder)
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
        data = json.dumps(worldjson.dump(world), sort_keys=True, separators=(",", ":"))
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
        except NotRegularFile as exc:
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
    """One `mode` invocation's hold on the saved world (used by `simulator.session`)."""

    def __init__(self, file: WorldFile, world: World, policy: Policy | None = None) -> None:
        self.file = file
        self._policy = policy
        self.world = self._adopt(world)
        self.pace = _pace()
        self.sim = SimBackend(world)
        self._stamp = file._stamp()
        self.backend: Backend = WriteThrough(self)  # mypy checks the protocol here

    @contextlib.contextmanager
    def fresh(self, save: bool) -> Iterator[SimBackend]:
        """The world as last saved by anyone; with `save`, under the world's lock (a short
        read-modify-write) and saved after. Readers take no lock: a save is an atomic
        rename, so a reader sees one whole world (and a non-root reader can read it)."""
        lock = self.file.locked() if save else contextlib.nullcontext()
        with lock:
            if self.file._stamp() != self._stamp:
                self.world = self._adopt(self.file.load(self.world.recorder))
                self.sim.world = self.world
            yield self.sim
            if save:
                self.save()

    @classmethod
    def open(cls, state_dir: Path, policy: Policy | None = None) -> SimSession:
        """Load the world saved in `state_dir` (BackendUnavailable when there is none).

        The world carries its own policy (`session.policy`). With `policy` (`mode --config
        X`), the world runs under that one instead, each time it is loaded, so the
        controller and the world never judge by two policies; a change to the world saves
        it with that policy.
        """
        file = WorldFile(state_dir)
        return cls(file, file.load(), policy)

    def _adopt(self, world: World) -> World:
        if self._policy is not None and world.policy != self._policy:
            world.set_policy(self._policy)
        return world

    @property
    def policy(self) -> Policy:
        return self.world.policy

    def save(self) -> None:
        self.file.save(self.world)
        self._stamp = self.file._stamp()

    def tick(self, on: str) -> None:
        """Faults added from the shell (`mode-sim fault add`), armed for this moment: an
        observation or a step of the controller. A controller kill is real (SIGKILL), after
        the world is saved."""
        from simulator import shellfaults

        if not (self.file.state_dir / shellfaults.FAULTS_FILE).is_file():
            return
        with self.fresh(save=True) as sim:
            faults = shellfaults.ShellFaults.load(self.file.state_dir)
            if not faults.active:
                return
            kill = shellfaults.tick(faults, sim.world, on)
            faults.save()
        if kill:
            shellfaults.die()

    def step_hook(self) -> Reporter:
        """A reporter whose step_started ticks the shell's faults (`mode` adds it)."""
        return _StepTicks(self)


class _StepTicks(Reporter):
    def __init__(self, session: SimSession) -> None:
        self.session = session

    def step_started(self, leg: str, step: Step) -> None:
        self.session.tick("step")


class WriteThroughClock:
    """The world's clock, written through: a sleep advances the saved world and saves it
    (paced: in chunks, real time passing between them with the world unlocked)."""

    CHUNK_NS = PacedClock.CHUNK_NS

    def __init__(self, session: SimSession) -> None:
        self.session = session

    def monotonic_ns(self) -> int:
        with self.session.fresh(save=False) as sim:
            return sim.world.clock.monotonic_ns()

    def wall_ns(self) -> int:
        with self.session.fresh(save=False) as sim:
            return sim.world.clock.wall_ns()

    def quiet_until_ns(self) -> int | None:
        with self.session.fresh(save=False) as sim:
            return sim.world.clock.quiet_until_ns()

    def sleep(self, seconds: float) -> None:
        pace = self.session.pace
        with self.session.fresh(save=pace <= 0 or seconds <= 0) as sim:
            now = sim.world.clock.monotonic_ns()
            target = now + seconds_to_ns(seconds)
            if pace <= 0 or seconds <= 0:
                sim.world.clock.sleep(seconds)
                return
        while now < target:
            step = min(target, now + self.CHUNK_NS)
            time.sleep((step - now) / 1e9 * pace)
            with self.session.fresh(save=True) as sim:
                sim.world.clock.advance_to_ns(step)
            now = step


class WriteThrough:
    """`dubnium.backend.Backend` over the saved world: each call on a fresh world, each
    action saved before it returns (see the module docstring)."""

    def __init__(self, session: SimSession) -> None:
        self.session = session
        self._clock = WriteThroughClock(session)

    @property
    def name(self) -> str:
        return "sim"

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def world(self) -> World:
        return self.session.world

    def observe(self) -> HostFacts:
        self.session.tick("observation")
        with self.session.fresh(save=False) as sim:
            return sim.observe()

    def describe(self) -> Mapping[str, object]:
        with self.session.fresh(save=False) as sim:
            return sim.describe()

    def idle_facts(self) -> IdleFacts:
        with self.session.fresh(save=False) as sim:
            return sim.idle_facts()

    def _act(self, call: Callable[[SimBackend], T]) -> T:
        with self.session.fresh(save=True) as sim:
            try:
                return call(sim)
            except BackendError:
                self.session.save()  # a timed-out call may have taken effect
                raise

    def start_unit(self, name: str) -> None:
        self._act(lambda sim: sim.start_unit(name))

    def stop_unit(self, name: str) -> None:
        self._act(lambda sim: sim.stop_unit(name))

    def isolate(self, target: str) -> None:
        self._act(lambda sim: sim.isolate(target))

    def set_slice_properties(self, slice_name: str, settings: SliceSettings) -> None:
        self._act(lambda sim: sim.set_slice_properties(slice_name, settings))

    def terminate_session(self, session_id: str) -> None:
        self._act(lambda sim: sim.terminate_session(session_id))

    def kill_unit(self, name: str) -> None:
        self._act(lambda sim: sim.kill_unit(name))

    def reset_failed(self, name: str) -> None:
        self._act(lambda sim: sim.reset_failed(name))

    def console_message(self, text: str) -> None:
        self._act(lambda sim: sim.console_message(text))

    def notify_user(self, summary: str, body: str) -> Delivery:
        return self._act(lambda sim: sim.notify_user(summary, body))

    def set_audio_clock(self, force_quantum: int, force_rate: int) -> None:
        self._act(lambda sim: sim.set_audio_clock(force_quantum, force_rate))

    def set_cpu_policy(self, setting: CpuSetting) -> None:
        self._act(lambda sim: sim.set_cpu_policy(setting))

    def audio_readiness(self) -> AudioReadiness:
        with self.session.fresh(save=False) as sim:
            return sim.audio_readiness()

    def write_vllm_profile(self, profile: VllmProfile) -> None:
        self._act(lambda sim: sim.write_vllm_profile(profile))

    def write_exo_profile(self, profile: VllmProfile) -> None:
        self._act(lambda sim: sim.write_exo_profile(profile))


def world_json_text(world: World) -> str:
    """The world as indented, key-sorted JSON text (what `mode-sim show --json` prints)."""
    data: Any = worldjson.dump(world)
    return json.dumps(data, indent=2, sort_keys=True)
