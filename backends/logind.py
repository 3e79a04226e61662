"""logind over D-Bus (pystemd): sessions with type, class, state, leader; TerminateSession.

Called by `backends.host.HostBackend`. One `ListSessions` call, then one
`GetAll(org.freedesktop.login1.Session)` per session. `logind_errors()` is this adapter's
edge: BusError → BackendError (an unknown session is permanent; a bus that is down is
temporary).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from backends.bus import BusError, SystemBus, apply_signature, text
from dubnium.errors import BackendError
from dubnium.facts import SessionFact

DEST = b"org.freedesktop.login1"
PATH = b"/org/freedesktop/login1"
MANAGER = b"org.freedesktop.login1.Manager"
SESSION = b"org.freedesktop.login1.Session"


@contextmanager
def logind_errors(what: str) -> Iterator[None]:
    """The adapter's edge: a failed bus call becomes BackendError(temporary=...)."""
    try:
        yield
    except BusError as exc:
        raise BackendError(f"logind: {exc}", temporary=exc.temporary) from None


class LogindAdapter:
    """logind of one host, reached over `bus`."""

    def __init__(self, bus: SystemBus) -> None:
        self._bus = bus

    def read(self) -> tuple[tuple[SessionFact, ...], dict[str, int]]:
        """Every session logind knows (sorted by id), and each session's uid.

        Raises BusError.
        """
        out = []
        uids: dict[str, int] = {}
        with self._bus.connect("logind") as conn:
            rows = conn.call("logind: ListSessions", DEST, PATH, MANAGER, b"ListSessions")
            for row in rows:
                sid = text(row[0])
                uids[sid] = int(row[1])
                try:
                    props = conn.get_all(f"logind: session {sid}", DEST, row[4], SESSION)
                except BusError as exc:
                    if exc.name.endswith(".UnknownObject"):
                        continue  # ended between the two calls
                    raise
                out.append(
                    SessionFact(
                        id=sid,
                        user=text(props.get(b"Name", row[2])),
                        type=text(props.get(b"Type", b"")),
                        class_=text(props.get(b"Class", b"")),
                        state=text(props.get(b"State", b"")),
                        leader=int(props.get(b"Leader", 0)),
                        active=bool(props.get(b"Active", False)),
                    )
                )
        return tuple(sorted(out, key=lambda s: (len(s.id), s.id))), uids

    def terminate(self, session_id: str) -> None:
        what = f"TerminateSession {session_id}"
        with logind_errors(what), self._bus.connect("logind") as conn:
            conn.call(
                what, DEST, PATH, MANAGER, b"TerminateSession",
                apply_signature(b"s", [session_id.encode()]),
            )
