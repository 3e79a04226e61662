"""The observer: `classify()` derives the current state from evidence. Purely computational.

Called by the reconciler (to plan, and to decide success by re-observation) and by the CLI
(`mode current`, `mode status`). It never reads desired state: a host is in a mode only when
the evidence satisfies that mode's contract. Mixed evidence yields `transitioning`,
`degraded-*`, `failed-transition` or `unknown` — never the target mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dubnium import evidence as ev
from dubnium.facts import HostFacts, Unavailable, Units
from dubnium.modes import Confidence, Mode, ObservedState
from dubnium.policy import Policy

SCHEMA_VERSION = 1


@attrs.frozen
class Markers:
    """What the controller's own records add to the evidence."""

    transition_in_progress: bool = False  # the lock is held by a live holder
    last_transition_failed: bool = False  # the last record says failed-transition


@attrs.frozen
class Observation:
    state: ObservedState
    confidence: Confidence
    signals: Mapping[str, bool | None]
    conflicts: tuple[str, ...]
    evidence: Mapping[str, Any]
    observed_at_ns: int

    @property
    def degraded(self) -> bool:
        return self.state in (ObservedState.DEGRADED_COMPUTE, ObservedState.DEGRADED_DESKTOP)

    def to_json(self, timestamp: str) -> dict[str, Any]:
        """The observer JSON of seed 002, plus evidence."""
        return {
            "schema_version": SCHEMA_VERSION,
            "observed_state": self.state.value,
            "confidence": self.confidence.value,
            "degraded": self.degraded,
            "signals": dict(self.signals),
            "conflicts": list(self.conflicts),
            "timestamp": timestamp,
            "evidence": dict(self.evidence),
        }


def units_active(facts: HostFacts, unit: str) -> bool:
    return not isinstance(facts.units, Unavailable) and facts.units.is_active(unit)


def classify(facts: HostFacts, policy: Policy, markers: Markers = Markers()) -> Observation:
    """Classify one snapshot. Pure: same inputs, same answer."""
    return _Classifier(facts, policy, markers).run()


