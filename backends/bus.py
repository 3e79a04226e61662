"""The system bus, shared by the systemd and logind adapters, and its error edge.

Called by `backends.systemd` and `backends.logind`. A connection is opened per batch of
calls (one `observe()`, one action) and closed after it, so a restarted dbus-daemon never
leaves a stale connection behind; opening costs well under a millisecond. pystemd's errors
are translated here, once, into `BusError`, which each adapter turns into `BackendError`
(actions) or `Unavailable` (observation).

Calls are bounded by sd-bus's method-call timeout (25 s by default; `SYSTEMD_BUS_TIMEOUT`
in the environment overrides it).
"""

from __future__ import annotations

import errno
import importlib.util
import os
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any


def _pystemd_package_without_init() -> None:
    """Make `pystemd.dbuslib` importable without running pystemd's package `__init__`.

    That `__init__` imports pystemd's high-level unit classes, which import lxml (about
    20 ms at every `mode` start); the two compiled D-Bus modules used here need none of it.
    The package is registered with its real search path, so any later
    `import pystemd.<submodule>` still works; a program that imported pystemd first keeps
    its full package.
    """
    if "pystemd" in sys.modules:
        return
    spec = importlib.util.find_spec("pystemd")
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed: the import below reports it
    package = types.ModuleType("pystemd")
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    sys.modules["pystemd"] = package


_pystemd_package_without_init()

from pystemd.dbusexc import DBusBaseError  # noqa: E402
from pystemd.dbuslib import DBus, DBusAddress, apply_signature  # noqa: E402

__all__ = ["BusError", "Connection", "SystemBus", "apply_signature", "text", "translate"]

PROPERTIES = b"org.freedesktop.DBus.Properties"

# Errors after which a retry within the step's bound may succeed.
_TEMPORARY_ERRNOS = {
    errno.ECONNREFUSED, errno.ENOENT, errno.ETIMEDOUT, errno.ECONNRESET, errno.EPIPE,
    errno.ENOTCONN, errno.EAGAIN, errno.EHOSTDOWN, errno.ESHUTDOWN,
}
_TEMPORARY_NAMES = (
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Timeout",
    "org.freedesktop.DBus.Error.TimedOut",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.NoServer",
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
)


class BusError(Exception):
    """One failed bus operation: what was attempted, the D-Bus error name, and the text."""

    def __init__(self, what: str, name: str, text: str, *, temporary: bool) -> None:
        self.what = what
        self.name = name
        self.text = text
        self.temporary = temporary
        super().__init__(str(self))

    def __str__(self) -> str:
        name = f" ({self.name})" if self.name else ""
        return f"{self.what}: {self.text}{name}"


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def translate(exc: DBusBaseError, what: str) -> BusError:
    """pystemd's exception as a BusError (the only place pystemd errors are read)."""
    number = abs(int(getattr(exc, "errno", 0) or 0))
    name = _text(getattr(exc, "err_name", b"") or b"")
    # pystemd blanks err_name on its named subclasses; the class carries it instead.
    if not name and type(exc).__name__ == "DBusNoSuchUnitError":
        name = "org.freedesktop.systemd1.NoSuchUnit"
    message = _text(getattr(exc, "err_message", b"") or b"")
    if not message:
        message = errno.errorcode.get(number, "error") if number else type(exc).__name__
        message = f"{message} ({os.strerror(number)})" if number else message
    temporary = name in _TEMPORARY_NAMES or (not name and number in _TEMPORARY_ERRNOS)
    return BusError(what, name, message, temporary=temporary)


class SystemBus:
    """Opens connections to one system bus: the default one, or an explicit address.

    `address` is a D-Bus address such as
    `unix:path=/proc/<pid>/root/run/dbus/system_bus_socket` (the test host's bus, reached
    from the host PID namespace); None means the default system bus.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    @contextmanager
    def connect(self, what: str) -> Iterator[Connection]:
        """A fresh connection for a batch of calls; any pystemd error becomes BusError."""
        bus: DBus = (
            DBusAddress(self.address.encode(), False) if self.address else DBus()
        )
        try:
            try:
                bus.open()
            except DBusBaseError as exc:
                raise translate(exc, f"{what}: cannot connect to the system bus") from None
            yield Connection(bus)
        finally:
            with suppress(DBusBaseError):
                bus.close()


class Connection:
    """One open connection: typed wrappers over pystemd's call_method."""

    def __init__(self, bus: DBus) -> None:
        self._bus = bus

    def call(
        self,
        what: str,
        destination: bytes,
        path: bytes,
        interface: bytes,
        method: bytes,
        args: Sequence[Any] = (),
    ) -> Any:
        try:
            return self._bus.call_method(destination, path, interface, method, list(args)).body
        except DBusBaseError as exc:
            raise translate(exc, what) from None

    def get_all(self, what: str, destination: bytes, path: bytes, interface: bytes) -> Any:
        return self.call(
            what, destination, path, PROPERTIES, b"GetAll", apply_signature(b"s", [interface])
        )

    def get(
        self, what: str, destination: bytes, path: bytes, interface: bytes, name: bytes,
        signature: bytes,
    ) -> Any:
        try:
            return self._bus.get_property(destination, path, interface, name, signature)
        except DBusBaseError as exc:
            raise translate(exc, what) from None


def text(value: object) -> str:
    """A D-Bus string (bytes from pystemd) as str."""
    return _text(value)
