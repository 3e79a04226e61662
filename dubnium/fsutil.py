"""Files Dubnium writes and reads: whole, never through a link, only regular ones.

Called by `dubnium.state` (runtime state, the lock), `dubnium.audit` (the log),
`dubnium.policy` (the config), `simulator.persist` (the world) and `backends.host` (the
vLLM/EXO profiles). Every function raises `OSError` (or `NotRegularFile`, a subclass) for the
caller to translate at its own edge; `storage_failure` tells a full disk, an I/O error or a
read-only filesystem from the rest.

- `write_all` writes until every byte is written or raises: `os.write` may write less than
  asked (a nearly full filesystem) and a short write is never taken for a whole one.
- `atomic_write`: a temp file in the same directory, every byte, fsync, then rename; a temp
  file whose size is not the data's is never renamed into place, so the old content stays.
- Modes are explicit whatever the umask (directories 0755, files as asked) and no open
  follows a symbolic link (`O_NOFOLLOW`) or leaks into a child (`O_CLOEXEC`), except a read
  asked to follow one (`follow=True`: the config file, which NixOS installs as a link to
  /etc/static; still a regular file at the end, never a FIFO or device).
- `read_regular` opens without blocking (`O_NONBLOCK`: a FIFO never hangs the reader) and
  refuses anything but a regular file (FIFO, device, directory, socket, link) and anything
  over a size limit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from dubnium.errors import NotRegularFile

DIR_MODE = 0o755
FILE_MODE = 0o644
READ_LIMIT = 4 * 1024 * 1024

# A full disk, a quota, an I/O error, a read-only filesystem, a file too large.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def storage_failure(exc: OSError) -> bool:
    """Whether `exc` is the storage failing (full, I/O error, read-only), not a usage error."""
    return exc.errno in STORAGE_ERRNOS


def ensure_dir(path: Path, mode: int = DIR_MODE) -> None:
    """Create `path` and missing parents with `mode` exactly (the umask does not apply)."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue
        os.chmod(directory, mode, follow_symlinks=False)


def write_all(fd: int, data: bytes,
              write: Callable[[int, memoryview], int] = os.write) -> None:
    """Write every byte of `data` to `fd` or raise; a write of 0 bytes is a full disk.

    `write` is `os.write`; the simulator passes its disk model's, so the campaigns run this
    very loop against short writes, ENOSPC and EIO.
    """
    view = memoryview(data)
    while view:
        written = write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Temp file in the same directory, every byte, fsync, rename over `path`, fsync the dir.

    A reader sees the old bytes or the new ones, never a mix, even across a crash; on any
    error the temp file is removed and `path` keeps its old content.
    """
    import tempfile  # here: the read verbs, which never write, need not load it (and random)

    ensure_dir(path.parent)
    # mkstemp opens with O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600, not inheritable.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            write_all(fd, data)
            os.fchmod(fd, mode)
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size != len(data):  # never rename a short file into place
            raise OSError(errno.EIO, f"wrote {size} of {len(data)} bytes")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: Path, flags: int, mode: int = FILE_MODE, *, follow: bool = False) -> int:
    """Open `path` (never through a link unless `follow`, never blocking on a FIFO) and check
    it is a regular file; the caller owns the returned fd."""
    try:
        fd = os.open(path, flags | (os.O_CLOEXEC if follow else _NOFOLLOW) | os.O_NONBLOCK,
                     mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegularFile(errno.ELOOP, "a symbolic link, not a regular file",
                                 str(path)) from None
        if exc.errno == errno.ENXIO:  # a FIFO opened for writing with no reader
            raise NotRegularFile(errno.ENXIO, "a FIFO, not a regular file", str(path)) from None
        if exc.errno == errno.EISDIR:  # a directory opened for writing
            raise NotRegularFile(errno.EISDIR, "a directory, not a regular file",
                                 str(path)) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EINVAL, f"{_kind(st.st_mode)}, not a regular file",
                                 str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path, limit: int = READ_LIMIT, *, follow: bool = False) -> bytes | None:
    """The bytes of the regular file `path`; None when it does not exist.

    NotRegularFile for a FIFO, device, directory, socket or (unless `follow`) link; OSError
    (EFBIG) when it is larger than `limit`.
    """
    try:
        fd = open_regular(path, os.O_RDONLY, follow=follow)
    except FileNotFoundError:
        return None
    try:
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
