"""The runtime state directory (seed 000 phase 0.5) and the transition lock.

`RuntimeState` reads and writes the named files of `/run/mode-controller/` (`desired`,
`current`, `last-transition.json`, `last-guards.json`, ... plus JSON twins) over a
`StateStore`: `DirectoryStore` on disk (atomic writes: temp file, every byte, fsync, rename;
only regular files are read, never through a link; the lock is an flock on a 0600 file only
root can open, so a dead holder's lock is freed by the kernel and its leftover record is
recovered and reported; see docs/decisions/0006-root-only-lock-file.md), or `MemoryStore` for
in-process campaigns. Called by the
reconciler and the CLI.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from dubnium import fsutil, strictjson
from dubnium.errors import LockBusy, StateCorrupt, StorageError
from dubnium.facts import SliceSettings
from dubnium.modes import Mode

if TYPE_CHECKING:  # the read verbs read state without loading the policy
    from dubnium.policy import Policy

SCHEMA_VERSION = 1


@attrs.frozen
class LockHolder:
    pid: int
    boot_id: str
    started_at: str
    target: str
    attempt: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **attrs.asdict(self)}


class Lease(Protocol):
    """A held lock; `recovered` is the record a dead holder left behind, if any."""

    @property
    def recovered(self) -> Mapping[str, Any] | None: ...

    def release(self) -> None: ...


class StateStore(Protocol):
    @property
    def shared(self) -> bool:
        """Other processes may write it (`mode cancel` from another terminal): a wait for
        one of its files must look at every poll. False: only this process writes it."""
        ...

    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes) -> None: ...

    def remove(self, name: str) -> None: ...

    def acquire(self, holder: LockHolder) -> Lease:
        """Take the lock or raise LockBusy."""
        ...

    def update_holder(self, holder: LockHolder) -> None: ...

    def lock_held(self) -> Mapping[str, Any] | None:
        """The live holder's record, or None when the lock is free."""
        ...


LOCK = "lock"


