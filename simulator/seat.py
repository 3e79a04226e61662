"""The simulated seat's idle side: logind idle hints, inhibitor locks, console keys, and the
owner's exclusive applications (a game, REAPER...).

Owned by `simulator.world.World` as `world.seat`; read by `SimBackend.idle_facts()` as
`dubnium.idle.IdleFacts`. Driven by the Gherkin steps, `mode-sim idle ...` and the automation
campaign through the methods here, which record each change in the world's trace like the
rest of the world API. What it models, as logind does: a session's IdleHint is set by the
compositor's idle daemon (hypridle/swayidle) and cleared by input in that session; a new
session starts not idle with IdleSinceHint 0 ("never set"); inhibitor locks are held by a
process (`systemd-inhibit --what=idle sleep 600`); a key on a console tty updates that
tty's access time, which the real backend reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from dubnium.idle import IdleFacts, Inhibitor, SessionIdle
from simulator import jsonutil
from simulator.processes import OWNER_UID, ProcessRole

if TYPE_CHECKING:
    from simulator.world import World

INHIBIT_COMM = "systemd-inhibit"


@attrs.frozen
class SimInhibitor:
    what: tuple[str, ...]
    who: str
    why: str
    mode: str = "block"
    uid: int = OWNER_UID
    pid: int = 0


@attrs.frozen
class Hint:
    idle: bool
    since_ns: int  # virtual time the hint last changed


class Seat:
    """Idle hints by session id, inhibitor locks, the last console key."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.hints: dict[str, Hint] = {}
        self.inhibitors: list[SimInhibitor] = []
        self.console_key_ns: int | None = None

    def _error(self, message: str) -> Exception:
        from simulator.world import WorldError

        return WorldError(message)

    def _graphical(self) -> list[str]:
        return [s.id for s in self.world.logind.sessions.values()
                if s.type in ("wayland", "x11") and s.state != "closing"]

    # ------------------------------------------------------------------ world API

    def set_idle_hint(self, idle: bool, session_id: str | None = None) -> list[str]:
        """The idle daemon sets (or input clears) IdleHint: one session, or every graphical one."""
        w = self.world
        if session_id is not None and session_id not in w.logind.sessions:
            raise self._error(f"no session {session_id!r}")
        ids = [session_id] if session_id is not None else self._graphical()
        if not ids:
            raise self._error("no graphical session to set an idle hint on")
        w.change("set_idle_hint", {"idle": idle, "session": session_id or ""})
        for sid in ids:
            old = self.hints.get(sid)
            if old is None or old.idle != idle:
                self.hints[sid] = Hint(idle, w.now_ns)
        return ids

    def take_inhibitor(self, what: str = "idle", who: str = "systemd-inhibit",
                       why: str = "", mode: str = "block") -> int:
        """A process takes an inhibitor lock (`what` like logind's: "idle:sleep"); its pid."""
        kinds = tuple(k for k in what.split(":") if k)
        if not kinds or mode not in ("block", "delay"):
            raise self._error("an inhibitor needs a kind (idle, sleep, ...) and mode block|delay")
        w = self.world
        w.change("take_inhibitor", {"what": what, "who": who, "why": why, "mode": mode})
        pid = w.processes.spawn(INHIBIT_COMM, ProcessRole.APP, w.now_ns).pid
        self.inhibitors.append(SimInhibitor(kinds, who, why, mode, OWNER_UID, pid))
        return pid

    def release_inhibitor(self, who: str) -> None:
        """Every lock `who` holds is released (its process exits)."""
        held = [x for x in self.inhibitors if x.who == who]
        if not held:
            raise self._error(f"no inhibitor held by {who!r}")
        w = self.world
        w.change("release_inhibitor", {"who": who})
        self.inhibitors = [x for x in self.inhibitors if x.who != who]
        for lock in held:
            w.wiring.exit_pid(lock.pid)

    def press_key(self) -> None:
        """Someone touches the keyboard at the seat: the console's tty sees the key, and every
        graphical session's idle hint is cleared (its compositor sees the input)."""
        w = self.world
        w.change("press_key", {})
        self.console_key_ns = w.now_ns
        for sid in self._graphical():
            if self.hints.get(sid, Hint(False, 0)).idle:
                self.hints[sid] = Hint(False, w.now_ns)

    def start_app(self, comm: str) -> int:
        """An application starts (an exclusive one, if the policy lists it): its pid."""
        w = self.world
        w.change("start_app", {"comm": comm})
        return w.processes.spawn(comm, ProcessRole.APP, w.now_ns,
                                 session_id=w.wiring.owner_session()).pid

    def stop_app(self, comm: str) -> None:
        w = self.world
        running = [p for p in w.processes.by_role(ProcessRole.APP)
                   if p.comm == comm[:15] and p.comm != INHIBIT_COMM]
        if not running:
            raise self._error(f"no application {comm!r} is running")
        w.change("stop_app", {"comm": comm})
        for process in running:
            w.wiring.exit_pid(process.pid)

    # ------------------------------------------------------------------ observation

    def facts(self) -> IdleFacts:
        w = self.world
        wall = w.wall_epoch_ns
        sessions = []
        for s in w.logind.sessions.values():
            hint = self.hints.get(s.id)
            sessions.append(SessionIdle(
                id=s.id, user=s.user, type=s.type, class_=s.class_, state=s.state,
                idle_hint=hint.idle if hint else False,
                idle_since_ns=wall + hint.since_ns if hint else 0,
            ))
        live = {p.pid for p in w.processes.by_role(ProcessRole.APP)}
        inhibitors = tuple(Inhibitor(x.what, x.who, x.why, x.mode, x.uid, x.pid)
                           for x in self.inhibitors if x.pid in live)
        key = None if self.console_key_ns is None else wall + self.console_key_ns
        return IdleFacts(tuple(sessions), inhibitors, key)

    def clear(self) -> None:
        """A reboot: every session, lock and key is gone."""
        self.hints.clear()
        self.inhibitors.clear()
        self.console_key_ns = None

    def to_json(self) -> dict[str, Any]:
        return {
            "hints": {sid: jsonutil.to_json(h) for sid, h in self.hints.items()},
            "inhibitors": [jsonutil.to_json(x) for x in self.inhibitors],
            "console_key_ns": self.console_key_ns,
        }

    def load_json(self, data: Any) -> None:
        self.hints = {str(k): jsonutil.from_json(Hint, v) for k, v in data["hints"].items()}
        self.inhibitors = [jsonutil.from_json(SimInhibitor, x) for x in data["inhibitors"]]
        key = data["console_key_ns"]
        if key is not None and (isinstance(key, bool) or not isinstance(key, int)):
            raise ValueError("seat.console_key_ns: expected an integer or null")
        self.console_key_ns = key
