"""The observer: `classify()` derives the current state from evidence. Purely computational.

Called by the reconciler (to plan, and to decide success by re-observation) and by the CLI
(`mode current`, `mode status`). It never reads desired state: a host is in a mode only when
the evidence satisfies that mode's contract. Mixed evidence yields `transitioning`,
`degraded-*`, `failed-transition` or `unknown` — never the target mode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dubnium import contracts as ct
from dubnium import evidence as ev
from dubnium.facts import HostFacts, Unavailable, Units
from dubnium.modes import Confidence, Mode, ObservedState
from dubnium.policy import Policy
from dubnium.studiofacts import AudioClock

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
    # every contract evaluated on the snapshot, and the one the state was judged against
    contracts: Mapping[Mode, ct.ContractReport] = attrs.field(factory=dict)
    judged: Mode | None = None

    def contract(self, mode: Mode) -> ct.ContractReport | None:
        return self.contracts.get(mode)

    @property
    def missing(self) -> tuple[ct.Term, ...]:
        """The terms of the judged contract that do not pass."""
        report = self.contracts.get(self.judged) if self.judged is not None else None
        return report.missing if report is not None else ()

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
            "judged_against": self.judged.value if self.judged else None,
            "missing": [t.to_json() for t in self.missing],
            "contracts": {mode.value: report.to_json()
                          for mode, report in self.contracts.items()},
        }


def units_active(facts: HostFacts, unit: str) -> bool:
    return not isinstance(facts.units, Unavailable) and facts.units.is_active(unit)


# The observer as the reconciler calls it (a campaign test substitutes a weaker one to show
# that the simulator's independent oracle catches it).
Classifier = Callable[[HostFacts, Policy, Markers], Observation]


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
        self.contracts: Mapping[Mode, ct.ContractReport] = {}
        self.judged: Mode | None = None

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
            contracts=self.contracts,
            judged=self.judged,
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
        if isinstance(facts.audio_clock, AudioClock):  # studio-local's forced clock, xruns
            self.evidence["audio_clock"] = facts.audio_clock.to_json()
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

        reports = ct.evaluate_all(facts, policy)
        self.contracts = reports
        desktop_side = bool(s["desktop_target_active"] or s["graphical_target_active"])
        compute_side = bool(s["compute_target_active"])
        if desktop_side and compute_side:
            self.conflicts.append("desktop and compute targets are both active")
            return self._mixed()
        if compute_side:
            self.judged = Mode.COMPUTE
            return self._compute(reports[Mode.COMPUTE], release)
        if desktop_side:
            return self._desktop(reports)
        self.conflicts.append("neither the desktop nor the compute target is active")
        return self._mixed()

    def _name_missing(self, report: ct.ContractReport, *described: ct.TermId) -> None:
        for term in report.missing:
            if term.id in described:
                continue
            self.conflicts.append(f"{report.mode.value} term {term.id.value} "
                                  f"{term.status.value}: {term.detail}")

    def _compute(self, report: ct.ContractReport,
                 release: ev.DisplayRelease) -> ObservedState:
        if report.holds:
            return ObservedState.COMPUTE
        T, status = ct.TermId, {t.id: t.status for t in report.terms}
        fail, unreadable = ct.TermStatus.FAIL, ct.TermStatus.UNREADABLE
        if status[T.OVERLAY_INACTIVE] is fail:
            self.conflicts.append("studio-local overlay active in compute")
        if status[T.NO_GRAPHICAL_SESSION] is fail:
            self.conflicts.append("a graphical session is still present: "
                                  + report.term(T.NO_GRAPHICAL_SESSION).detail)
        if status[T.NO_GRAPHICAL_SESSION] is unreadable:
            self.conflicts.append(
                "cannot verify the graphical session is gone (sessions unavailable)")
        if status[T.DISPLAY_GPU_RELEASED] is unreadable:
            self.conflicts.append(f"display GPU release cannot be verified: {release.reason}")
        self._name_missing(report, T.NO_GRAPHICAL_SESSION, T.DISPLAY_GPU_RELEASED)
        mixed = (T.OVERLAY_INACTIVE, T.NO_GRAPHICAL_SESSION, T.NO_COMPOSITOR,
                 T.DISPLAY_MANAGER_INACTIVE, T.DESKTOP_TARGETS_INACTIVE)
        if any(status[t] is fail for t in mixed):
            return self._mixed()
        if report.unreadable:
            return ObservedState.UNKNOWN
        if status[T.DISPLAY_GPU_RELEASED] is fail:
            if self.signals["compute_on_display_gpu"]:
                self.conflicts.append(
                    f"compute workload on display GPU {release.gpu_index} that is not "
                    f"released ({release.reason})")
                return self._mixed()
            if release.status is ev.ReleaseStatus.RESIDUAL and self.policy.two_gpu:
                return ObservedState.DEGRADED_COMPUTE
            return self._mixed()
        # Released (or only a residual within the bound); what is short is the workload.
        return ObservedState.DEGRADED_COMPUTE

    def _desktop(self, reports: Mapping[Mode, ct.ContractReport]) -> ObservedState:
        s, T = self.signals, ct.TermId
        desktop = reports[Mode.DESKTOP]
        running = desktop.term(T.COMPUTE_WORKLOADS_STOPPED)
        on_display = desktop.term(T.NO_COMPUTE_ON_DISPLAY_GPU)
        if running.status is ct.TermStatus.FAIL:
            active = [u for u, on in ((self.policy.units.vllm, s["vllm_active"]),
                                      (self.policy.units.exo, s["exo_active"])) if on]
            self.conflicts.append(f"{', '.join(active) or running.detail} active outside "
                                  "compute")
            return self._mixed()
        if on_display.status is ct.TermStatus.FAIL:
            self.conflicts.append(on_display.detail)
            return self._mixed()
        overlay = (s["studio_policy_active"], s["audio_priority_active"])
        report = reports[Mode.STUDIO_LOCAL] if any(overlay) else desktop
        self.judged = report.mode
        if report.holds:
            return ObservedState.STUDIO_LOCAL if any(overlay) else ObservedState.DESKTOP
        if any(overlay):
            slices = report.term(T.SLICES_AT_STUDIO_POLICY)
            s["studio_slices_applied"] = (None if slices.status is ct.TermStatus.UNREADABLE
                                          else slices.passed)
            if not all(overlay):
                self.conflicts.append("studio-local overlay only partly active")
            elif slices.status is ct.TermStatus.FAIL:
                self.conflicts.append("studio-local slice settings not in force")
            if slices.status is ct.TermStatus.UNREADABLE:
                self.conflicts.append(f"cannot verify studio slice settings: {slices.detail}")
        self._name_missing(report)
        if report.unreadable:
            return ObservedState.UNKNOWN
        return ObservedState.DEGRADED_DESKTOP
