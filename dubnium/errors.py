"""Every error Dubnium raises, under one root, and the exit code each one ends in.

Imported by every layer (it imports nothing of Dubnium's, so it sits below them all). The CLI
(`dubnium.cli.main`, `simulator.cli.main`) turns an error that reaches it into one line on
stderr and the exit code of `dubnium.codes.ExitCode` named below; nothing a user or the
machine can cause ends in a traceback.

    DubniumError                      the root; reaching the CLI: ERROR (1)
    ├── ConfigError (ValueError)      the config is missing or malformed: CONFIG_INVALID (6)
    ├── BackendUnavailable            no backend to talk to: BACKEND_UNAVAILABLE (4)
    ├── BackendError                  one host action or read failed (.temporary)
    ├── StorageError                  a state or audit write failed: STORAGE_FAILED (8)
    ├── StateCorrupt                  a state file is not ours or truncated: STATE_CORRUPT (7)
    ├── LockBusy                      another transition holds the lock: LOCK_BUSY (5)
    ├── QueryError (ValueError)       a --since/--outcome the query cannot use: USAGE (2)
    ├── JsonError (ValueError)        bytes that are not one strict, bounded JSON document
    ├── RecordUnreadable (ValueError) JSON that is not a transition record we know
    ├── NotRegularFile (OSError)      a FIFO, device, directory or link where a file must be
    ├── Interrupted                   Ctrl-C in a verb's own work, before any switch began
    │                                 (raised by dubnium.console's group): INTERRUPTED (28)
    ├── AttemptStop                   ends a step or an attempt; the attempt records it and
    │   │                             exits with its outcome, never this type's own code
    │   ├── Cancelled                 `mode cancel` in the grace period: CANCELLED (27)
    │   ├── AttemptInterrupted        a signal at a step boundary: rolled back, INTERRUPTED (28)
    │   ├── TuningFailed              a studio tuning step failed or did not verify
    │   ├── executor.StepFailed       a step missed its goal within its bound
    │   └── executor.Blocked          a guard step found a blocking verdict
    ├── simulator.world.WorldError    a simulated world that cannot do what was asked
    ├── simulator.plancheck.PlanError (ValueError)   a fault plan that is not well-formed
    ├── simulator.shards.SummaryError (ValueError)   shard summaries that are not one campaign
    └── simulator.unitgraph.GraphError (ValueError)  a unit graph the simulator cannot build

`StepFailed` and `Blocked` carry guard verdicts, so they are defined in `dubnium.executor`
(above `dubnium.guards`); this module sits below every layer and cannot name those types.
The simulator's errors belong to the simulator, which the domain never imports. The built-in
second base (ValueError, OSError) is kept where code catches the built-in around a parser or
a file read. `tests/unit/test_errors.py` keeps every exception class in `dubnium`,
`dubnium_app`, `backends` and `simulator` under the root, except the few it names with their
reason (a verb's exit, adapter-internal library errors, the simulator's kill and oracle).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (the recorded `mode current`)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class DubniumError(Exception):
    """Base of the errors Dubnium reports to the user as one clear line."""


class ConfigError(DubniumError, ValueError):
    """The configuration is missing or malformed; the message names the key."""


class BackendUnavailable(DubniumError):
    """The backend cannot be used at all (not the workstation, bus unreachable, no world)."""


class BackendError(DubniumError):
    """An action or read on the host failed.

    `temporary` errors (a timeout, a busy daemon) may succeed when retried within the bound
    of the step; permanent ones (no such unit, access denied) will not.
    """

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary


class StorageError(DubniumError):
    """A runtime state or audit write failed (disk full, I/O error, read-only filesystem,
    permission): nothing half-written was put in place; exit code 8."""


class StateCorrupt(DubniumError):
    """A state file (runtime state, simulated world) is truncated or not in our format."""


class LockBusy(DubniumError):
    """Another transition holds the lock."""

    def __init__(self, holder: Mapping[str, Any]) -> None:
        self.holder = dict(holder)
        who = f"pid {holder.get('pid', '?')}"
        target = holder.get("target", "?")
        since = holder.get("started_at", "?")
        super().__init__(f"another transition holds the lock ({who}, to {target}, since {since})")


class QueryError(DubniumError, ValueError):
    """A --since or --outcome the query cannot use (a usage error)."""


class JsonError(DubniumError, ValueError):
    """The bytes are not one strict, bounded JSON document; the message says why."""


class RecordUnreadable(DubniumError, ValueError):
    """A JSON object that is not a transition record of a known schema."""


class NotRegularFile(DubniumError, OSError):
    """A path that must be a regular file is a FIFO, device, directory, socket or link."""


class Interrupted(DubniumError):
    """Ctrl-C (SIGINT) during a verb's own work, raised by `dubnium.console.InterruptibleGroup`."""


class AttemptStop(DubniumError):
    """Ends a step or an attempt early; caught and recorded by `dubnium.attempt`."""


class Cancelled(AttemptStop):
    """`mode cancel` during the grace period: the attempt ends before the GUI goes."""

    def __init__(self, request: Mapping[str, object]) -> None:
        super().__init__(f"cancelled by {request.get('by', '?')} at "
                         f"{request.get('requested_at', '?')}")
        self.request = request


class AttemptInterrupted(AttemptStop):
    """A stop was requested (a signal); raised at a step boundary."""

    def __init__(self, signal: str) -> None:
        super().__init__(f"interrupted by {signal}")
        self.signal = signal


class TuningFailed(AttemptStop):
    """A studio tuning step could not be done or could not be verified."""
