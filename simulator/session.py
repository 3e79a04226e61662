"""The `mode` CLI's session on the simulated workstation (`dubnium.session.Session`).

Built by the composition root (`dubnium_app.compose`) for `--backend sim`. The world is the
one saved in the state directory (`simulator.persist`), loaded on first use and written
through at every action, so `mode` and `mode-sim` drive one machine. No root is needed and
nothing is handed off; the controller's generated files are written beside the world.

One policy: without `--config` the controller runs under the world's own policy; with
`--config X` the world runs under X too (`SimSession.open(..., policy=X)`), so a request
cannot "converge" by one policy while the world, by its own, is in another state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from dubnium import session
from dubnium.audit import DEFAULT_ROTATE_BYTES, FileAuditLog
from dubnium.backend import Backend
from dubnium.codes import ExitCode
from dubnium.facts import SessionFact
from dubnium.policy import Policy
from dubnium.policyload import load_policy
from dubnium.reconcile import Reporter
from dubnium.state import RuntimeState
from simulator.persist import SimSession

SIM_STATE_DIR = Path("~/.local/state/dubnium/sim").expanduser()


class SimulatedSession:
    """`mode --backend sim`: the world in `state_dir` (default ~/.local/state/dubnium/sim)."""

    name = "sim"
    simulated = True
    serves_recorded = False  # the virtual clock stands still between commands

    def __init__(self, state_dir: Path | None, config: Path | None) -> None:
        self.state_dir = state_dir if state_dir is not None else SIM_STATE_DIR
        self._config = config
        self._policy: Policy | None = None
        self._hold: SimSession | None = None

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            if self._config is not None:
                self._policy = load_policy(self._config)
            else:
                self._policy = self._world().policy
        return self._policy

    def _world(self) -> SimSession:
        if self._hold is None:
            wanted = self.policy if self._config is not None else None
            self._hold = SimSession.open(self.state_dir, policy=wanted)
        return self._hold

    @property
    def backend(self) -> Backend:
        return self._world().backend

    @property
    def runtime(self) -> RuntimeState:
        return session.runtime_in(self.state_dir)

    @property
    def audit(self) -> FileAuditLog:
        """Beside the world. Reading it needs no policy (its size bound matters to writers,
        which have loaded the world, and with it the policy, by then)."""
        loaded = self._hold is not None or self._policy is not None
        rotate = self.policy.audit.rotate_mib << 20 if loaded else DEFAULT_ROTATE_BYTES
        return FileAuditLog(self.state_dir / "events.jsonl", rotate)

    def wall_ns(self) -> int:
        return self.backend.clock.wall_ns()

    def may_record_current(self) -> bool:
        return True

    def require_root(self, verb: str) -> None:
        """Nothing: the simulated workstation is the caller's own."""

    def serve_current(self) -> int:
        """None here: the simulator's `mode current` observes its world in its own process."""
        raise session.VerbExit(
            ExitCode.USAGE, "mode current-server serves the live host only (--backend host)")

    @contextlib.contextmanager
    def mutating(self, verb: str) -> Iterator[None]:
        """The generated files beside the world. The world is written through by its backend
        at every call (a killed process leaves it half-done, as a machine); no lock is held
        across the verb."""
        self.runtime.write_generated(self.policy)
        yield

    def reporters(self) -> Sequence[Reporter]:
        """The step hook: faults added with `mode-sim fault add` that wait for a step."""
        return (self._world().step_hook(),)

    def windows(self, sessions: Iterable[SessionFact]) -> session.Windows:
        return "not listed (the simulated host has no compositor)"
