"""The session seam: everything a `mode` verb needs from the machine it runs against.

A verb (`dubnium.verbs_read`, `dubnium.verbs_switch`, `dubnium.idlecli`) is handed one
`Session` and never asks which kind it got. Two implementations exist, one per backend:

- `simulator.session.SimulatedSession`: the simulated workstation saved in a state
  directory (the world file), written through at every action; no root, no handoff;
- `backends.session.HostSession`: the live workstation (D-Bus, NVML, /proc, the journal);
  mutating verbs need root and, from inside a logind session, are handed off to a transient
  unit (`backends.handoff`), so that ending the graphical session does not kill them.

The composition root (`dubnium_app.compose`, outside this package: `dubnium` imports
neither `backends` nor `simulator`, and import-linter says so) picks one by name
(`--backend host|sim`, env `DUBNIUM_BACKEND`). A session builds what it is asked for, and
only then: `mode history` in the simulator reads the audit log without loading the world.

One policy: the session's `policy` is the one the backend runs under too (in the simulator,
the world adopts a `--config` file's policy; see `SimulatedSession`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from dubnium.audit import FileAuditLog
from dubnium.backend import Backend, iso_timestamp
from dubnium.facts import SessionFact
from dubnium.policy import Policy
from dubnium.reconcile import Reconciler, Reporter
from dubnium.state import DirectoryStore, RuntimeState
from dubnium.stopping import StopRequests

# The compositor's windows (class, title, user), or why none could be listed.
Windows = Sequence[Mapping[str, str]] | str


class VerbExit(Exception):
    """End the verb with `code`, and `message` as its one line on stderr (none when empty).

    Raised by verbs and by a session's rules (root, handoff); `dubnium.cli.main` turns it
    into the process's exit."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Session(Protocol):
    """What one `mode` invocation runs against; built lazily, each part on first use."""

    @property
    def name(self) -> str:
        """`sim` or `host` (shown by `mode status` and `mode doctor`)."""
        ...

    @property
    def simulated(self) -> bool:
        """True for the simulated workstation (said so in doctor's and status's output)."""
        ...

    @property
    def state_dir(self) -> Path:
        """The runtime state directory (`--state-dir`, else the backend's default)."""
        ...

    @property
    def policy(self) -> Policy:
        """The one policy: the controller's and the backend's."""
        ...

    @property
    def backend(self) -> Backend:
        """The host, observed and acted on."""
        ...

    @property
    def runtime(self) -> RuntimeState:
        """desired, current, the lock and the records in `state_dir`."""
        ...

    @property
    def audit(self) -> FileAuditLog:
        """The append-only audit log."""
        ...

    @property
    def serves_recorded(self) -> bool:
        """Whether `mode current` may answer from the recorded observation while it is fresh
        (the simulator's clock stands still between commands: there it always observes)."""
        ...

    def wall_ns(self) -> int:
        """Now, for a recorded answer's age, without loading the backend where it can."""
        ...

    def may_record_current(self) -> bool:
        """Whether `mode current --refresh` may rewrite the recorded current files."""
        ...

    def require_root(self, verb: str) -> None:
        """Raise VerbExit(PERMISSION_DENIED) when `verb` needs a root this caller lacks."""
        ...

    def mutating(self, verb: str) -> contextlib.AbstractContextManager[None]:
        """Around a verb that changes the host: its rules (root, handoff, generated files).
        May end the verb (VerbExit) instead of entering."""
        ...

    def reporters(self) -> Sequence[Reporter]:
        """What this backend adds to every switch's reporters (the host's journal; the
        simulator's step hook for faults armed from the shell)."""
        ...

    def windows(self, sessions: Iterable[SessionFact]) -> Windows:
        """The windows that would close with `sessions`, or why they cannot be listed."""
        ...

    def serve_current(self) -> int:
        """`mode current-server`: answer live `mode current` calls on the socket systemd
        passed until none comes for a while; the exit status. VerbExit where this backend
        has no resident observer."""
        ...


def reconciler(session: Session, reporter: Reporter | None = None,
               stop: StopRequests | None = None) -> Reconciler:
    """The reconciler over `session`'s backend, policy, runtime state and audit log."""
    backend = session.backend  # in the simulator: loads the world (and its policy) first
    return Reconciler(backend, session.policy, session.runtime, session.audit,
                      pid=os.getpid(), reporter=reporter, stop=stop)


def timestamp(session: Session) -> str:
    """Now on the backend's clock, as a record's timestamp."""
    return iso_timestamp(session.backend.clock.wall_ns())


def runtime_in(state_dir: Path) -> RuntimeState:
    """The runtime state kept in `state_dir` (both sessions keep it the same way)."""
    return RuntimeState(DirectoryStore(state_dir), str(state_dir))