class _Classifier:
    def __init__(self, facts: HostFacts, policy: Policy, markers: Markers) -> None:
        self.facts = facts
        self.policy = policy
        self.markers = markers
        self.conflicts: list[str] = []
        self.signals: dict[str, bool | None] = {}
        self.evidence: dict[str, Any] = {}

    def run(self) -> Observation:
        facts = self.facts
        missing = facts.unavailable()
        self.evidence["unavailable"] = missing
        self.evidence["boot_id"] = facts.boot_id
        if isinstance(facts.units, Unavailable):
            self.conflicts.append(f"unit states unavailable: {facts.units.reason}")
            return self._done(ObservedState.UNKNOWN, Confidence.LOW)
        state = self._classify_units(facts.units)
        if self.markers.transition_in_progress and state.mode is None:
            state = ObservedState.TRANSITIONING
        elif self.markers.transition_in_progress:
            self.conflicts.append("a transition holds the lock")
            state = ObservedState.TRANSITIONING
        if state in (ObservedState.UNKNOWN, ObservedState.FAILED_TRANSITION):
            confidence = Confidence.LOW
        elif self.conflicts or missing or state is ObservedState.TRANSITIONING:
            confidence = Confidence.MEDIUM
        else:
            confidence = Confidence.HIGH
        return self._done(state, confidence)

    def _done(self, state: ObservedState, confidence: Confidence) -> Observation:
        return Observation(
            state=state,
            confidence=confidence,
            signals=self.signals,
            conflicts=tuple(self.conflicts),
            evidence=self.evidence,
            observed_at_ns=self.facts.observed_at_ns,
        )

    def _mixed(self) -> ObservedState:
        if self.markers.last_transition_failed:
            return ObservedState.FAILED_TRANSITION
        return ObservedState.UNKNOWN

    def _classify_units(self, units: Units) -> ObservedState:
        facts, policy, names = self.facts, self.policy, self.policy.units
        s = self.signals
        s["desktop_target_active"] = units.is_active(names.desktop_target)
        s["graphical_target_active"] = units.is_active(names.graphical_target)
        s["compute_target_active"] = units.is_active(names.compute_target)
        s["vllm_active"] = units.is_active(names.vllm)
        s["exo_active"] = units.is_active(names.exo)
        s["studio_policy_active"] = units.is_active(names.studio_policy)
        s["audio_priority_active"] = units.is_active(names.audio_priority)
        self.evidence["units"] = {
            name: units.get(name).active.value for name in names.all()
        }

        sessions = ev.graphical_sessions(facts)
        if isinstance(sessions, Unavailable):
            s["graphical_session_active"] = None
        else:
            s["graphical_session_active"] = bool(sessions)
            self.evidence["graphical_sessions"] = [
                {"id": x.id, "user": x.user, "type": x.type, "class": x.class_,
                 "state": x.state, "leader": x.leader}
                for x in sessions
            ]
        audio = ev.audio_activity(facts, policy)
        s["audio_active"] = None if isinstance(audio, Unavailable) else audio.active
        if not isinstance(audio, Unavailable):
            self.evidence["audio"] = audio.to_json()
        release = ev.display_release(facts, policy)
        self.evidence["display_gpu"] = release.to_json()
        s["display_gpu_released"] = (
            None if release.status is ev.ReleaseStatus.UNKNOWN
            else release.status is ev.ReleaseStatus.RELEASED
        )
        on_display = ev.compute_pids_on_gpu(facts, policy.hardware.display_gpu)
        s["compute_on_display_gpu"] = (
            None if isinstance(on_display, Unavailable) else bool(on_display)
        )
        profile = facts.vllm_profile
        self.evidence["vllm_profile"] = (
            profile.to_json() if profile is not None and not isinstance(profile, Unavailable)
            else None
        )

        desktop_side = bool(s["desktop_target_active"] or s["graphical_target_active"])
        compute_side = bool(s["compute_target_active"])
        if desktop_side and compute_side:
            self.conflicts.append("desktop and compute targets are both active")
            return self._mixed()
        if compute_side:
            return self._compute(release)
        if desktop_side:
            return self._desktop()
        self.conflicts.append("neither the desktop nor the compute target is active")
        return self._mixed()

    def _compute(self, release: ev.DisplayRelease) -> ObservedState:
        s, policy = self.signals, self.policy
        if s["studio_policy_active"] or s["audio_priority_active"]:
            self.conflicts.append("studio-local overlay active in compute")
            return self._mixed()
        if s["graphical_session_active"] is None:
            self.conflicts.append(
                "cannot verify the graphical session is gone (sessions unavailable)"
            )
            return ObservedState.UNKNOWN
        if s["graphical_session_active"]:
            self.conflicts.append("a graphical session is still present")
            return self._mixed()
        idle = [u for u in policy.compute_workloads if not units_active(self.facts, u)]
        vllm_ok = not idle
        if release.status is ev.ReleaseStatus.UNKNOWN:
            self.conflicts.append(f"display GPU release cannot be verified: {release.reason}")
            return ObservedState.UNKNOWN
        if release.status is ev.ReleaseStatus.RELEASED:
            if not vllm_ok:
                self.conflicts.append(f"{', '.join(idle)} not active")
                return ObservedState.DEGRADED_COMPUTE
            profile = self.facts.vllm_profile
            if (
                policy.vllm.enable
                and not isinstance(profile, Unavailable)
                and profile is not None
                and profile.name == "degraded"
            ):
                self.conflicts.append("vLLM runs on the reduced (non-display) GPU profile")
                return ObservedState.DEGRADED_COMPUTE
            return ObservedState.COMPUTE
        # The display GPU is not (fully) released.
        if s["compute_on_display_gpu"]:
            self.conflicts.append(
                f"compute workload on display GPU {release.gpu_index} that is not released "
                f"({release.reason})"
            )
            return self._mixed()
        if release.status is ev.ReleaseStatus.RESIDUAL and policy.two_gpu:
            self.conflicts.append(f"display GPU not fully released: {release.reason}")
            if not vllm_ok:
                self.conflicts.append(f"{', '.join(idle)} not active")
            return ObservedState.DEGRADED_COMPUTE
        self.conflicts.append(f"display GPU still held: {release.reason}")
        return self._mixed()

    def _desktop(self) -> ObservedState:
        s, policy, facts = self.signals, self.policy, self.facts
        running = [u for u, on in ((policy.units.vllm, s["vllm_active"]),
                                   (policy.units.exo, s["exo_active"])) if on]
        if running:
            self.conflicts.append(f"{', '.join(running)} active outside compute")
            return self._mixed()
        degraded = False
        if not s["desktop_target_active"]:
            self.conflicts.append(f"{policy.units.desktop_target} is not active")
            degraded = True
        if not s["graphical_target_active"]:
            self.conflicts.append(f"{policy.units.graphical_target} is not active")
            degraded = True
        overlay = (s["studio_policy_active"], s["audio_priority_active"])
        if any(overlay):
            slices = facts.slice_settings()
            if isinstance(slices, Unavailable):
                self.conflicts.append(f"cannot verify studio slice settings: {slices.reason}")
                return ObservedState.UNKNOWN
            want = policy.slices[Mode.STUDIO_LOCAL]
            matches = all(slices.get(name) == value for name, value in want.items())
            s["studio_slices_applied"] = matches
            self.evidence["slices"] = {k: v.to_json() for k, v in slices.items()}
            if not all(overlay):
                self.conflicts.append("studio-local overlay only partly active")
                return ObservedState.DEGRADED_DESKTOP
            if not matches:
                self.conflicts.append("studio-local slice settings not in force")
                return ObservedState.DEGRADED_DESKTOP
            return ObservedState.DEGRADED_DESKTOP if degraded else ObservedState.STUDIO_LOCAL
        return ObservedState.DEGRADED_DESKTOP if degraded else ObservedState.DESKTOP
