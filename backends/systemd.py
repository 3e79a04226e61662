"""systemd over D-Bus (pystemd): unit states, start/stop/isolate, runtime slice properties.

Called by `backends.host.HostBackend`. Unit states come from one `ListUnitsByNames` call;
slice settings from one `GetAll(org.freedesktop.systemd1.Slice)` per slice. Slice
properties are always set with runtime=true (never persisted). systemd reports "unset" as
UINT64_MAX for CPUWeight, IOWeight, CPUQuotaPerSecUSec, MemoryHigh and MemoryMax; that maps
to None in `SliceSettings`, and None is written back as UINT64_MAX (unset again). AllowedCPUs
is a byte mask (`dubnium.cpuset`); empty is no restriction, None in `SliceSettings`.

Errors: `systemd_errors()` is this adapter's edge: BusError → BackendError, permanent for
"no such unit" and refusals, temporary for a bus that is down or slow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from backends.bus import BusError, Connection, SystemBus, apply_signature, text
from dubnium import cpuset
from dubnium.errors import BackendError
from dubnium.facts import ActiveState, LoadState, SliceFact, SliceSettings, UnitFact, Units

DEST = b"org.freedesktop.systemd1"
PATH = b"/org/freedesktop/systemd1"
MANAGER = b"org.freedesktop.systemd1.Manager"
SLICE = b"org.freedesktop.systemd1.Slice"
# The cgroup properties (CPUWeight, IOWeight, ...) live on the interface of the unit's type:
# the owner's user@UID.service (issue 15) is read through Service, a session through Scope.
_INTERFACES = {"slice": SLICE, "service": b"org.freedesktop.systemd1.Service",
               "scope": b"org.freedesktop.systemd1.Scope"}
UNSET = (1 << 64) - 1  # systemd's "infinity"/"unset" for the uint64 cgroup properties
_MIB = 1 << 20
_USEC_PER_PERCENT = 10_000  # CPUQuotaPerSecUSec: 1 s of CPU per second = 100 %

_ACTIVE_ALIASES = {"refreshing": ActiveState.RELOADING, "maintenance": ActiveState.DEACTIVATING}


@contextmanager
def systemd_errors(what: str) -> Iterator[None]:
    """The adapter's edge: a failed bus call becomes BackendError(temporary=...)."""
    try:
        yield
    except BusError as exc:
        raise BackendError(f"systemd: {exc}", temporary=exc.temporary) from None


def parse_active(value: str) -> ActiveState:
    try:
        return ActiveState(value)
    except ValueError:
        # Unknown states are never read as active: a newer systemd's state is shown as
        # a transition, which the observer treats as not (yet) in any mode.
        return _ACTIVE_ALIASES.get(value, ActiveState.ACTIVATING)


def parse_load(value: str) -> LoadState:
    try:
        return LoadState(value)
    except ValueError:
        return LoadState.ERROR


def _setting(value: int, scale: int = 1) -> int | None:
    return None if value == UNSET else value // scale


def slice_settings_from_properties(props: dict[bytes, Any]) -> SliceSettings:
    """SliceSettings from the GetAll(Slice) dictionary (property name → value)."""
    quota = int(props.get(b"CPUQuotaPerSecUSec", UNSET))
    return SliceSettings(
        cpu_weight=_setting(int(props.get(b"CPUWeight", UNSET))),
        io_weight=_setting(int(props.get(b"IOWeight", UNSET))),
        cpu_quota_percent=None if quota == UNSET else round(quota / _USEC_PER_PERCENT),
        memory_high_mib=_setting(int(props.get(b"MemoryHigh", UNSET)), _MIB),
        memory_max_mib=_setting(int(props.get(b"MemoryMax", UNSET)), _MIB),
        allowed_cpus=cpuset.from_mask(bytes(props.get(b"AllowedCPUs", b""))),
    )


def slice_properties(settings: SliceSettings) -> list[tuple[bytes, bytes, object]]:
    """The (property, D-Bus signature, value) triples that apply `settings`; None resets to
    unset (uint64 infinity; an empty AllowedCPUs: every CPU)."""

    def raw(value: int | None, scale: int = 1) -> int:
        return UNSET if value is None else value * scale

    return [
        (b"CPUWeight", b"t", raw(settings.cpu_weight)),
        (b"IOWeight", b"t", raw(settings.io_weight)),
        (b"CPUQuotaPerSecUSec", b"t", raw(settings.cpu_quota_percent, _USEC_PER_PERCENT)),
        (b"MemoryHigh", b"t", raw(settings.memory_high_mib, _MIB)),
        (b"MemoryMax", b"t", raw(settings.memory_max_mib, _MIB)),
        (b"AllowedCPUs", b"ay", cpuset.to_mask(settings.allowed_cpus)),
    ]


