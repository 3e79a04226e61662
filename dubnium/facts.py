"""Frozen facts about the host: what one observation saw.

Produced by a Backend (`backends/` for the live host, `simulator/` for the simulated one) and
read by the observer (`dubnium.observe`) and the guards (`dubnium.guards`). Every group of
evidence is either a value or `Unavailable(reason)`: evidence that could not be read (daemon
down, NVML absent, permission) is carried, never replaced by a guess.

Raw outside data becomes an object through a classmethod here (`AudioGraph.from_pw_dump`),
so parsing happens once, at the edge, and tests build objects rather than fake rows.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

import attrs

from dubnium import cpuset
from dubnium.studiofacts import AudioClock, CpuFreq

T = TypeVar("T")


@attrs.frozen
class Unavailable:
    """Evidence that could not be read, and why."""

    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"unavailable": self.reason}


class ActiveState(StrEnum):
    ACTIVE = "active"
    RELOADING = "reloading"
    INACTIVE = "inactive"
    FAILED = "failed"
    ACTIVATING = "activating"
    DEACTIVATING = "deactivating"


class LoadState(StrEnum):
    LOADED = "loaded"
    NOT_FOUND = "not-found"
    MASKED = "masked"
    ERROR = "error"
    BAD_SETTING = "bad-setting"


@attrs.frozen
class UnitFact:
    name: str
    active: ActiveState
    load: LoadState = LoadState.LOADED
    sub: str = ""

    @property
    def is_active(self) -> bool:
        return self.active in (ActiveState.ACTIVE, ActiveState.RELOADING)


@attrs.frozen
class Units:
    """The states of the units the controller cares about."""

    units: tuple[UnitFact, ...]
    # Built once: `get` is called tens of times per observation (a performance index only).
    _by_name: dict[str, UnitFact] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        by_name: dict[str, UnitFact] = {}
        for unit in self.units:
            by_name.setdefault(unit.name, unit)  # the first one wins, as the scan did
        object.__setattr__(self, "_by_name", by_name)

    def get(self, name: str) -> UnitFact:
        found = self._by_name.get(name)
        if found is not None:
            return found
        return UnitFact(name, ActiveState.INACTIVE, LoadState.NOT_FOUND)

    def is_active(self, name: str) -> bool:
        return self.get(name).is_active


@attrs.frozen
class SessionFact:
    """A logind session (org.freedesktop.login1.Session)."""

    id: str
    user: str
    type: str  # wayland, x11, tty, unspecified
    class_: str  # user, greeter, lock-screen, background
    state: str  # active, online, closing
    leader: int  # pid of the session leader (0 when unknown)
    active: bool = True

    @property
    def graphical(self) -> bool:
        return self.type in ("wayland", "x11") and self.state != "closing"


@attrs.frozen
class ProcessFact:
    pid: int
    comm: str
    uid: int
    runtime_s: float
    session_id: str = ""


@attrs.frozen
class AudioNode:
    """One node of the PipeWire graph."""

    id: int
    name: str
    media_class: str
    state: str  # running, idle, suspended, creating, error
    client_api: str = ""  # "jack" for JACK clients
    app_pid: int = 0
    app_name: str = ""

    @property
    def is_busy_stream(self) -> bool:
        return (
            self.media_class.startswith("Stream/")
            and "Audio" in self.media_class
            and self.state == "running"
        )

    @property
    def is_jack_client(self) -> bool:
        return self.client_api == "jack"


@attrs.frozen
class AudioGraph:
    nodes: tuple[AudioNode, ...] = ()

    @property
    def busy_streams(self) -> tuple[AudioNode, ...]:
        return tuple(n for n in self.nodes if n.is_busy_stream)

    @property
    def jack_clients(self) -> tuple[AudioNode, ...]:
        return tuple(n for n in self.nodes if n.is_jack_client)

    @classmethod
    def from_pw_dump(cls, objects: Iterable[Mapping[str, Any]]) -> AudioGraph:
        """Build the graph from the JSON array printed by `pw-dump -N`.

        Busy audio is a node whose media.class starts with `Stream/` and contains `Audio` and
        whose state is `running`, or any node with client.api == "jack" (JACK nodes carry no
        media.class). The application pid comes from the node's client object.
        """
        clients: dict[int, Mapping[str, Any]] = {}
        raw_nodes: list[Mapping[str, Any]] = []
        for obj in objects:
            if not isinstance(obj, Mapping):
                continue
            kind = obj.get("type", "")
            if kind == "PipeWire:Interface:Client":
                props = _props(obj)
                clients[int(obj.get("id", -1))] = props
            elif kind == "PipeWire:Interface:Node":
                raw_nodes.append(obj)
        nodes = []
        for obj in raw_nodes:
            props = _props(obj)
            info = obj.get("info") or {}
            client_props = clients.get(_int(props.get("client.id")), {})
            nodes.append(
                AudioNode(
                    id=_int(obj.get("id")),
                    name=str(props.get("node.name") or props.get("node.description") or ""),
                    media_class=str(props.get("media.class") or ""),
                    state=str(info.get("state") or ""),
                    client_api=str(props.get("client.api") or client_props.get("client.api") or ""),
                    app_pid=_int(
                        props.get("application.process.id")
                        or client_props.get("application.process.id")
                        or client_props.get("pipewire.sec.pid")
                    ),
                    app_name=str(
                        props.get("application.name") or client_props.get("application.name") or ""
                    ),
                )
            )
        return cls(tuple(nodes))


def _props(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    info = obj.get("info") or {}
    props = info.get("props") if isinstance(info, Mapping) else None
    return props if isinstance(props, Mapping) else {}


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return 0


class GpuProcessKind(StrEnum):
    GRAPHICS = "graphics"
    COMPUTE = "compute"


@attrs.frozen
class GpuProcess:
    pid: int
    name: str
    kind: GpuProcessKind
    used_mib: int | None = None  # NVML may not know per-process memory


@attrs.frozen
class GpuFact:
    index: int
    uuid: str
    name: str
    memory_used_mib: int
    memory_total_mib: int
    processes: tuple[GpuProcess, ...] = ()
    utilization_pct: int | None = None

    @property
    def graphics_processes(self) -> tuple[GpuProcess, ...]:
        return tuple(p for p in self.processes if p.kind is GpuProcessKind.GRAPHICS)

    @property
    def compute_processes(self) -> tuple[GpuProcess, ...]:
        return tuple(p for p in self.processes if p.kind is GpuProcessKind.COMPUTE)

    @property
    def memory_free_mib(self) -> int:
        return max(0, self.memory_total_mib - self.memory_used_mib)


@attrs.frozen
class LoadFact:
    load1: float
    load5: float
    load15: float
    cpus: int

    @property
    def per_core(self) -> float:
        return self.load1 / max(1, self.cpus)


@attrs.frozen
class MemoryFact:
    total_mib: int
    available_mib: int


@attrs.frozen
class PressureFact:
    """PSI `some avg10` percentages; None where the kernel has no PSI."""

    cpu_some_avg10: float | None = None
    memory_some_avg10: float | None = None
    io_some_avg10: float | None = None


@attrs.frozen
class SliceSettings:
    """Runtime resource settings of one slice; None means unset (the systemd default)."""

    cpu_weight: int | None = None
    io_weight: int | None = None
    cpu_quota_percent: int | None = None
    memory_high_mib: int | None = None
    memory_max_mib: int | None = None
    allowed_cpus: str | None = None  # canonical CPU list ("0-3,6"); None: no restriction

    def items(self) -> tuple[tuple[str, Any], ...]:
        """(setting, value) in declaration order: `attrs.asdict(self).items()`, cheaply
        (the observer and the executor compare slices at every step)."""
        return tuple(zip(_SLICE_SETTINGS, _slice_values(self), strict=True))

    def to_json(self) -> dict[str, int | str | None]:
        return dict(self.items())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SliceSettings:
        fields = {f.name for f in attrs.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown slice setting(s): {', '.join(sorted(unknown))}")
        cpus = data.get("allowed_cpus")
        if cpus is not None and (not isinstance(cpus, str) or cpuset.canonical(cpus) != cpus):
            raise ValueError(f"allowed_cpus: expected a canonical CPU list or null, got {cpus!r}")
        values: dict[str, int | None] = {}
        for name in fields - {"allowed_cpus"}:
            value = data.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"{name}: expected an integer or null, got {value!r}")
            values[name] = value
        return cls(**values, allowed_cpus=cpus)


_SLICE_SETTINGS = tuple(f.name for f in attrs.fields(SliceSettings))
_slice_values = operator.attrgetter(*_SLICE_SETTINGS)  # every setting's value, in order


@attrs.frozen
class SliceFact:
    name: str
    settings: SliceSettings


@attrs.frozen
class PathFact:
    """Readiness of one persistence path (model store, audit directory, state directory)."""

    path: str
    exists: bool
    writable: bool
    free_mib: int | None = None


@attrs.frozen
class ModelFact:
    """The configured vLLM model on local disk: `present` when its directory holds a
    config.json and at least one weights file (docs/runbooks/model-seeding.md)."""

    path: str
    present: bool
    weight_files: int = 0
    size_mib: int = 0


@attrs.frozen
class VllmProfile:
    """Where vLLM runs: written to its EnvironmentFile before vllm.service starts."""

    name: str  # "compute", "degraded" or "off"
    gpu_uuids: tuple[str, ...] = ()
    gpu_indices: tuple[int, ...] = ()

    @property
    def tensor_parallel_size(self) -> int:
        return max(1, len(self.gpu_uuids))

    def to_env(self) -> str:
        return (
            f"DUBNIUM_VLLM_PROFILE={self.name}\n"
            f"CUDA_VISIBLE_DEVICES={','.join(self.gpu_uuids)}\n"
            f"DUBNIUM_TENSOR_PARALLEL_SIZE={self.tensor_parallel_size}\n"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "gpu_uuids": list(self.gpu_uuids),
            "gpu_indices": list(self.gpu_indices),
            "tensor_parallel_size": self.tensor_parallel_size,
        }


@attrs.frozen
class HostFacts:
    """One snapshot of everything the observer and the guards read."""

    observed_at_ns: int
    boot_id: str
    units: Units | Unavailable
    sessions: tuple[SessionFact, ...] | Unavailable
    processes: tuple[ProcessFact, ...] | Unavailable
    audio: AudioGraph | Unavailable
    gpus: tuple[GpuFact, ...] | Unavailable
    load: LoadFact | Unavailable
    memory: MemoryFact | Unavailable
    pressure: PressureFact | Unavailable
    slices: tuple[SliceFact, ...] | Unavailable
    paths: tuple[PathFact, ...] | Unavailable
    vllm_profile: VllmProfile | Unavailable | None = None
    # None: no model to check (vLLM disabled)
    model: ModelFact | Unavailable | None = None
    # Studio-local knobs (issue 15): None where the backend does not read them.
    audio_clock: AudioClock | Unavailable | None = None
    cpufreq: CpuFreq | Unavailable | None = None
    # When `gpus` comes from an earlier reading (NVML is left alone while studio-local is
    # in force): the wall time of that reading. None: read during this observation.
    gpus_read_at_ns: int | None = None

    @property
    def gpus_age_s(self) -> float | None:
        """How old the GPU facts are, in seconds; None when they were read now."""
        if self.gpus_read_at_ns is None:
            return None
        return max(0.0, (self.observed_at_ns - self.gpus_read_at_ns) / 1e9)

    def slice_settings(self) -> dict[str, SliceSettings] | Unavailable:
        if isinstance(self.slices, Unavailable):
            return self.slices
        return {s.name: s.settings for s in self.slices}

    def unavailable(self) -> dict[str, str]:
        """Which groups of evidence could not be read, with the reason."""
        out = {}
        for field in attrs.fields(HostFacts):
            value = getattr(self, field.name)
            if isinstance(value, Unavailable):
                out[field.name] = value.reason
        return out


def available(value: T | Unavailable) -> T | None:
    """The value, or None when it is Unavailable (for optional evidence)."""
    return None if isinstance(value, Unavailable) else value
