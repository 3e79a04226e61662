"""Writes that cannot lie, files that are what they claim, a lock only root can take.

Each test reproduces one finding of issue 11 (a full disk, a FIFO or directory in place of a
state file, a symlinked audit log, umask 000, an flock any user could take, a closed or full
stdout) and checks the fixed behaviour. A full disk is real: a small tmpfs, mounted as root.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dubnium import fsutil
from dubnium.audit import FileAuditLog
from dubnium.codes import ExitCode
from dubnium.errors import StateCorrupt, StorageError
from dubnium.modes import Mode
from dubnium.state import LOCK_FILE, DirectoryStore, LockHolder, RuntimeState
from tests.alarm import alarm

ROOT = os.geteuid() == 0
REPO = Path(__file__).parents[2]
ENV = {**os.environ, "DUBNIUM_BACKEND": "sim", "PYTHONPATH": str(REPO)}
# Another user cannot run the root-only interpreter of the venv: the system one (same
# version) with the venv's pure-Python packages on its path.
SITE = next(iter(sorted(Path(sys.prefix).glob("lib/python3*/site-packages"))), REPO)
NOBODY_ENV = {**ENV, "PYTHONPATH": f"{REPO}:{SITE}", "HOME": "/nonexistent"}
SYSTEM_PYTHON = "/usr/bin/python3"


def _mode(*args: str, stdout: int | None = subprocess.PIPE,
          user: int | None = None) -> subprocess.CompletedProcess[str]:
    python = sys.executable if user is None else SYSTEM_PYTHON
    return subprocess.run([python, "-m", "dubnium_app", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=ENV if user is None else
                          NOBODY_ENV, timeout=60, check=False, user=user)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory every user can reach (pytest's own tmp is 0700 root's)."""
    if not ROOT or not Path(SYSTEM_PYTHON).exists():
        pytest.skip("switching to another user needs root and a system python3")
    where = Path(tempfile.mkdtemp(prefix="dubnium-shared-", dir="/tmp"))
    where.chmod(0o755)
    yield where
    shutil.rmtree(where, ignore_errors=True)