def _property_args(triples: Sequence[tuple[bytes, bytes, object]]) -> list[Any]:
    # Built by hand: pystemd's property table lacks CPUWeight (its `_custom` escape takes
    # one property per dict).
    args: list[Any] = [(ord("a"), b"(sv)")]
    for name, signature, value in triples:
        args += [(ord("r"), b"sv"), (ord("s"), name), (ord("v"), signature)]
        args += apply_signature(signature, [value])
        args += [(-1, None), (-1, None)]
    args.append((-1, None))
    return args


class SystemdAdapter:
    """The systemd manager of one host, reached over `bus`."""

    def __init__(self, bus: SystemBus) -> None:
        self._bus = bus

    # ------------------------------------------------------------------ reading

    def read(
        self, unit_names: Iterable[str], slice_names: Iterable[str]
    ) -> tuple[Units, tuple[SliceFact, ...]]:
        """Unit states and slice settings in one connection. Raises BusError."""
        units = tuple(dict.fromkeys(unit_names))
        slices = tuple(dict.fromkeys(slice_names))
        with self._bus.connect("systemd") as conn:
            rows = conn.call(
                "systemd: ListUnitsByNames", DEST, PATH, MANAGER, b"ListUnitsByNames",
                apply_signature(b"as", [[n.encode() for n in units + slices]]),
            )
            facts: list[UnitFact] = []
            paths: dict[str, bytes] = {}
            for row in rows:
                name = text(row[0])
                paths[name] = row[6]
                facts.append(
                    UnitFact(name, parse_active(text(row[3])), parse_load(text(row[2])),
                             text(row[4]))
                )
            loaded = {f.name for f in facts if f.load is LoadState.LOADED}
            # A unit that is not loaded (the owner's user manager while nobody is logged
            # in) has no settings to read: it is left out, never read as defaults.
            slice_facts = tuple(
                SliceFact(name, self._read_slice(conn, name, paths[name]))
                for name in slices if name in loaded or name.endswith(".slice")
            )
        return Units(tuple(facts)), slice_facts

    def _read_slice(self, conn: Connection, name: str, path: bytes) -> SliceSettings:
        interface = _INTERFACES.get(name.rsplit(".", 1)[-1], SLICE)
        props = conn.get_all(f"systemd: properties of {name}", DEST, path, interface)
        return slice_settings_from_properties(props)

    def version(self) -> str:
        """systemd's Version property. Raises BusError."""
        with self._bus.connect("systemd") as conn:
            return text(conn.get("systemd: Version", DEST, PATH, MANAGER, b"Version", b"s"))

    # ------------------------------------------------------------------ actions

    def start(self, name: str, mode: str = "replace") -> None:
        self._job("StartUnit", name, mode)

    def stop(self, name: str) -> None:
        self._job("StopUnit", name, "replace")

    def isolate(self, target: str) -> None:
        self._job("StartUnit", target, "isolate")

    def kill(self, name: str, signal: int, whom: str = "all") -> None:
        """KillUnit: send `signal` to the unit's processes (`whom`: main, control or all)."""
        what = f"KillUnit {name} ({whom}, signal {signal})"
        with systemd_errors(what), self._bus.connect("systemd") as conn:
            conn.call(what, DEST, PATH, MANAGER, b"KillUnit",
                      apply_signature(b"ssi", [name.encode(), whom.encode(), signal]))

    def reset_failed(self, name: str) -> None:
        """ResetFailedUnit: a failed unit goes back to inactive."""
        what = f"ResetFailedUnit {name}"
        with systemd_errors(what), self._bus.connect("systemd") as conn:
            conn.call(what, DEST, PATH, MANAGER, b"ResetFailedUnit",
                      apply_signature(b"s", [name.encode()]))

    def _job(self, method: str, name: str, mode: str) -> None:
        what = f"{method} {name} ({mode})"
        with systemd_errors(what), self._bus.connect("systemd") as conn:
            conn.call(
                what, DEST, PATH, MANAGER, method.encode(),
                apply_signature(b"ss", [name.encode(), mode.encode()]),
            )

    def set_slice(self, name: str, settings: SliceSettings) -> None:
        """Apply all six properties at run time (runtime=true, never persistent)."""
        what = f"SetUnitProperties {name} (runtime)"
        with systemd_errors(what), self._bus.connect("systemd") as conn:
            args = apply_signature(b"sb", [name.encode(), True])
            args += _property_args(slice_properties(settings))
            conn.call(what, DEST, PATH, MANAGER, b"SetUnitProperties", args)
