"""Stable identifiers and exit codes: guard ids and the one exit-code table.

Read by the policy (which guards are soft), the guards, the reconciler and the CLI. The
numbers here are a public contract (scripts test them); README.md documents the same table
and a test keeps the two equal.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class GuardId(StrEnum):
    """Every guard the seeds name (000 phase 6, 002 guard layout, 003 G1-G5)."""

    TARGET_REACHABLE = "target_reachable"
    AUDIO_IDLE = "audio_idle"  # G1
    GRAPHICAL_SESSION_TERMINABLE = "graphical_session_terminable"
    GPU_DISPLAY_RELEASED = "gpu_display_released"  # G2, verified after the GUI is gone
    CPU_LOAD_SAFE = "cpu_load_safe"  # G3
    USER_JOBS_SAFE = "user_jobs_safe"  # G4
    MEMORY_HEADROOM = "memory_headroom"  # G5
    VLLM_DRAINABLE = "vllm_drainable"
    CAPABILITY_LOCAL = "capability_local"  # check_studio/compute_capability_local
    PERSISTENCE_PATHS_READY = "persistence_paths_ready"
    # Guards after the first ten take codes from 30 (10-19 are full): ADR 0010.
    MODEL_PRESENT = "model_present"  # the configured vLLM model is in the local model store

    @property
    def exit_code(self) -> int:
        return GUARD_EXIT_CODES[self]


# The first ten guards 10-19 (seed contract), later ones from 30 (20-29 are ExitCode's).
GUARD_EXIT_CODES: dict[GuardId, int] = {
    g: 10 + i if i < 10 else 30 + i - 10 for i, g in enumerate(GuardId)}
GUARD_IDS: tuple[str, ...] = tuple(g.value for g in GuardId)


class ExitCode(IntEnum):
    """What `mode` exits with. 10-19 and 30-39 are the guard codes above (one per guard)."""

    OK = 0
    ERROR = 1  # an internal error: a bug, reported with its trace in the audit log
    USAGE = 2  # unknown verb, unknown mode, bad option
    PERMISSION_DENIED = 3  # a mutating verb on the host backend without root
    BACKEND_UNAVAILABLE = 4  # the backend cannot be reached or is not built yet
    LOCK_BUSY = 5  # another transition holds the lock
    CONFIG_INVALID = 6  # the config file is missing or malformed
    STATE_CORRUPT = 7  # a runtime state file is truncated or not ours
    STORAGE_FAILED = 8  # a state or audit write failed (disk full, I/O error, read-only)
    GUARD_CHECK_ERROR = 20  # a guard could not read its evidence (treated as a block)
    ROLLED_BACK = 21  # the transition failed and the prior safe state was restored
    FAILED_TRANSITION = 22  # the transition failed and the prior state could not be restored
    DEGRADED = 23  # degraded-compute (vLLM on the non-display GPUs only), or a failed return
    #                from compute that ended degraded-desktop (ADR 0007)
    NOT_CONVERGED = 24  # `mode current`: transitioning, failed-transition or unknown
    EVIDENCE_UNAVAILABLE = 25  # `mode current`: some evidence could not be read (see why)
    DIVERGED = 26  # `mode status --check`: the observed state is not the desired mode
    CANCELLED = 27  # the owner said no, or cancelled during the grace period: host untouched
    INTERRUPTED = 28  # a signal (SIGINT, SIGTERM, SIGHUP) stopped the switch; it was rolled back
    AUDIO_NOT_READY = 29  # `mode doctor --audio`: a readiness check failed (see its remedy)


# The exits of `mode current` that report an observation honestly (the observer unit,
# mode-observe.service, counts each as success; nixos/units/dubnium.nix SuccessExitStatus).
CURRENT_OBSERVATION_EXITS: frozenset[ExitCode] = frozenset({
    ExitCode.OK, ExitCode.DEGRADED, ExitCode.NOT_CONVERGED, ExitCode.EVIDENCE_UNAVAILABLE,
})