def _sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from simulator.cli import main; main()",
                           *args], capture_output=True, text=True, env=ENV, timeout=60,
                          check=False)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a disk that really fills up."""
    if not ROOT:
        pytest.skip("mounting a small tmpfs to fill needs root")
    where = tmp_path / "fs"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs",
                           str(where)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(fs: Path, leave: int) -> None:
    """Fill the filesystem until at most `leave` bytes are free."""
    st = os.statvfs(fs)
    free = st.f_bavail * st.f_frsize
    with contextlib.suppress(OSError), (fs / "filler").open("wb") as f:
        f.write(b"x" * max(0, free - leave))
        f.flush()


# ------------------------------------------------------------------ a full disk


def test_atomic_write_on_a_full_disk_raises_and_keeps_the_old_content(small_fs: Path) -> None:
    """20 KB into 8 KiB free: ENOSPC, not a silent 8 KiB file; the old bytes stay."""
    target = small_fs / "state.json"
    fsutil.atomic_write(target, b"old\n")
    _fill(small_fs, 8 * 1024)
    with pytest.raises(OSError, match="No space") as raised:
        fsutil.atomic_write(target, b"n" * 20_000)
    assert (raised.value.errno, target.read_bytes()) == (errno.ENOSPC, b"old\n")
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler", "state.json"]


def test_write_all_writes_every_byte_across_short_writes() -> None:
    """A pipe takes 64 KiB per write; write_all loops until all 200 KB are through."""
    read_fd, write_fd = os.pipe()
    data = bytes(range(256)) * 800
    got = bytearray()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        fsutil.write_all(write_fd, data)
        os._exit(0)
    os.close(write_fd)
    while chunk := os.read(read_fd, 1 << 16):
        got += chunk
    os.close(read_fd)
    os.waitpid(pid, 0)
    assert bytes(got) == data


def test_audit_append_on_a_full_disk_writes_nothing_and_keeps_earlier_lines(
        small_fs: Path) -> None:
    """An append that does not fit is cut back whole: no torn record, earlier lines kept."""
    log = FileAuditLog(small_fs / "events.jsonl")
    log.append({"outcome": "converged", "n": 1})
    before = (small_fs / "events.jsonl").read_bytes()
    _fill(small_fs, 0)
    with pytest.raises(StorageError, match="cannot append to audit log"):
        log.append({"outcome": "converged", "pad": "p" * 50_000})
    assert (small_fs / "events.jsonl").read_bytes() == before


def test_request_on_a_full_state_disk_exits_8_and_keeps_the_audit(small_fs: Path) -> None:
    """`mode request` with a full state directory: exit 8, one line; no 'converged' claim."""
    state = small_fs / "sim"
    assert _sim("--state-dir", str(state), "create", "--seed", "3").returncode == 0
    first = _mode("--state-dir", str(state), "request", "studio-local")
    assert first.returncode == 0, first.stderr
    audit = (state / "events.jsonl").read_bytes()
    world = (state / "sim-world.json").read_bytes()
    _fill(small_fs, 0)
    done = _mode("--state-dir", str(state), "request", "compute")
    assert (done.returncode, len(done.stderr.splitlines())) == (ExitCode.STORAGE_FAILED, 1)
    assert ("storage failed" in done.stderr, "Traceback" in done.stderr) == (True, False)
    assert (state / "events.jsonl").read_bytes().startswith(audit)
    assert (state / "sim-world.json").read_bytes() == world
    assert "converged" not in done.stdout


def test_a_read_only_state_directory_is_exit_8_not_a_traceback(tmp_path: Path) -> None:
    """EROFS (a read-only bind mount of the simulator's state directory): one line, exit 8."""
    if not ROOT:
        pytest.skip("a read-only bind mount needs root")
    state = tmp_path / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    if subprocess.run(["mount", "--bind", "-o", "ro", str(state), str(state)],
                      check=False).returncode != 0:
        pytest.skip("cannot bind-mount read-only here")
    try:
        done = _mode("--state-dir", str(state), "request", "compute")
        sim = _sim("--state-dir", str(state), "advance", "1")
    finally:
        subprocess.run(["umount", str(state)], check=False)
    assert (done.returncode, sim.returncode) == (ExitCode.STORAGE_FAILED,) * 2
    assert [len(done.stderr.splitlines()), len(sim.stderr.splitlines())] == [1, 1]


# ------------------------------------------------------------------ files that are not files


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink"])
def test_a_non_regular_state_file_is_state_corrupt_without_blocking(tmp_path: Path,
                                                                    kind: str) -> None:
    """A FIFO, directory or link in place of a state file: StateCorrupt at once."""
    path = tmp_path / "last-transition.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        (tmp_path / "elsewhere").write_text('{"schema_version": 1}')
        path.symlink_to(tmp_path / "elsewhere")
    with alarm(5), pytest.raises(StateCorrupt, match="not a regular file"):
        RuntimeState(DirectoryStore(tmp_path)).last_transition()


@pytest.mark.parametrize(("name", "verb"), [
    ("desired", "status"), ("desired.json", "desired"), ("last-transition.json", "status"),
    ("lock", "status"), ("sim-world.json", "status"), ("events.jsonl", "history")])
def test_every_verb_reports_a_fifo_as_exit_7(tmp_path: Path, name: str, verb: str) -> None:
    """A FIFO in place of any state file a verb reads: exit 7 quickly (no hang)."""
    state = tmp_path / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    assert _mode("--state-dir", str(state), "request", "studio-local").returncode == 0
    (state / name).unlink(missing_ok=True)
    os.mkfifo(state / name)
    done = _mode("--state-dir", str(state), verb)
    expected = ExitCode.OK if name == "lock" else ExitCode.STATE_CORRUPT
    assert (done.returncode, "Traceback" in done.stderr) == (expected, False), done.stderr


def test_a_directory_in_place_of_a_state_file_exits_7(tmp_path: Path) -> None:
    """A directory where `desired` should be: exit 7 naming it (was exit 1)."""
    state = tmp_path / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    (state / "desired").mkdir()
    done = _mode("--state-dir", str(state), "desired")
    assert (done.returncode, len(done.stderr.splitlines())) == (ExitCode.STATE_CORRUPT, 1)
    assert "desired" in done.stderr


def test_sim_world_lock_replaced_by_a_directory_is_exit_7(tmp_path: Path) -> None:
    """`sim-world.lock` as a directory: one line, exit 7 (was a traceback)."""
    state = tmp_path / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    (state / "sim-world.lock").unlink()
    (state / "sim-world.lock").mkdir()
    done = _sim("--state-dir", str(state), "advance", "1")
    assert (done.returncode, len(done.stderr.splitlines())) == (ExitCode.STATE_CORRUPT, 1)


def test_a_symlinked_audit_log_is_never_followed(tmp_path: Path) -> None:
    """A link at the audit path (to a file, or dangling) is refused; the target is untouched."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "events.jsonl").symlink_to(victim)
    (tmp_path / "dangling.jsonl").symlink_to(tmp_path / "created-by-root")
    for name in ("events.jsonl", "dangling.jsonl"):
        with pytest.raises(StorageError, match="symbolic link"):
            FileAuditLog(tmp_path / name).append({"outcome": "converged"})
    assert (victim.read_text(), (tmp_path / "created-by-root").exists()) == ("precious\n", False)


def test_modes_are_explicit_whatever_the_umask(tmp_path: Path) -> None:
    """Under umask 000: directories 0755, state and audit files 0644, the lock file 0600."""
    old = os.umask(0)
    try:
        state = tmp_path / "a" / "state"
        store = DirectoryStore(state)
        RuntimeState(store).write_desired(Mode.DESKTOP, "now", "test")
        lease = store.acquire(LockHolder(os.getpid(), "", "now", "desktop", "x"))
        audit = FileAuditLog(tmp_path / "b" / "audit" / "events.jsonl")
        audit.append({"outcome": "converged"})
        modes = {
            "state dir": state.stat().st_mode, "parent": (tmp_path / "a").stat().st_mode,
            "desired": (state / "desired").stat().st_mode,
            "lock file": (state / LOCK_FILE).stat().st_mode,
            "audit dir": audit.path.parent.stat().st_mode, "audit": audit.path.stat().st_mode,
        }
        lease.release()
    finally:
        os.umask(old)
    assert {k: stat.S_IMODE(v) for k, v in modes.items()} == {
        "state dir": 0o755, "parent": 0o755, "desired": 0o644, "lock file": 0o600,
        "audit dir": 0o755, "audit": 0o644}


# ------------------------------------------------------------------ the lock


def test_an_flock_on_the_state_directory_no_longer_stops_the_controller(tmp_path: Path) -> None:
    """What any user could do (flock the 0755 directory) does not make requests exit 5."""
    store = DirectoryStore(tmp_path)
    store._ensure()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        lease = store.acquire(LockHolder(os.getpid(), "", "now", "compute", "a"))
        lease.release()
    finally:
        os.close(fd)
    assert store.lock_held() is None


def test_only_the_owner_can_open_the_lock_file(shared_tmp: Path) -> None:
    """Another user cannot open `transition.lock` (0600, root's), so cannot take the lock."""
    store = DirectoryStore(shared_tmp / "state")
    store.acquire(LockHolder(os.getpid(), "", "now", "compute", "a")).release()
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", f"import os; os.open({str(shared_tmp / 'state' / LOCK_FILE)!r}, "
                              "os.O_RDONLY)"],
        capture_output=True, text=True, user=65534, check=False)
    assert (probe.returncode, "PermissionError" in probe.stderr) == (1, True)


def test_readers_never_flock_they_check_the_holder_is_alive(tmp_path: Path) -> None:
    """lock_held reads the record: a live pid is a holder, a dead one is not (no flock)."""
    store = DirectoryStore(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    record = LockHolder(int(dead.stdout), "", "now", "compute", "a").to_json()
    store.write("lock", json.dumps(record).encode())
    dead_seen = store.lock_held()
    live = LockHolder(os.getpid(), "", "now", "compute", "b").to_json()
    store.write("lock", json.dumps(live).encode())
    assert (dead_seen, store.lock_held()) == (None, live)


def test_a_non_root_reader_sees_status_and_history(shared_tmp: Path) -> None:
    """`mode status` and `mode history` as another user: the files they read are readable."""
    state = shared_tmp / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    assert _mode("--state-dir", str(state), "request", "compute").returncode == 0
    history = _mode("--state-dir", str(state), "history", user=65534)
    status = _mode("--state-dir", str(state), "status", user=65534)
    assert (history.returncode, status.returncode) == (0, 0), history.stderr + status.stderr
    assert "compute" in history.stdout


# ------------------------------------------------------------------ output


def test_a_full_stdout_after_converging_keeps_exit_0_and_costs_one_line(tmp_path: Path) -> None:
    """`mode request compute >/dev/full`: the switch happened, exit 0, one line for it."""
    state = tmp_path / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    with open("/dev/full", "w") as full:
        done = _mode("--state-dir", str(state), "request", "compute", stdout=full.fileno())
    # (progress lines come first on stderr; the output failure is one line, the last)
    assert (done.returncode, "Traceback" in done.stderr) == (0, False), done.stderr
    assert "could not be written" in done.stderr.splitlines()[-1]


def test_a_closed_stdout_keeps_the_exit_code(tmp_path: Path) -> None:
    """A reader that went away (closed pipe): the exit code is the verb's, no traceback."""
    state = tmp_path / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        done = _mode("--state-dir", str(state), "request", "studio-local", stdout=write_fd)
    finally:
        os.close(write_fd)
    assert (done.returncode, "Traceback" in done.stderr) == (0, False)


@pytest.mark.parametrize("argv", [["bogus"], ["request"], ["history", "--limit", "x"],
                                  ["request", "x" * 100_000]])
def test_usage_errors_are_one_short_line_pointing_at_help(tmp_path: Path,
                                                          argv: list[str]) -> None:
    """Usage errors: exit 2, one line naming --help, never the argument in full."""
    done = _mode("--state-dir", str(tmp_path), *argv)
    assert (done.returncode, len(done.stderr.splitlines())) == (ExitCode.USAGE, 1), done.stderr
    assert "-h)" in done.stderr or "--help" in done.stderr
    assert len(done.stderr) < 400


def test_status_readers_never_make_a_request_busy(tmp_path: Path) -> None:
    """Requests while `mode status` runs in a loop: none exits 5 (readers took LOCK_SH)."""
    state = tmp_path / "sim"
    assert _sim("--state-dir", str(state), "create").returncode == 0
    loop = ("import sys\nfrom dubnium_app.compose import main\n"
            "while True:\n    try:\n        main(['--backend', 'sim', '--state-dir', "
            f"{str(state)!r}, 'status'])\n    except SystemExit:\n        pass\n")
    reader = subprocess.Popen([sys.executable, "-c", loop], env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        codes = [_mode("--state-dir", str(state), "request", mode).returncode
                 for mode in ("compute", "desktop") * 2]
    finally:
        reader.kill()
        reader.wait()
    assert codes == [0] * 4
