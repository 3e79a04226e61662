"""The `mode` CLI's session on the live workstation (`dubnium.session.Session`).

Built by the composition root (`dubnium_app.compose`) for `--backend host`. The policy is
`--config` (default /etc/dubnium/config.json); the state directory and the audit log are where
it says unless `--state-dir` is given. The backend (`backends.host.HostBackend`: D-Bus,
pw-dump, NVML, /proc) is loaded on first use, so a recorded answer needs no D-Bus.

The rules for mutating verbs live here: they need root, and one run from inside a logind
session (a terminal of the desktop) is handed off to a transient unit (`backends.handoff`)
so that ending the session cannot kill the controller half-way. Every switch is journalled
(`backends.journald` through `dubnium.journal_entries.JournalReporter`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from backends import handoff
from backends.clock import RealClock
from dubnium import session
from dubnium.audit import FileAuditLog
from dubnium.backend import Backend
from dubnium.codes import ExitCode
from dubnium.errors import BackendUnavailable
from dubnium.facts import SessionFact
from dubnium.journal_entries import JournalReporter
from dubnium.policy import DEFAULT_CONFIG_PATH, Policy
from dubnium.policyload import load_policy
from dubnium.reconcile import Reporter
from dubnium.state import RuntimeState

# What the `host` extra of pyproject.toml brings (import names).
HOST_EXTRA_MODULES = ("pystemd", "pynvml")
# What a handed-off verb keeps of the caller's environment (sudo has already reset it).
HANDOFF_ENV = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL")
# `python -m` of the composition root, when `mode` was not run as its console script.
CLI_MODULE = "dubnium_app"


class HostSession:
    """`mode --backend host`: this machine."""

    name = "host"
    simulated = False
    serves_recorded = True

    def __init__(self, state_dir: Path | None, config: Path | None) -> None:
        self._state_dir = state_dir
        self._config = config if config is not None else DEFAULT_CONFIG_PATH
        self._policy: Policy | None = None
        self._backend: Backend | None = None

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = load_policy(self._config)
        return self._policy

    @property
    def state_dir(self) -> Path:
        if self._state_dir is not None:
            return self._state_dir
        return Path(self.policy.paths.state_dir)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = _host_backend(self.policy)
        return self._backend

    @property
    def runtime(self) -> RuntimeState:
        return session.runtime_in(self.state_dir)

    @property
    def audit(self) -> FileAuditLog:
        return FileAuditLog(Path(self.policy.paths.audit_log),
                            self.policy.audit.rotate_mib << 20)

    def wall_ns(self) -> int:
        """The real clock, without loading the host backend (a recorded answer needs no
        D-Bus)."""
        clock = self._backend.clock if self._backend is not None else RealClock()
        return clock.wall_ns()

    def may_record_current(self) -> bool:
        return os.geteuid() == 0

    def require_root(self, verb: str) -> None:
        if os.geteuid() != 0:
            raise session.VerbExit(
                ExitCode.PERMISSION_DENIED,
                f"mode {verb} changes the host and needs root (try: sudo mode {verb} ...)",
            )

    @contextlib.contextmanager
    def mutating(self, verb: str) -> Iterator[None]:
        """Root; from inside a logind session, the verb again in a transient unit (this
        process then ends with its exit code); the generated files where missing."""
        self.require_root(verb)
        if handoff.inside_session() and not handoff.handed_off():
            env = {k: v for k, v in os.environ.items()
                   if k.startswith("DUBNIUM_") or k in HANDOFF_ENV}
            # The `mode` script itself (a Nix wrapper sets up its own Python path); the
            # module form only when run as `python -m dubnium_app`.
            script = os.path.abspath(sys.argv[0])
            head = ([script] if os.access(script, os.X_OK) and not script.endswith(".py")
                    else [sys.executable, "-m", CLI_MODULE])
            argv = [*head, *sys.argv[1:]]
            raise session.VerbExit(
                handoff.run_handed_off(argv, f"mode-{verb}-{os.getpid()}", env))
        self.runtime.write_generated(self.policy)
        yield

    def serve_current(self) -> int:
        """The resident observer (`backends.currentserver`) for this config and state
        directory, on the socket mode-current.socket passes."""
        from backends.currentserver import CurrentServer, listening_socket

        listener = listening_socket()
        server = CurrentServer(self._config, self.state_dir, self.runtime, load_policy,
                               _host_backend)
        with listener:
            return server.serve(listener)

    def reporters(self) -> Sequence[Reporter]:
        """The journal: structured entries per attempt and step."""
        from backends.journald import JournalSink

        return (JournalReporter(JournalSink(), self.backend.clock),)

    def windows(self, sessions: Iterable[SessionFact]) -> session.Windows:
        from backends.windows import list_windows

        return list_windows(sessions)


def _host_backend(policy: Policy) -> Backend:
    """`backends.host.HostBackend`, or BackendUnavailable naming what is missing."""
    try:
        from backends.host import HostBackend
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in HOST_EXTRA_MODULES:
            raise BackendUnavailable(
                f"the host backend needs {exc.name}, which is not installed: install the host "
                "extra (pip install 'dubnium[host]'; on NixOS the mode-tools package has it)"
            ) from None
        raise BackendUnavailable(f"the host backend is not available: {exc}") from None
    return HostBackend(policy)
