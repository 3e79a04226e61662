"""/proc and the file system: load, memory, pressure, processes of interest, boot id, paths.

Called by `backends.host.HostBackend`; `parse_meminfo` also by the hardware preflight
(`backends.preflight.read`). `proc_root` is the /proc of the host to read (the
test host's is `/proc/<pid>/root/proc` seen from outside its PID namespace, so the PIDs
read are the namespace's); its parent is that host's root directory, used for the path
checks. Each reader returns its fact or `Unavailable`: `_read()` is the edge where OSError
and malformed content are translated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from dubnium.facts import (
    LoadFact,
    MemoryFact,
    ModelFact,
    PathFact,
    PressureFact,
    ProcessFact,
    Unavailable,
)

T = TypeVar("T")
_SESSION_SCOPE = re.compile(r"/session-([^/]+)\.scope$", re.MULTILINE)
_CLK_TCK = os.sysconf("SC_CLK_TCK")
COMM_MAX = 15  # TASK_COMM_LEN - 1: the kernel truncates comm to this
# Weight files of a seeded model directory (docs/runbooks/model-seeding.md).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def _read(what: str, parse: Callable[[], T]) -> T | Unavailable:
    """Run one reader; OSError and malformed content become Unavailable(what: why)."""
    try:
        return parse()
    except OSError as exc:
        return Unavailable(f"{what}: {exc.strerror or exc}")
    except (ValueError, IndexError, KeyError) as exc:
        return Unavailable(f"{what}: malformed ({exc})")


def parse_meminfo(text: str) -> MemoryFact:
    """/proc/meminfo's MemTotal and MemAvailable in MiB; ValueError when either is missing.
    The one meminfo parser: the host backend's and the hardware preflight's."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0])
    if "MemTotal" not in values or "MemAvailable" not in values:
        raise ValueError("MemTotal or MemAvailable missing")
    return MemoryFact(total_mib=values["MemTotal"] // 1024,
                      available_mib=values["MemAvailable"] // 1024)


class ProcFs:
    """Reads one host's /proc (and, for paths, its root directory)."""

    def __init__(self, proc_root: Path = Path("/proc")) -> None:
        self.proc_root = proc_root
        self.fs_root = proc_root.parent

    def boot_id(self) -> str:
        path = self.proc_root / "sys/kernel/random/boot_id"
        try:
            return path.read_text().strip()
        except OSError:
            return ""

    def load(self) -> LoadFact | Unavailable:
        def parse() -> LoadFact:
            fields = (self.proc_root / "loadavg").read_text().split()
            cpus = len(os.sched_getaffinity(0)) or os.cpu_count() or 1
            return LoadFact(float(fields[0]), float(fields[1]), float(fields[2]), cpus)

        return _read("/proc/loadavg", parse)

    def memory(self) -> MemoryFact | Unavailable:
        return _read("/proc/meminfo",
                     lambda: parse_meminfo((self.proc_root / "meminfo").read_text()))

    def pressure(self) -> PressureFact | Unavailable:
        def some_avg10(resource: str) -> float | None:
            try:
                text = (self.proc_root / "pressure" / resource).read_text()
            except (FileNotFoundError, NotADirectoryError):
                return None  # a kernel without PSI
            except OSError as exc:
                if exc.errno == 95:  # EOPNOTSUPP: PSI compiled in but disabled (psi=0)
                    return None
                raise
            for line in text.splitlines():
                if line.startswith("some "):
                    fields = dict(f.split("=", 1) for f in line.split()[1:])
                    return float(fields["avg10"])
            raise ValueError(f"no 'some' line in pressure/{resource}")

        return _read(
            "/proc/pressure",
            lambda: PressureFact(some_avg10("cpu"), some_avg10("memory"), some_avg10("io")),
        )

    def processes(
        self, names: Iterable[str], leaders: Mapping[int, str] | None = None
    ) -> tuple[ProcessFact, ...] | Unavailable:
        """Processes whose comm is one of `names` (compared as the kernel truncates comm).

        `leaders` maps session-leader pids to their session id; other processes get the id
        of the `session-<id>.scope` they run in, if any.
        """
        wanted = {n[:COMM_MAX] for n in names}
        leaders = leaders or {}

        def parse() -> tuple[ProcessFact, ...]:
            uptime = float((self.proc_root / "uptime").read_text().split()[0])
            found = []
            for entry in os.scandir(self.proc_root):
                if not entry.name.isdigit():
                    continue
                fact = self._process(int(entry.name), wanted, uptime, leaders)
                if fact is not None:
                    found.append(fact)
            return tuple(sorted(found, key=lambda p: p.pid))

        return _read(f"{self.proc_root}", parse)

    def _process(
        self, pid: int, wanted: set[str], uptime: float, leaders: Mapping[int, str]
    ) -> ProcessFact | None:
        base = self.proc_root / str(pid)
        try:
            stat = (base / "stat").read_text()
            # comm may contain spaces and parentheses: it ends at the last ')'.
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            if comm not in wanted:
                return None
            start_ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
            uid = os.stat(base).st_uid
            session = leaders.get(pid) or _session_of(base)
        except (OSError, ValueError, IndexError):
            return None  # exited while being read
        runtime = max(0.0, uptime - start_ticks / _CLK_TCK)
        return ProcessFact(pid=pid, comm=comm, uid=uid, runtime_s=round(runtime, 2),
                           session_id=session)

    def paths(self, paths: Iterable[str]) -> tuple[PathFact, ...] | Unavailable:
        def parse() -> tuple[PathFact, ...]:
            return tuple(self._path(p) for p in dict.fromkeys(paths))

        return _read("paths", parse)

    def _path(self, path: str) -> PathFact:
        real = self.fs_root / path.lstrip("/")
        if not real.is_dir():
            return PathFact(path, exists=real.exists(), writable=False)
        writable = os.access(real, os.W_OK)
        try:
            st = os.statvfs(real)
            free = st.f_bavail * st.f_frsize // (1 << 20)
        except OSError:
            free = None
        return PathFact(path, exists=True, writable=writable, free_mib=free)

    def model(self, path: str) -> ModelFact | Unavailable:
        """The model directory at `path`: present with a config.json and weights."""
        def parse() -> ModelFact:
            real = self.fs_root / path.lstrip("/")
            if not real.is_dir():
                return ModelFact(path, present=False)
            weights = [e for e in os.scandir(real)
                       if e.is_file() and e.name.endswith(WEIGHT_SUFFIXES)]
            size = sum(e.stat().st_size for e in weights) // (1 << 20)
            present = (real / "config.json").is_file() and bool(weights)
            return ModelFact(path, present=present, weight_files=len(weights), size_mib=size)

        return _read("model", parse)

    def host_path(self, path: str) -> Path:
        """`path` on the observed host, as seen from here."""
        return self.fs_root / path.lstrip("/")


def _session_of(base: Path) -> str:
    try:
        text = (base / "cgroup").read_text()
    except OSError:
        return ""
    match = _SESSION_SCOPE.search(text)
    return match.group(1) if match else ""
