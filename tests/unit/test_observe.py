"""The observer never reports a mode the evidence does not satisfy."""

from __future__ import annotations

import attrs

from dubnium.facts import AudioGraph, AudioNode, GpuProcess, GpuProcessKind, Unavailable
from dubnium.modes import Confidence, ObservedState
from dubnium.observe import Markers, classify
from tests import factories as f


def test_healthy_desktop_is_desktop_with_high_confidence() -> None:
    """Desktop targets up, session present, nothing else: desktop, high confidence."""
    obs = classify(f.desktop(), f.POLICY)
    assert (obs.state, obs.confidence, obs.conflicts) == (
        ObservedState.DESKTOP, Confidence.HIGH, ()
    )


def test_studio_overlay_with_studio_slices_is_studio_local() -> None:
    """Both overlay units active and the studio slice values in force: studio-local."""
    assert classify(f.studio(), f.POLICY).state is ObservedState.STUDIO_LOCAL


def test_overlay_units_without_studio_slices_is_degraded_desktop() -> None:
    """Overlay units active but slice weights not applied: not studio-local."""
    obs = classify(f.studio(slices=f.slices()), f.POLICY)
    assert obs.state is ObservedState.DEGRADED_DESKTOP
    assert "studio-local slice settings not in force" in obs.conflicts


def test_half_overlay_is_degraded_desktop() -> None:
    """Only one of the two overlay units active: degraded-desktop, not studio-local."""
    facts = f.studio(units=f.units("desktop.target", "graphical.target",
                                   "studio-local-policy.service"))
    assert classify(facts, f.POLICY).state is ObservedState.DEGRADED_DESKTOP


def test_healthy_compute_is_compute() -> None:
    """compute.target + vLLM, no session, display GPU released: compute."""
    obs = classify(f.compute(), f.POLICY)
    assert (obs.state, obs.conflicts) == (ObservedState.COMPUTE, ())


def test_compute_target_with_graphical_session_is_never_compute() -> None:
    """A session still present while compute.target is up: mixed evidence, not compute;
    the conflict names the session and its user."""
    obs = classify(f.compute(sessions=(f.SESSION,)), f.POLICY)
    assert obs.state is ObservedState.UNKNOWN
    assert ("a graphical session is still present: session 2 of owner (wayland, active, "
            "leader 1200)") in obs.conflicts


def test_mixed_evidence_after_a_failed_transition_is_failed_transition() -> None:
    """With the failure marker, mixed evidence is reported as failed-transition."""
    facts = f.compute(units=f.units("compute.target", "desktop.target", "vllm.service"))
    obs = classify(facts, f.POLICY, Markers(last_transition_failed=True))
    assert obs.state is ObservedState.FAILED_TRANSITION


def test_residual_on_display_gpu_with_vllm_elsewhere_is_degraded_compute() -> None:
    """Residual under the degraded bound and vLLM only on GPU 1: degraded-compute."""
    facts = f.compute(gpus=f.gpus(display_used=600, display_graphics=False, vllm_on=(1,)))
    obs = classify(facts, f.POLICY)
    assert obs.state is ObservedState.DEGRADED_COMPUTE
    assert obs.degraded


def test_vllm_on_unreleased_display_gpu_is_not_compute() -> None:
    """A compute workload on a display GPU that still holds memory: not compute."""
    facts = f.compute(gpus=f.gpus(display_used=600, display_graphics=False, vllm_on=(0, 1)))
    assert classify(facts, f.POLICY).state is ObservedState.UNKNOWN


def test_display_gpu_held_beyond_bound_is_not_compute() -> None:
    """Residual above the degraded bound: neither compute nor degraded-compute."""
    facts = f.compute(gpus=f.gpus(display_used=5000, display_graphics=False, vllm_on=(1,)))
    assert classify(facts, f.POLICY).state is ObservedState.UNKNOWN


def test_gpu_evidence_unavailable_never_yields_compute() -> None:
    """NVML absent: compute cannot be verified, so the answer is unknown."""
    obs = classify(f.compute(gpus=Unavailable("NVML: library not found")), f.POLICY)
    assert obs.state is ObservedState.UNKNOWN
    assert obs.evidence["unavailable"] == {"gpus": "NVML: library not found"}


def test_gpu_evidence_unavailable_lowers_desktop_confidence() -> None:
    """Desktop does not need GPU evidence, but its confidence says some is missing."""
    obs = classify(f.desktop(gpus=Unavailable("NVML: library not found")), f.POLICY)
    assert (obs.state, obs.confidence) == (ObservedState.DESKTOP, Confidence.MEDIUM)


def test_units_unavailable_is_unknown() -> None:
    """The bus is down: nothing can be classified."""
    obs = classify(f.desktop(units=Unavailable("system bus: connection refused")), f.POLICY)
    assert (obs.state, obs.confidence) == (ObservedState.UNKNOWN, Confidence.LOW)


def test_vllm_failed_in_compute_is_degraded_compute() -> None:
    """compute.target up but vLLM failed: degraded-compute, never compute."""
    facts = f.compute(units=f.units("compute.target", failed=("vllm.service",)),
                      gpus=f.gpus(display_used=0, display_graphics=False))
    assert classify(facts, f.POLICY).state is ObservedState.DEGRADED_COMPUTE


def test_lock_held_reports_transitioning() -> None:
    """While another controller holds the lock, the state is transitioning."""
    obs = classify(f.desktop(), f.POLICY, Markers(transition_in_progress=True))
    assert obs.state is ObservedState.TRANSITIONING


def test_vllm_active_in_desktop_is_not_desktop() -> None:
    """vLLM is compute-only in v1: active on the desktop is a conflict."""
    facts = f.desktop(units=f.units("desktop.target", "graphical.target", "vllm.service"))
    assert classify(facts, f.POLICY).state is ObservedState.UNKNOWN


def test_observer_json_has_the_seed_002_keys() -> None:
    """The serialised form carries the keys of seed 002 plus evidence."""
    data = classify(f.desktop(), f.POLICY).to_json("2026-01-01T00:00:00.000Z")
    assert {"observed_state", "confidence", "degraded", "signals", "conflicts", "timestamp",
            "evidence"} <= set(data)
    assert data["signals"]["graphical_session_active"] is True


def test_jack_client_counts_as_audio_activity() -> None:
    """A JACK node marks audio active even without a media class."""
    jack = AudioNode(40, "jack-client", "", "running", client_api="jack")
    obs = classify(f.desktop(audio=AudioGraph((f.SINK, jack))), f.POLICY)
    assert obs.signals["audio_active"] is True


def test_compute_process_memory_unknown_makes_release_unknown() -> None:
    """NVML without per-process memory: the residual cannot be computed, so unknown."""
    gpus = list(f.gpus(display_used=0, display_graphics=False, vllm_on=(0, 1)))
    gpus[0] = attrs.evolve(gpus[0], processes=(
        GpuProcess(4000, "vllm", GpuProcessKind.COMPUTE, None),))
    assert classify(f.compute(gpus=tuple(gpus)), f.POLICY).state is ObservedState.UNKNOWN
