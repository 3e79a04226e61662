"""logind's idle side over D-Bus (pystemd), and the console's last key: `IdleFacts`.

Called by `backends.host.HostBackend.idle_facts()` (the `dubnium.idle.IdleSource` of the live
host). One connection: `ListSessions`, then `GetAll(org.freedesktop.login1.Session)` per
session for IdleHint, IdleSinceHint (CLOCK_REALTIME microseconds; 0 = never set), Seat and
Remote, and `ListInhibitors` for the locks (what, who, why, mode, uid, pid). The console's
last key is the newest access time of /dev/tty1..tty12 (the kernel moves a tty's atime on
input, which is how `w` computes idle time), read under the host's root. Each group that
cannot be read is `Unavailable(reason)`; this module is the edge for its BusError and OSError.
"""

from __future__ import annotations

import os
from pathlib import Path

from backends.bus import BusError, Connection, SystemBus, text
from backends.logind import DEST, MANAGER, PATH, SESSION
from dubnium.facts import Unavailable
from dubnium.idle import IdleFacts, Inhibitor, SessionIdle

CONSOLE_TTYS = tuple(f"tty{n}" for n in range(1, 13))


class LogindIdle:
    """Idle hints and inhibitor locks of one host's logind; its console ttys."""

    def __init__(self, bus: SystemBus, fs_root: Path = Path("/")) -> None:
        self._bus = bus
        self._fs_root = fs_root

    def read(self) -> IdleFacts:
        sessions: tuple[SessionIdle, ...] | Unavailable
        inhibitors: tuple[Inhibitor, ...] | Unavailable
        try:
            with self._bus.connect("logind idle") as conn:
                try:
                    sessions = self._sessions(conn)
                except BusError as exc:
                    sessions = Unavailable(f"logind: {exc}")
                try:
                    inhibitors = self._inhibitors(conn)
                except BusError as exc:
                    inhibitors = Unavailable(f"logind: {exc}")
        except BusError as exc:
            sessions = inhibitors = Unavailable(f"logind: {exc}")
        return IdleFacts(sessions, inhibitors, self.console_input_ns())

    def _sessions(self, conn: Connection) -> tuple[SessionIdle, ...]:
        out = []
        for row in conn.call("logind: ListSessions", DEST, PATH, MANAGER, b"ListSessions"):
            sid = text(row[0])
            try:
                props = conn.get_all(f"logind: session {sid}", DEST, row[4], SESSION)
            except BusError as exc:
                if exc.name.endswith(".UnknownObject"):
                    continue  # ended between the two calls
                raise
            seat = props.get(b"Seat", (b"", b""))
            since_us = int(props.get(b"IdleSinceHint", 0))
            out.append(SessionIdle(
                id=sid,
                user=text(props.get(b"Name", row[2])),
                type=text(props.get(b"Type", b"")),
                class_=text(props.get(b"Class", b"")),
                state=text(props.get(b"State", b"")),
                seat=text(seat[0]) if isinstance(seat, tuple | list) and seat else "",
                remote=bool(props.get(b"Remote", False)),
                idle_hint=bool(props.get(b"IdleHint", False)),
                idle_since_ns=since_us * 1000,
            ))
        return tuple(sorted(out, key=lambda s: (len(s.id), s.id)))

    def _inhibitors(self, conn: Connection) -> tuple[Inhibitor, ...]:
        rows = conn.call("logind: ListInhibitors", DEST, PATH, MANAGER, b"ListInhibitors")
        return tuple(
            Inhibitor(
                what=tuple(k for k in text(what).split(":") if k),
                who=text(who), why=text(why), mode=text(mode), uid=int(uid), pid=int(pid),
            )
            for what, who, why, mode, uid, pid in rows
        )

    def console_input_ns(self) -> int | Unavailable | None:
        """The newest access time of the console ttys (None: no console tty here)."""
        newest: int | None = None
        for name in CONSOLE_TTYS:
            try:
                atime = os.stat(self._fs_root / "dev" / name).st_atime_ns
            except FileNotFoundError:
                continue
            except OSError as exc:
                return Unavailable(f"/dev/{name}: {exc.strerror}")
            newest = atime if newest is None else max(newest, atime)
        return newest
