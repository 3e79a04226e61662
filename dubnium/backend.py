"""The seam between the controller and a host: one Backend protocol, one Clock protocol.

Implemented by `simulator.backend.SimBackend` (the deterministic simulated host) and by
`backends.host.HostBackend` (the live workstation: D-Bus, pw-dump, NVML, /proc). The
reconciler, the guards and the CLI only ever see this protocol. Library errors are translated
into `dubnium.errors.BackendError` (temporary or permanent) inside each implementation, at the
edge.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Protocol

import attrs

from dubnium.facts import HostFacts, SliceSettings, VllmProfile
from dubnium.studiofacts import AudioReadiness, CpuSetting


class Clock(Protocol):
    """Time as the controller sees it. Real on the host; virtual in the simulator."""

    def monotonic_ns(self) -> int:
        """Nanoseconds on a clock that never goes backwards."""
        ...

    def wall_ns(self) -> int:
        """Nanoseconds since the Unix epoch, for timestamps in records."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass (in the simulator: run the world's events until then)."""
        ...

    def quiet_until_ns(self) -> int | None:
        """The earliest monotonic time at which the host may change by itself.

        A real host may change at any moment: now. The simulator knows its next scheduled
        event (None: nothing is scheduled), so the reconciler's waits skip the polls that
        could only see the same facts.
        """
        ...


class Backend(Protocol):
    """Everything the controller may read from or do to a host."""

    @property
    def name(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    def observe(self) -> HostFacts:
        """One frozen snapshot; unreadable evidence is carried as Unavailable."""
        ...

    def start_unit(self, name: str) -> None:
        """Queue a start job for `name` (does not wait for it to finish)."""
        ...

    def stop_unit(self, name: str) -> None:
        """Queue a stop job for `name` (does not wait for it to finish)."""
        ...

    def isolate(self, target: str) -> None:
        """Queue an isolate job for `target` (refused unless the target has AllowIsolate)."""
        ...

    def kill_unit(self, name: str) -> None:
        """SIGKILL every process of `name` (systemd's KillUnit, whom=all): the escalation of
        a stop that hangs. The unit then ends `failed` (or `inactive`)."""
        ...

    def reset_failed(self, name: str) -> None:
        """Clear `name`'s failed state (systemd's ResetFailedUnit): `failed` -> `inactive`."""
        ...

    def set_slice_properties(self, slice_name: str, settings: SliceSettings) -> None:
        """Apply `settings` to `slice_name` at run time (never persistently)."""
        ...

    def terminate_session(self, session_id: str) -> None:
        """Ask logind to terminate one session."""
        ...

    def notify_user(self, summary: str, body: str) -> Delivery:
        """Tell the interactive user something, best effort and bounded; never raises.

        Returns what happened: to how many graphical sessions it was delivered, of how many.
        """
        ...

    def console_message(self, text: str) -> None:
        """One line on the system console (for the owner at a screen with no GUI), best
        effort; never raises."""
        ...

    def write_vllm_profile(self, profile: VllmProfile) -> None:
        """Write vLLM's EnvironmentFile; read by vllm.service when it next starts."""
        ...

    def write_exo_profile(self, profile: VllmProfile) -> None:
        """Write EXO's EnvironmentFile (same format); read by exo.service when it starts."""
        ...

    def describe(self) -> Mapping[str, object]:
        """What this backend can and cannot see (for `mode doctor`)."""
        ...

    def set_audio_clock(self, force_quantum: int, force_rate: int) -> None:
        """Set PipeWire's clock.force-quantum and clock.force-rate (0: not forced) of the
        audio user's daemon; read back through `observe().audio_clock`."""
        ...

    def set_cpu_policy(self, setting: CpuSetting) -> None:
        """Set one cpufreq policy's governor (and EPP when given); read back via observe."""
        ...

    def audio_readiness(self) -> AudioReadiness:
        """What `mode doctor --audio` judges (RT limits, kernel, governor, timers, ...)."""
        ...


@attrs.frozen
class Delivery:
    """What became of one desktop notification: delivered to `delivered` of `sessions`."""

    delivered: int
    sessions: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.sessions > 0 and self.delivered == self.sessions

    def describe(self) -> str:
        if self.sessions == 0:
            return "not delivered: no graphical session" + (f" ({self.detail})"
                                                              if self.detail else "")
        text = f"delivered to {self.delivered} of {self.sessions} graphical session(s)"
        return text + (f" ({self.detail})" if self.detail and not self.ok else "")


@functools.lru_cache(maxsize=256)  # a pure function, called at every step of an attempt
def iso_timestamp(wall_ns: int) -> str:
    """An RFC 3339 UTC timestamp with milliseconds, for records and JSON output."""
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(wall_ns / 1e9, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