def _parse_holder(data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        value = strictjson.loads(data, max_bytes=64 * 1024)
    except ValueError:
        return {"unparsable": data[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"unparsable": str(value)[:200]}


def pid_alive(holder: Mapping[str, Any]) -> bool:
    """Whether the process a holder record names still runs (signal 0: no signal sent).

    A record without a usable pid is taken as alive: the reader cannot tell, and saying
    "transitioning" is the honest answer until a writer takes the lock and recovers it.
    """
    pid = holder.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        return True
    return True


# ------------------------------------------------------------------ on disk

LOCK_FILE = "transition.lock"  # the flock only the writer (root) can take: 0600, never read


class _DirLease:
    def __init__(self, store: DirectoryStore, fd: int, recovered: dict[str, Any] | None) -> None:
        self._store = store
        self._fd = fd
        self._recovered = recovered

    @property
    def recovered(self) -> Mapping[str, Any] | None:
        return self._recovered

    def release(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            self._store.remove(LOCK)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class DirectoryStore:
    """Files in one directory (0755, whatever the umask), written atomically, read only when
    they are regular files. The lock is an flock on `transition.lock`, a 0600 file owned by
    the writer (root on the host): no other user can open it, so none can take or hold the
    lock. The holder record `lock` (0644) is what readers see; they never flock, they check
    that the process it names is alive (`alive`)."""

    shared = True

    def __init__(self, path: Path,
                 alive: Callable[[Mapping[str, Any]], bool] = pid_alive) -> None:
        self.path = path
        self.alive = alive

    def _ensure(self) -> None:
        try:
            fsutil.ensure_dir(self.path)
        except OSError as exc:
            raise StorageError(
                f"cannot create state directory {self.path}: {exc.strerror}"
            ) from None

    def read(self, name: str) -> bytes | None:
        try:
            return fsutil.read_regular(self.path / name)
        except OSError as exc:
            raise StateCorrupt(f"{self.path / name}: cannot read: {exc.strerror}") from None

    def write(self, name: str, data: bytes) -> None:
        try:
            fsutil.atomic_write(self.path / name, data)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path / name}: {exc.strerror}") from None

    def remove(self, name: str) -> None:
        try:
            (self.path / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot remove {self.path / name}: {exc.strerror}") from None

    def _open_lock(self) -> int:
        path = self.path / LOCK_FILE
        try:
            fd = fsutil.open_regular(path, os.O_RDWR | os.O_CREAT, 0o600)
        except PermissionError:
            raise StorageError(f"cannot open the lock {path}: only its owner (root) may take "
                               "it") from None
        except OSError as exc:
            raise StateCorrupt(f"{path}: cannot open the lock: {exc.strerror}") from None
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            os.close(fd)
            raise StateCorrupt(f"{path}: the lock file is owned by uid {st.st_uid}, not by "
                               f"uid {os.geteuid()}; remove it")
        if st.st_mode & 0o777 != 0o600:
            os.fchmod(fd, 0o600)
        return fd

    def acquire(self, holder: LockHolder) -> Lease:
        self._ensure()
        fd = self._open_lock()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockBusy(_parse_holder(self._read_record())) from None
            raise StorageError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            leftover = self._read_record()
            recovered = _parse_holder(leftover) if leftover is not None else None
            self.write(LOCK, _dump(holder.to_json()))
        except BaseException:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        return _DirLease(self, fd, recovered)

    def _read_record(self) -> bytes | None:
        try:
            return self.read(LOCK)
        except StateCorrupt as exc:  # a FIFO or directory in its place: say so, not hang
            return str(exc).encode()

    def update_holder(self, holder: LockHolder) -> None:
        """Rewrite the held lock's record (the boot id is known only after observing)."""
        self.write(LOCK, _dump(holder.to_json()))

    def lock_held(self) -> Mapping[str, Any] | None:
        """The holder record when its process is alive; readers never take the lock."""
        data = self._read_record()
        if data is None:
            return None
        record = _parse_holder(data)
        return record if self.alive(record) else None


# ------------------------------------------------------------------ in memory


class _MemLease:
    def __init__(self, store: MemoryStore, recovered: dict[str, Any] | None) -> None:
        self._store = store
        self._recovered = recovered
        self.released = False

    @property
    def recovered(self) -> Mapping[str, Any] | None:
        return self._recovered

    def release(self) -> None:
        if not self.released:
            self._store.remove(LOCK)
            self._store.holder_alive = None
            self.released = True


class MemoryFiles(MutableMapping[str, bytes]):
    """A `MemoryStore`'s files by name: bytes, or (`put_later`) a function that makes them,
    called the first time they are read. `later` says which files are not made yet;
    `touched`, which were put or removed since its reader last emptied it."""

    def __init__(self) -> None:
        self._files: dict[str, bytes | Callable[[], bytes]] = {}
        self.touched: set[str] = set()  # names put or removed since a reader cleared it

    def put_later(self, name: str, make: Callable[[], bytes]) -> None:
        self._files[name] = make
        self.touched.add(name)

    def later(self, name: str) -> bool:
        return callable(self._files.get(name))

    def holds(self, name: str, data: bytes) -> bool:
        """Whether `name` holds these very bytes (a file not made yet holds none)."""
        return self._files.get(name) is data

    def __getitem__(self, name: str) -> bytes:
        data = self._files[name]
        if callable(data):
            data = self._files[name] = data()
        return data

    def __setitem__(self, name: str, data: bytes) -> None:
        self._files[name] = data
        self.touched.add(name)

    def __delitem__(self, name: str) -> None:
        del self._files[name]
        self.touched.add(name)

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def get(self, name: str, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        """`Mapping.get` without its KeyError for an absent file (read at every step)."""
        return self[name] if name in self._files else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


class MemoryStore:
    """The same files as bytes in a dict (campaigns, tests). `alive` decides if the holder
    recorded in `lock` still lives: the harness that simulates a killed controller says no.

    A file `RuntimeState.write_json` wrote (`write_encoded`) is known to be our encoder's
    output: read back, it is parsed by `json.loads` alone, not the strict reader meant for
    files from outside (whose guards cost a campaign more than the rest of a read; issue
    16). Bytes put in any other way (a test, an injected corruption) are read strictly."""

    shared = False

    def __init__(self, alive: Callable[[Mapping[str, Any]], bool] | None = None) -> None:
        self.files = MemoryFiles()
        self.alive = alive or (lambda holder: False)
        self.holder_alive: LockHolder | None = None
        self._encoded: dict[str, bytes] = {}  # name -> the very bytes our encoder wrote
        # name -> (those bytes, the mapping they encode): kept, not parsed back (issue 16)
        self._documents: dict[str, tuple[bytes, Mapping[str, Any]]] = {}

    def write_encoded(self, name: str, data: bytes,
                      document: Mapping[str, Any] | None = None) -> None:
        """Write bytes `RuntimeState` encoded from a JSON document (finite, bounded);
        `document`: the mapping they encode (`RuntimeState.write_json` adds
        schema_version), kept for `document`."""
        self.write(name, data)
        self._encoded[name] = data
        if document is not None:
            self._documents[name] = (data, document)

    def document(self, name: str) -> Mapping[str, Any] | None:
        """The mapping whose encoding `name` holds (`write_encoded`, and the lock record),
        while nothing has replaced those bytes; else None. For readers in this process
        that only look (the simulator's invariants): the mapping as given, not parsed back
        from its bytes (tuples where the JSON has lists), and shared, not a copy."""
        kept = self._documents.get(name)
        if kept is None or not self.files.holds(name, kept[0]):
            return None
        return kept[1]

    def _put_record(self, holder: LockHolder) -> None:
        """The lock record: our encoder's bytes of `holder`, and the mapping kept."""
        record = holder.to_json()
        data = self.files[LOCK] = _dump(record)
        self._encoded[LOCK] = data
        self._documents[LOCK] = (data, record)

    def write_later(self, name: str, encode: Callable[[], tuple[bytes, bool]]) -> None:
        """Write the bytes `encode` returns (with whether they are `encoded` ones), made
        the first time the file is read: `encode` works on frozen values only."""
        def made() -> bytes:
            data, ours = encode()
            if ours:
                self._encoded[name] = data
            return data

        self.files.put_later(name, made)

    def encoded(self, name: str, data: bytes) -> bool:
        """Whether `data`, read from `name`, is what `write_encoded` put there."""
        return self._encoded.get(name) is data

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)

    def write(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def remove(self, name: str) -> None:
        if name in self.files:  # not `pop`: it would make a file put there `later`
            del self.files[name]

    def acquire(self, holder: LockHolder) -> Lease:
        held = self.lock_held()
        if held is not None:
            raise LockBusy(held)
        leftover = self.files.get(LOCK)
        recovered = _parse_holder(leftover) if leftover is not None else None
        self._put_record(holder)
        self.holder_alive = holder
        return _MemLease(self, recovered)

    def update_holder(self, holder: LockHolder) -> None:
        self._put_record(holder)
        self.holder_alive = holder

    def lock_held(self) -> Mapping[str, Any] | None:
        leftover = self.files.get(LOCK)
        if leftover is None:
            return None
        kept = self.document(LOCK)  # flat (scalars): a copy is what parsing would give
        record = dict(kept) if kept is not None else _parse_holder(leftover)
        if self.holder_alive is not None or self.alive(record):
            return record
        return None


# ------------------------------------------------------------------ typed files


def _dump(value: Mapping[str, Any], allow_nan: bool = True) -> bytes:
    # One line, keys sorted: stable bytes, and the C encoder (indent would force the slow
    # pure-Python one). `mode ... --json` pretty-prints for people.
    return (json.dumps(value, sort_keys=True, allow_nan=allow_nan) + "\n").encode()


def _encode(value: Mapping[str, Any]) -> tuple[bytes, bool]:
    """A state file's bytes, and whether they are strict JSON within the size bound (the
    bytes `MemoryStore.write_encoded` takes)."""
    doc = {"schema_version": SCHEMA_VERSION, **value}
    try:
        data = _dump(doc, allow_nan=False)
    except ValueError:  # NaN or infinity: written as is, and refused when read
        return _dump(doc), False
    return data, len(data) <= strictjson.MAX_BYTES


class RuntimeState:
    """The named runtime files, typed. Corrupt files raise StateCorrupt naming the file."""

    def __init__(self, store: StateStore, where: str = "") -> None:
        self.store = store
        self.where = where

    def _name(self, name: str) -> str:
        return f"{self.where}/{name}" if self.where else name

    def read_json(self, name: str) -> dict[str, Any] | None:
        data = self.store.read(name)
        if data is None:
            return None
        try:
            if isinstance(self.store, MemoryStore) and self.store.encoded(name, data):
                value = json.loads(data)  # our own encoder's output, never touched since
            else:
                value = strictjson.loads(data)
        except ValueError as exc:
            raise StateCorrupt(f"{self._name(name)}: truncated or not JSON ({exc})") from None
        if not isinstance(value, dict) or value.get("schema_version") != SCHEMA_VERSION:
            raise StateCorrupt(
                f"{self._name(name)}: not a Dubnium state file (schema_version "
                f"{SCHEMA_VERSION} expected)"
            )
        return value

    def write_json(self, name: str, value: Mapping[str, Any]) -> None:
        if not isinstance(self.store, MemoryStore):
            self.store.write(name, _dump({"schema_version": SCHEMA_VERSION, **value}))
            return
        data, ours = _encode(value)
        if ours:
            self.store.write_encoded(name, data, value)
        else:
            self.store.write(name, data)

    def write_json_later(self, name: str, make: Callable[[], Mapping[str, Any]]) -> None:
        """`write_json(name, make())`, where `make` builds the document from frozen values:
        a store in memory calls it only if the file is read (issue 16: the journal, written
        before every step, is read only after a controller died)."""
        if isinstance(self.store, MemoryStore):
            self.store.write_later(name, lambda: _encode(make()))
        else:
            self.write_json(name, make())

    def read_desired(self) -> Mode | None:
        """The desired mode; the plain-text file and its JSON twin must agree."""
        text = self.store.read("desired")
        if text is None:
            return None
        try:
            mode = Mode.parse(text.decode("utf-8").strip())
        except (UnicodeDecodeError, ValueError):
            raise StateCorrupt(
                f"{self._name('desired')}: expected one of "
                f"{', '.join(m.value for m in Mode)}, found {text[:40]!r}"
            ) from None
        return mode

    def write_desired(self, mode: Mode, at: str, by: str) -> None:
        self.write_json("desired.json", {"desired": mode.value, "written_at": at, "by": by})
        self.store.write("desired", f"{mode.value}\n".encode())

    def write_current(self, observation_json: Mapping[str, Any]) -> None:
        self.write_json("current.json", observation_json)
        self.store.write("current", f"{observation_json['observed_state']}\n".encode())

    def write_current_later(self, state: str, observation: Callable[[], Mapping[str, Any]]
                            ) -> None:
        """`write_current`, the JSON built by `observation` (from frozen values) only when
        read where the store allows it (`write_json_later`); `state`: its observed_state."""
        self.write_json_later("current.json", observation)
        self.store.write("current", f"{state}\n".encode())

    def read_current(self) -> dict[str, Any] | None:
        return self.read_json("current.json")

    def last_transition(self) -> dict[str, Any] | None:
        return self.read_json("last-transition.json")

    def write_last_transition(self, record: Mapping[str, Any]) -> None:
        self.write_json("last-transition.json", record)

    def last_guards(self) -> dict[str, Any] | None:
        return self.read_json("last-guards.json")

    # `mode cancel` asks the running attempt to stop during its grace period (root-only
    # state directory on the host: nobody else can cancel another's switch).

    def request_cancel(self, attempt: str, at: str, by: str) -> None:
        self.write_json("cancel.json", {"attempt": attempt, "requested_at": at, "by": by})

    def cancel_request(self, attempt: str) -> dict[str, Any] | None:
        """The cancel request for `attempt`, if one was made (an unreadable one is none)."""
        try:
            data = self.read_json("cancel.json")
        except StateCorrupt:
            return None
        return data if data is not None and data.get("attempt") == attempt else None

    def forget_cancel(self) -> None:
        self.store.remove("cancel.json")

    def write_last_guards(self, report: Mapping[str, Any] | Callable[[], Mapping[str, Any]]
                          ) -> None:
        """`report`, or a function building it from frozen values (`write_json_later`)."""
        if callable(report):
            self.write_json_later("last-guards.json", report)
        else:
            self.write_json("last-guards.json", report)

    def write_generated(self, policy: Policy) -> None:
        """capability-placement.json and hardware-topology.json, as the NixOS module
        generates them (nixos/lib/runtime-files.nix); written where they are missing (the
        simulator's state directory), never over the module's."""
        hw = policy.hardware
        files: dict[str, dict[str, Any]] = {
            "capability-placement.json": {"studio": policy.placement.studio,
                                          "compute": policy.placement.compute},
            "hardware-topology.json": {
                "present_gpus": list(hw.present_gpus), "display_gpu": hw.display_gpu,
                "compute_gpus": list(hw.compute_gpus), "desktop_ai_gpus": [],
                "planned_gpu_count": hw.planned_gpu_count,
            },
        }
        for name, value in files.items():
            try:
                missing = self.store.read(name) is None
            except StateCorrupt:
                missing = False  # there, but not a regular file: the module's link (`L+`)
            if missing:
                self.write_json(name, value)

    SAVED_SLICES = "studio-saved-slices.json"

    def saved_slices(self) -> dict[str, SliceSettings] | None:
        value = self.read_json(self.SAVED_SLICES)
        if value is None:
            return None
        try:
            return {
                name: SliceSettings.from_json(settings)
                for name, settings in value["slices"].items()
            }
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise StateCorrupt(f"{self._name(self.SAVED_SLICES)}: {exc}") from None

    def save_slices(self, slices: Mapping[str, SliceSettings], at: str) -> None:
        self.write_json(
            self.SAVED_SLICES,
            {"saved_at": at, "slices": {k: v.to_json() for k, v in slices.items()}},
        )

    def forget_slices(self) -> None:
        self.store.remove(self.SAVED_SLICES)

    # The attempt's write-ahead journal (`dubnium.journal`): written before each step,
    # removed once the attempt's record is written.
    JOURNAL = "journal.json"

    def read_journal(self) -> dict[str, Any] | None:
        return self.read_json(self.JOURNAL)

    def write_journal(self, journal: Callable[[], Mapping[str, Any]]) -> None:
        """`journal`: the journal's JSON, built from values taken when it is written (the
        attempt's `_journal`), possibly later: when the file is first read."""
        self.write_json_later(self.JOURNAL, journal)

    def clear_journal(self) -> None:
        self.store.remove(self.JOURNAL)
