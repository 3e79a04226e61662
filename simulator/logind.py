"""The simulated logind: sessions, their leaders, and how they end.

Owned by `simulator.world.World` (which starts the display manager's autologin session and
ends sessions' processes when they close); read by `SimBackend.observe()` as `SessionFact`s.
`terminate` puts a session in `closing`; the world removes it after its behaviour's exit delay
(or never, for the fault "a session that never exits"). An unknown id is refused the way
logind refuses it (org.freedesktop.login1.NoSuchSession).
"""

from __future__ import annotations

from typing import Any

import attrs

from dubnium.errors import BackendError
from dubnium.facts import SessionFact
from simulator import jsonutil

SESSION_EXIT = "session_exit"  # the event kind of a closing session going away


@attrs.frozen
class SessionBehaviour:
    """How a session ends once asked to: after `exit_delay_s`, or never."""

    exit_delay_s: float = 1.0
    never_exits: bool = False


@attrs.define
class Session:
    id: str
    user: str
    uid: int
    type: str  # wayland, x11, tty
    class_: str  # user, greeter
    state: str = "active"  # active, online, closing
    leader: int = 0
    active: bool = True
    owner_unit: str = ""  # the unit that started it (the display manager), "" for others
    behaviour: SessionBehaviour = SessionBehaviour()


class Logind:
    """The sessions, by id."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.next_id = 1
        self._facts: tuple[SessionFact, ...] | None = None

    def new_id(self) -> str:
        session_id = str(self.next_id)
        self.next_id += 1
        return session_id

    def add(self, session: Session) -> None:
        if session.id in self.sessions:
            raise ValueError(f"session {session.id} exists")
        self.sessions[session.id] = session
        self._facts = None

    def get(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise BackendError(f"No session '{session_id}' known")
        return session

    def remove(self, session_id: str) -> Session | None:
        self._facts = None
        return self.sessions.pop(session_id, None)

    def changed(self) -> None:
        self._facts = None

    def facts(self) -> tuple[SessionFact, ...]:
        if self._facts is None:
            self._facts = tuple(
                SessionFact(s.id, s.user, s.type, s.class_, s.state, s.leader, s.active)
                for s in self.sessions.values()
            )
        return self._facts

    def to_json(self) -> dict[str, Any]:
        return {
            "next_id": self.next_id,
            "sessions": [jsonutil.to_json(s) for s in self.sessions.values()],
        }

    @classmethod
    def from_json(cls, data: Any) -> Logind:
        logind = cls()
        logind.next_id = int(data["next_id"])
        for raw in data["sessions"]:
            logind.add(jsonutil.from_json(Session, raw))
        return logind
