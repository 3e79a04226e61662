"""The policy: Dubnium's configuration, loaded from one schema-versioned JSON file.

The NixOS module writes `/etc/dubnium/config.json` (nixos/modules/dubnium/state.nix) in this
schema; the CLI loads it here; the simulator embeds `default_policy()` when no workstation
is present. Validation is strict and precise: an error names the key and what was expected.
Called by the CLI (composition root); the rest of the domain receives a `Policy` value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from dubnium import cpuset, fsutil, strictjson
from dubnium.codes import GUARD_IDS
from dubnium.configread import Reader as _Reader
from dubnium.configread import absolute_path as _absolute_path
from dubnium.configread import boolean as _bool
from dubnium.configread import choice as _choice
from dubnium.configread import integer as _int
from dubnium.configread import kind as _kind
from dubnium.configread import list_of as _list
from dubnium.configread import number as _number
from dubnium.configread import optional_int as _optional_int
from dubnium.configread import string as _str
from dubnium.configread import unit_name as _unit
from dubnium.errors import ConfigError
from dubnium.facts import SliceSettings
from dubnium.modes import Mode

SCHEMA_VERSION = 1
CONFIG_LIMIT = 1024 * 1024
DEFAULT_CONFIG_PATH = Path("/etc/dubnium/config.json")
SLICES = ("interactive.slice", "ai.slice", "platform.slice")

T = TypeVar("T")


@attrs.frozen
class Hardware:
    present_gpus: tuple[int, ...] = (0, 1)
    display_gpu: int = 0
    compute_gpus: tuple[int, ...] = (0, 1)
    planned_gpu_count: int = 2

    @property
    def non_display_compute_gpus(self) -> tuple[int, ...]:
        return tuple(g for g in self.compute_gpus if g != self.display_gpu)


@attrs.frozen
class Placement:
    """Where each capability lives: on this host ("local") or elsewhere ("remote")."""

    studio: str = "local"
    compute: str = "local"


@attrs.frozen
class UnitNames:
    desktop_target: str = "desktop.target"
    compute_target: str = "compute.target"
    graphical_target: str = "graphical.target"
    display_manager: str = "display-manager.service"
    studio_policy: str = "studio-local-policy.service"
    audio_priority: str = "audio-priority.service"
    vllm: str = "vllm.service"
    k3s: str = "k3s.service"
    exo: str = "exo.service"

    def all(self) -> tuple[str, ...]:
        return tuple(attrs.astuple(self))


@attrs.frozen
class Vllm:
    enable: bool = True
    model: str = "Qwen/Qwen2.5-Coder-14B-Instruct"
    extra_args: tuple[str, ...] = ()
    memory_per_gpu_mib: int = 20480  # what one vLLM shard needs on its GPU
    profile_path: str = "/run/mode-controller/vllm-profile.env"


@attrs.frozen
class Exo:
    """EXO as a compute workload (issue 6): off unless the module enables it."""

    enable: bool = False
    gpu_share: str = "shared"  # "shared": EXO and vLLM on the same compute GPUs; "split"
    memory_per_gpu_mib: int = 2048  # what EXO's shard needs on each of its GPUs
    profile_path: str = "/run/mode-controller/exo-profile.env"


@attrs.frozen
class Thresholds:
    cpu_load_per_core_max: float = 0.85
    memory_available_min_mib: int = 4096
    user_job_min_runtime_s: int = 600
    user_job_names: tuple[str, ...] = (
        "cargo", "rustc", "make", "ninja", "cmake", "gcc", "cc1", "cc1plus", "clang",
        "go", "nix-build", "nix-daemon-build", "pytest", "bazel", "gradle", "mvn",
    )
    model_store_free_min_mib: int = 1024
    soft: tuple[str, ...] = ()  # guard ids downgraded from hard (block) to soft (warn)


@attrs.frozen
class GpuRelease:
    timeout_s: float = 30.0
    poll_interval_s: float = 0.5
    residual_threshold_mib: int = 256
    degraded_residual_max_mib: int = 1024


@attrs.frozen
class Timeouts:
    unit_start_s: float = 90.0
    unit_stop_s: float = 90.0
    session_exit_s: float = 15.0
    vllm_ready_s: float = 300.0
    graphical_ready_s: float = 60.0
    kill_s: float = 15.0  # after SIGKILL to a unit whose stop hung (KillUnit), until it is down
    lock_stale_s: float = 900.0
    # `mode current` serves the recorded observation (current.json) while it is younger.
    current_max_age_s: float = 5.0
    # Before the GUI goes: the owner's time to save or `mode cancel` (0: no grace period).
    grace_s: float = 30.0
    countdown_every_s: float = 10.0  # a countdown notification this often during the grace
    action_tries: int = 3  # a backend action that fails temporarily is tried this often
    action_retry_spacing_s: float = 0.5  # between two tries


@attrs.frozen
class ProcessNames:
    compositor: tuple[str, ...] = ("Hyprland", "hyprland", "sway", "gnome-shell", "kwin_wayland")
    reaper: tuple[str, ...] = ("reaper", "REAPER")
    jack: tuple[str, ...] = ("jackd", "jackdbus")


@attrs.frozen
class Idle:
    """Idle automation (`mode idle`, dubnium.idle): when to request compute by itself."""

    enable: bool = False
    after_s: float = 1800.0  # every idle condition held this long
    cooldown_s: float = 3600.0  # no promotion this long after a return to desktop
    poll_interval_s: float = 30.0
    inhibitor_kinds: tuple[str, ...] = ("idle", "sleep")  # logind "what" kinds that block
    exclusive_apps: tuple[str, ...] = ()  # process names (comm) that block
    load_per_core_max: float = 0.5
    windows: tuple[str, ...] = ()  # "HH:MM-HH:MM" (local time; may wrap midnight); () = always
    days: tuple[str, ...] = ()  # mon..sun; () = every day
    timezone: str = "UTC"
    wake_on: tuple[str, ...] = ("key", "login", "command")


@attrs.frozen
class Paths:
    state_dir: str = "/run/mode-controller"
    audit_log: str = "/var/lib/mode-controller/events.jsonl"
    model_store: str = "/var/lib/dubnium/models"


@attrs.frozen
class Studio:
    """What studio-local does for audio beyond the slices (issue 15); `studio` in the config.

    `audio_units` (the owner's user manager and the user slice, as systemd names them) get
    `audio_weight` in studio-local and are restored exactly on exit, with the slices (they are
    merged into `Policy.slices`); `quantum`/`rate` are forced through PipeWire's `settings`
    metadata of user `audio_uid` (null: left alone); `governor` (and `epp` where the driver
    has one) is set on every cpufreq policy (null: left alone); `audio_cpus` (a CPU list,
    null: none reserved) becomes the audio units' AllowedCPUs in studio-local, and the
    loader requires ai.slice and platform.slice to be kept off those CPUs there; while
    studio-local is in force the observer refreshes at most every `observe_backoff_s` and
    never reads NVML.
    """

    audio_uid: int = 1000
    audio_user: str = "owner"
    audio_units: tuple[str, ...] = ("user.slice", "user@1000.service")
    audio_weight: SliceSettings = attrs.field(
        factory=lambda: SliceSettings(cpu_weight=1000, io_weight=1000))
    quantum: int | None = 64
    rate: int | None = None
    governor: str | None = "performance"
    epp: str | None = "performance"
    observe_backoff_s: float = 600.0
    audio_cpus: str | None = None


def _with_audio_units(
    slices: Mapping[Mode, Mapping[str, SliceSettings]], studio: Studio
) -> dict[Mode, dict[str, SliceSettings]]:
    """The slice map with the audio units added: raised in studio-local, unset (systemd's
    default) on the desktop policy; the saved values are what leaving restores."""
    out = {mode: {n: s for n, s in per.items() if n in SLICES} for mode, per in slices.items()}
    audio = attrs.evolve(studio.audio_weight, allowed_cpus=studio.audio_cpus)
    for name in studio.audio_units:
        out.setdefault(Mode.STUDIO_LOCAL, {})[name] = audio
        out.setdefault(Mode.DESKTOP, {})[name] = SliceSettings()
    return out


@attrs.frozen
class Audit:
    # The live audit log becomes a numbered segment when it would grow past this.
    rotate_mib: int = 16


def _default_slices() -> dict[Mode, dict[str, SliceSettings]]:
    return {
        Mode.DESKTOP: {
            "interactive.slice": SliceSettings(cpu_weight=100, io_weight=100),
            "ai.slice": SliceSettings(cpu_weight=100, io_weight=100),
            "platform.slice": SliceSettings(cpu_weight=100, io_weight=100),
        },
        Mode.STUDIO_LOCAL: {
            "interactive.slice": SliceSettings(cpu_weight=1000, io_weight=1000),
            "ai.slice": SliceSettings(cpu_weight=10, io_weight=10),
            "platform.slice": SliceSettings(cpu_weight=20, io_weight=20),
        },
        Mode.COMPUTE: {
            "interactive.slice": SliceSettings(cpu_weight=50, io_weight=50),
            "ai.slice": SliceSettings(cpu_weight=1000, io_weight=1000),
            "platform.slice": SliceSettings(cpu_weight=500, io_weight=500),
        },
    }


@attrs.frozen
class Policy:
    """Everything the controller needs to decide; frozen, shared by value."""

    boot_default_mode: Mode = Mode.DESKTOP
    hardware: Hardware = Hardware()
    placement: Placement = Placement()
    units: UnitNames = UnitNames()
    vllm: Vllm = Vllm()
    exo: Exo = Exo()
    k3s_enable: bool = False
    slices: Mapping[Mode, Mapping[str, SliceSettings]] = attrs.field(factory=_default_slices)
    studio: Studio = Studio()
    thresholds: Thresholds = Thresholds()
    gpu_release: GpuRelease = GpuRelease()
    timeouts: Timeouts = Timeouts()
    processes: ProcessNames = ProcessNames()
    paths: Paths = Paths()
    idle: Idle = Idle()
    audit: Audit = Audit()

    def __attrs_post_init__(self) -> None:
        # The audio units ride on the slice mechanism: saved on entry, applied, verified by
        # reading back, restored exactly (also by the controller after a killed one).
        object.__setattr__(self, "slices", _with_audio_units(self.slices, self.studio))

    def slice_units(self) -> tuple[str, ...]:
        """Every unit whose runtime resource settings the controller reads and sets."""
        return tuple(dict.fromkeys(n for per in self.slices.values() for n in per))

    @property
    def two_gpu(self) -> bool:
        return len(self.hardware.present_gpus) >= 2

    @property
    def vllm_model_path(self) -> str:
        """Where the model lives on disk: an absolute path is itself, a Hugging Face id
        (Org/Name) the directory of that name in the model store (nixos/lib/model-path.nix
        serves vLLM from the same place; a test keeps the two rules equal)."""
        model = self.vllm.model
        return model if model.startswith("/") else f"{self.paths.model_store}/{model}"

    @property
    def compute_workloads(self) -> tuple[str, ...]:
        """The units that make up compute mode (vLLM, EXO), as enabled."""
        return ((self.units.vllm,) if self.vllm.enable else ()) + (
            (self.units.exo,) if self.exo.enable else ())

    def gpu_split(self, gpus: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(vLLM's GPUs, EXO's GPUs) out of `gpus`: shared, or split with vLLM first."""
        vllm_on, exo_on = self.vllm.enable, self.exo.enable
        if vllm_on and exo_on and self.exo.gpu_share == "split" and len(gpus) >= 2:
            half = (len(gpus) + 1) // 2
            return gpus[:half], gpus[half:]
        return (gpus if vllm_on else ()), (gpus if exo_on else ())

    def to_json(self) -> dict[str, Any]:
        """The config file form (inverse of `load_policy_data`)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "boot": {"default_mode": self.boot_default_mode.value},
            "hardware": {
                "present_gpus": list(self.hardware.present_gpus),
                "display_gpu": self.hardware.display_gpu,
                "compute_gpus": list(self.hardware.compute_gpus),
                "planned_gpu_count": self.hardware.planned_gpu_count,
            },
            "capability_placement": attrs.asdict(self.placement),
            "units": attrs.asdict(self.units),
            "vllm": {**attrs.asdict(self.vllm), "extra_args": list(self.vllm.extra_args)},
            "exo": attrs.asdict(self.exo),
            "k3s": {"enable": self.k3s_enable},
            "slices": {
                mode.value: {name: s.to_json() for name, s in per.items() if name in SLICES}
                for mode, per in self.slices.items()
            },
            "studio": {
                **attrs.asdict(self.studio),
                "audio_units": list(self.studio.audio_units),
                "audio_weight": {"cpu_weight": self.studio.audio_weight.cpu_weight,
                                 "io_weight": self.studio.audio_weight.io_weight},
            },
            "guards": {
                **attrs.asdict(self.thresholds),
                "user_job_names": list(self.thresholds.user_job_names),
                "soft": list(self.thresholds.soft),
            },
            "gpu_release": attrs.asdict(self.gpu_release),
            "timeouts": attrs.asdict(self.timeouts),
            "processes": {k: list(v) for k, v in attrs.asdict(self.processes).items()},
            "paths": attrs.asdict(self.paths),
            "idle": {k: list(v) if isinstance(v, tuple) else v
                     for k, v in attrs.asdict(self.idle).items()},
            "audit": attrs.asdict(self.audit),
        }


def default_policy() -> Policy:
    """The embedded policy of the simulated two-GPU workstation."""
    return Policy()


# --------------------------------------------------------------------------- loading


def load_policy(path: Path) -> Policy:
    """Read and validate the config file at `path`; ConfigError says what is wrong where."""
    try:
        raw = fsutil.read_regular(path, limit=CONFIG_LIMIT)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    if raw is None:
        raise ConfigError(f"{path}: config file not found")
    try:
        data = strictjson.loads(raw, max_bytes=CONFIG_LIMIT, max_depth=16)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return load_policy_data(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _slice_settings(value: object, key: str) -> SliceSettings:
    r = _Reader(value, key)
    opt = _optional_int(1)
    settings = SliceSettings(
        cpu_weight=r.get("cpu_weight", _optional_int(1, 10000), None),
        io_weight=r.get("io_weight", _optional_int(1, 10000), None),
        cpu_quota_percent=r.get("cpu_quota_percent", opt, None),
        memory_high_mib=r.get("memory_high_mib", opt, None),
        memory_max_mib=r.get("memory_max_mib", opt, None),
        allowed_cpus=r.get("allowed_cpus", _optional_cpus, None),
    )
    r.finish()
    return settings


def _optional_cpus(value: object, key: str) -> str | None:
    """A CPU list ("0-3,6"), canonical; null: no restriction."""
    if value is None:
        return None
    text = _str(value, key)
    try:
        return cpuset.canonical(text)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _check_audio_cpus(policy: Policy) -> None:
    """CPUs reserved for audio are kept free of ai.slice and platform.slice in studio-local."""
    if policy.studio.audio_cpus is None:
        return
    audio = cpuset.parse(policy.studio.audio_cpus)
    studio = policy.slices.get(Mode.STUDIO_LOCAL, {})
    for name in ("ai.slice", "platform.slice"):
        allowed = studio.get(name, SliceSettings()).allowed_cpus
        if allowed is None or audio & cpuset.parse(allowed):
            raise ConfigError(
                f"slices.studio-local.{name}.allowed_cpus: {allowed or 'every CPU'} includes "
                f"CPUs reserved for audio (studio.audio_cpus {policy.studio.audio_cpus}); set "
                "it to the other CPUs")


def load_policy_data(data: object) -> Policy:
    """Validate parsed JSON into a Policy. Missing keys take the defaults of `Policy()`."""
    d = Policy()
    top = _Reader(data, "")
    version = top.get("schema_version", _int(), -1)
    if version == -1:
        raise ConfigError("schema_version: missing (expected 1)")
    if version != SCHEMA_VERSION:
        raise ConfigError(f"schema_version: expected {SCHEMA_VERSION}, got {version}")

    boot = top.section("boot")
    mode_names = tuple(m.value for m in Mode)
    boot_mode = Mode(boot.get("default_mode", _choice(*mode_names), d.boot_default_mode.value))
    boot.finish()

    hw = top.section("hardware")
    gpu_list = _list(_int(0, 63), maximum=64)
    hardware = Hardware(
        present_gpus=hw.get("present_gpus", gpu_list, d.hardware.present_gpus),
        display_gpu=hw.get("display_gpu", _int(0, 63), d.hardware.display_gpu),
        compute_gpus=hw.get("compute_gpus", gpu_list, d.hardware.compute_gpus),
        planned_gpu_count=hw.get("planned_gpu_count", _int(1, 64), d.hardware.planned_gpu_count),
    )
    hw.finish()
    _check_hardware(hardware)

    pl = top.section("capability_placement")
    where = _choice("local", "remote")
    placement = Placement(
        studio=pl.get("studio", where, d.placement.studio),
        compute=pl.get("compute", where, d.placement.compute),
    )
    pl.finish()

    un = top.section("units")
    units = UnitNames(**{
        f.name: un.get(f.name, _unit("target" if f.name.endswith("target") else "service"),
                       getattr(d.units, f.name)) for f in attrs.fields(UnitNames)
    })
    un.finish()

    vl = top.section("vllm")
    vllm = Vllm(
        enable=vl.get("enable", _bool, d.vllm.enable),
        model=vl.get("model", _str, d.vllm.model),
        extra_args=vl.get("extra_args", _list(_str), d.vllm.extra_args),
        memory_per_gpu_mib=vl.get("memory_per_gpu_mib", _int(1), d.vllm.memory_per_gpu_mib),
        profile_path=vl.get("profile_path", _absolute_path, d.vllm.profile_path),
    )
    vl.finish()

    ex = top.section("exo")
    exo = Exo(
        enable=ex.get("enable", _bool, d.exo.enable),
        gpu_share=ex.get("gpu_share", _choice("shared", "split"), d.exo.gpu_share),
        memory_per_gpu_mib=ex.get("memory_per_gpu_mib", _int(1), d.exo.memory_per_gpu_mib),
        profile_path=ex.get("profile_path", _absolute_path, d.exo.profile_path),
    )
    ex.finish()

    k3 = top.section("k3s")
    k3s_enable = k3.get("enable", _bool, d.k3s_enable)
    k3.finish()

    sl = top.section("slices")
    slices = {mode: dict(per) for mode, per in d.slices.items()}
    for mode in Mode:
        per_mode = sl.section(mode.value)
        for name in SLICES:
            slices[mode][name] = per_mode.get(name, _slice_settings, slices[mode][name])
        per_mode.finish()
    sl.finish()

    studio = _load_studio(top.section("studio"), d.studio)

    gu = top.section("guards")
    th = d.thresholds
    thresholds = Thresholds(
        cpu_load_per_core_max=gu.get("cpu_load_per_core_max", _number(0, 1024, positive=True),
                                     th.cpu_load_per_core_max),
        memory_available_min_mib=gu.get(
            "memory_available_min_mib", _int(), th.memory_available_min_mib
        ),
        user_job_min_runtime_s=gu.get("user_job_min_runtime_s", _int(0, 10 * 365 * 86400),
                                      th.user_job_min_runtime_s),
        user_job_names=gu.get("user_job_names", _list(_str), th.user_job_names),
        model_store_free_min_mib=gu.get(
            "model_store_free_min_mib", _int(), th.model_store_free_min_mib
        ),
        soft=gu.get("soft", _list(_choice(*GUARD_IDS)), th.soft),
    )
    gu.finish()

    gr = top.section("gpu_release")
    release = GpuRelease(
        timeout_s=gr.get("timeout_s", _number(positive=True), d.gpu_release.timeout_s),
        poll_interval_s=gr.get("poll_interval_s", _number(0.001, 60.0),
                               d.gpu_release.poll_interval_s),
        residual_threshold_mib=gr.get(
            "residual_threshold_mib", _int(), d.gpu_release.residual_threshold_mib
        ),
        degraded_residual_max_mib=gr.get(
            "degraded_residual_max_mib", _int(), d.gpu_release.degraded_residual_max_mib
        ),
    )
    gr.finish()
    if release.degraded_residual_max_mib < release.residual_threshold_mib:
        raise ConfigError(
            "gpu_release.degraded_residual_max_mib: expected >= gpu_release."
            f"residual_threshold_mib ({release.residual_threshold_mib}), "
            f"got {release.degraded_residual_max_mib}"
        )

    to = top.section("timeouts")
    timeouts = Timeouts(**{
        # current_max_age_s may be 0 (`mode current` then always observes), grace_s too (no
        # grace period); every other bound is above 0
        f.name: to.get(f.name, _int(1) if f.type in (int, "int") else _number(
            positive=f.name not in ("current_max_age_s", "grace_s")),
                       getattr(d.timeouts, f.name))
        for f in attrs.fields(Timeouts)
    })
    to.finish()

    pr = top.section("processes")
    processes = ProcessNames(**{
        f.name: pr.get(f.name, _list(_str), getattr(d.processes, f.name))
        for f in attrs.fields(ProcessNames)
    })
    pr.finish()

    pa = top.section("paths")
    paths = Paths(**{
        f.name: pa.get(f.name, _absolute_path, getattr(d.paths, f.name))
        for f in attrs.fields(Paths)
    })
    pa.finish()

    idle = _idle(top.section("idle"), d.idle)
    au = top.section("audit")
    audit = Audit(rotate_mib=au.get("rotate_mib", _int(1), d.audit.rotate_mib))
    au.finish()
    top.finish()

    policy = Policy(
        boot_default_mode=boot_mode,
        hardware=hardware,
        placement=placement,
        units=units,
        vllm=vllm,
        exo=exo,
        k3s_enable=k3s_enable,
        slices=slices,
        studio=studio,
        thresholds=thresholds,
        gpu_release=release,
        timeouts=timeouts,
        processes=processes,
        paths=paths,
        idle=idle,
        audit=audit,
    )
    _check_audio_cpus(policy)
    return policy


IDLE_KINDS = ("idle", "sleep", "shutdown", "handle-lid-switch", "handle-power-key",
              "handle-suspend-key", "handle-hibernate-key")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WAKE_SOURCES = ("key", "login", "command")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _window(value: object, key: str) -> str:
    text = _str(value, key)
    if not _WINDOW.match(text) or text[:5] == text[6:]:
        raise ConfigError(f"{key}: expected \"HH:MM-HH:MM\" (two different times), "
                          f"got {_kind(value)}")
    return text


def _timezone(value: object, key: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = _str(value, key)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown time zone {text!r}") from None
    return text


def _idle(r: _Reader, d: Idle) -> Idle:
    idle = Idle(
        enable=r.get("enable", _bool, d.enable),
        after_s=r.get("after_s", _number(positive=True), d.after_s),
        cooldown_s=r.get("cooldown_s", _number(), d.cooldown_s),
        poll_interval_s=r.get("poll_interval_s", _number(0.1, 3600.0), d.poll_interval_s),
        inhibitor_kinds=r.get("inhibitor_kinds", _list(_choice(*IDLE_KINDS)),
                              d.inhibitor_kinds),
        exclusive_apps=r.get("exclusive_apps", _list(_str), d.exclusive_apps),
        load_per_core_max=r.get("load_per_core_max", _number(0, 1024, positive=True),
                                d.load_per_core_max),
        windows=r.get("windows", _list(_window), d.windows),
        days=r.get("days", _list(_choice(*DAYS)), d.days),
        timezone=r.get("timezone", _timezone, d.timezone),
        wake_on=r.get("wake_on", _list(_choice(*WAKE_SOURCES)), d.wake_on),
    )
    r.finish()
    return idle


def _load_studio(st: _Reader, d: Studio) -> Studio:
    weight = st.section("audio_weight")
    audio_weight = SliceSettings(
        cpu_weight=weight.get("cpu_weight", _optional_int(1, 10000), d.audio_weight.cpu_weight),
        io_weight=weight.get("io_weight", _optional_int(1, 10000), d.audio_weight.io_weight),
    )
    weight.finish()
    studio = Studio(
        audio_uid=st.get("audio_uid", _int(1), d.audio_uid),
        audio_user=st.get("audio_user", _str, d.audio_user),
        audio_units=st.get("audio_units", _list(_unit_name), d.audio_units),
        audio_weight=audio_weight,
        quantum=st.get("quantum", _optional_int(8, 8192), d.quantum),
        rate=st.get("rate", _optional_int(8000, 768000), d.rate),
        governor=st.get("governor", _optional_str, d.governor),
        epp=st.get("epp", _optional_str, d.epp),
        observe_backoff_s=st.get("observe_backoff_s", _number(positive=True),
                                 d.observe_backoff_s),
        audio_cpus=st.get("audio_cpus", _optional_cpus, d.audio_cpus),
    )
    st.finish()
    return studio


def _unit_name(value: object, key: str) -> str:
    text = _unit("slice", "service", "scope")(value, key)
    if text in SLICES:
        raise ConfigError(f"{key}: {text} is one of Dubnium's own slices")
    return text


def _optional_str(value: object, key: str) -> str | None:
    return None if value is None else _str(value, key)


def _check_hardware(hw: Hardware) -> None:
    if not hw.present_gpus:
        raise ConfigError("hardware.present_gpus: expected at least one GPU index, got []")
    if len(set(hw.present_gpus)) != len(hw.present_gpus):
        raise ConfigError(f"hardware.present_gpus: duplicate GPU index in {list(hw.present_gpus)}")
    if hw.display_gpu not in hw.present_gpus:
        raise ConfigError(
            f"hardware.display_gpu: GPU {hw.display_gpu} is not in hardware.present_gpus "
            f"{list(hw.present_gpus)}"
        )
    missing = [g for g in hw.compute_gpus if g not in hw.present_gpus]
    if missing:
        raise ConfigError(
            f"hardware.compute_gpus: GPU(s) {missing} not in hardware.present_gpus "
            f"{list(hw.present_gpus)}"
        )
    if len(hw.present_gpus) > hw.planned_gpu_count:
        raise ConfigError(
            f"hardware.planned_gpu_count: {hw.planned_gpu_count} is fewer than the "
            f"{len(hw.present_gpus)} GPU(s) present"
        )
