"""The policy: Dubnium's configuration, loaded from one schema-versioned JSON file.

The NixOS module writes `/etc/dubnium/config.json` (nixos/modules/dubnium/state.nix) in this
schema; `dubnium.policyload` reads and validates it into these frozen values (`to_json` is the
inverse); the simulator embeds `default_policy()` when no workstation is present. Built by the
CLI (composition root); the rest of the domain receives a `Policy` value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from dubnium.facts import SliceSettings
from dubnium.modes import Mode

SCHEMA_VERSION = 1
DEFAULT_CONFIG_PATH = Path("/etc/dubnium/config.json")
SLICES = ("interactive.slice", "ai.slice", "platform.slice")
# The values some Idle fields take (the loader, dubnium.policyload, checks them).
IDLE_KINDS = ("idle", "sleep", "shutdown", "handle-lid-switch", "handle-power-key",
              "handle-suspend-key", "handle-hibernate-key")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WAKE_SOURCES = ("key", "login", "command")

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
    # A live `mode current` waits this long for the resident observer (mode-current.socket,
    # `mode current-server`) before observing in its own process (0: never asks it).
    current_server_s: float = 10.0
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
