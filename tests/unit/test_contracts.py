"""Each mode's contract, term by term: a missing term is named and never reported as the mode."""

from __future__ import annotations

from dubnium import contracts as ct
from dubnium.contracts import TermId, TermStatus
from dubnium.facts import ProcessFact, SessionFact, Unavailable
from dubnium.modes import Mode, ObservedState
from dubnium.observe import classify
from tests import factories as f

DESKTOP_UNITS = ("desktop.target", "graphical.target", "display-manager.service")


def _status(report: ct.ContractReport) -> dict[str, str]:
    return {t.id.value: t.status.value for t in report.terms if not t.passed}


def test_healthy_desktop_meets_every_desktop_term() -> None:
    """The factory desktop passes all nine desktop terms."""
    report = ct.desktop(f.desktop(), f.POLICY)
    assert (True, 9) == (report.holds, len(report.terms))


def test_display_manager_stopped_is_degraded_desktop_naming_the_term() -> None:
    """desktop.target up but the display manager stopped: degraded-desktop, term named."""
    facts = f.desktop(units=f.units("desktop.target", "graphical.target"))
    obs = classify(facts, f.POLICY)
    assert (ObservedState.DEGRADED_DESKTOP, ["display_manager_active"]) == (
        obs.state, [t.id.value for t in obs.missing])


def test_no_graphical_session_is_never_desktop() -> None:
    """The targets and the display manager up, no session: degraded-desktop."""
    obs = classify(f.desktop(sessions=(), processes=()), f.POLICY)
    assert (ObservedState.DEGRADED_DESKTOP, {"graphical_session_alive": "fail"}) == (
        obs.state, _status(obs.contracts[Mode.DESKTOP]))


def test_session_whose_compositor_died_is_not_a_desktop() -> None:
    """An active wayland session with no compositor process alive is not a desktop."""
    obs = classify(f.desktop(processes=()), f.POLICY)
    assert ObservedState.DEGRADED_DESKTOP == obs.state
    assert "no compositor alive for session 2 of owner" in obs.missing[0].detail


def test_closing_session_does_not_make_a_desktop() -> None:
    """A closing session (even with its compositor alive) is not the desktop's session."""
    closing = SessionFact("2", "owner", "wayland", "user", "closing", 1200, False)
    obs = classify(f.desktop(sessions=(closing,)), f.POLICY)
    assert ObservedState.DEGRADED_DESKTOP == obs.state


def test_closing_session_with_live_compositor_is_graphical_for_compute() -> None:
    """A closing session whose compositor lives counts as graphical: not compute, and the
    conflict names the session and its user."""
    closing = SessionFact("7", "guest", "wayland", "user", "closing", 1300, False)
    compositor = ProcessFact(1300, "Hyprland", 1001, 5.0, "7")
    obs = classify(f.compute(sessions=(closing,), processes=(compositor,)), f.POLICY)
    assert ObservedState.UNKNOWN == obs.state
    assert ("a graphical session is still present: session 7 of guest (wayland, closing, "
            "leader 1300)") in obs.conflicts


def test_closing_session_whose_processes_are_gone_is_not_graphical() -> None:
    """A closing session with no live leader or session process does not block compute."""
    closing = SessionFact("7", "guest", "wayland", "user", "closing", 1300, False)
    assert ObservedState.COMPUTE == classify(f.compute(sessions=(closing,)), f.POLICY).state


def test_closing_session_counts_when_processes_are_unreadable() -> None:
    """Processes unreadable: a closing session's end cannot be shown, so it counts."""
    closing = SessionFact("7", "guest", "wayland", "user", "closing", 1300, False)
    facts = f.compute(sessions=(closing,), processes=Unavailable("proc: EACCES"))
    report = ct.compute(facts, f.POLICY)
    assert TermStatus.FAIL == report.term(TermId.NO_GRAPHICAL_SESSION).status


def test_sessions_unreadable_is_unknown_not_desktop() -> None:
    """logind unreachable: the desktop session term is unreadable, so the state is unknown."""
    obs = classify(f.desktop(sessions=Unavailable("login1: timed out")), f.POLICY)
    assert (ObservedState.UNKNOWN, {"graphical_session_alive": "unreadable"}) == (
        obs.state, _status(obs.contracts[Mode.DESKTOP]))


def test_compute_slice_values_on_a_desktop_are_degraded_desktop() -> None:
    """Compute's slice values left in force on the desktop: degraded-desktop."""
    obs = classify(f.desktop(slices=f.slices(Mode.COMPUTE)), f.POLICY)
    assert (ObservedState.DEGRADED_DESKTOP, ["slices_at_desktop_policy"]) == (
        obs.state, [t.id.value for t in obs.missing])


def test_vllm_missing_from_a_profiled_gpu_is_not_compute() -> None:
    """The profile names GPUs 0 and 1 but vLLM holds memory on GPU 1 only: not compute."""
    facts = f.compute(gpus=f.gpus(display_used=0, display_graphics=False, vllm_on=(1,)))
    report = ct.compute(facts, f.POLICY)
    assert {"workloads_on_profiled_gpus": "fail"} == _status(report)
    assert ObservedState.DEGRADED_COMPUTE == classify(facts, f.POLICY).state


def test_display_manager_running_in_compute_is_not_compute() -> None:
    """compute.target with the display manager active: mixed evidence, not compute."""
    facts = f.compute(units=f.units("compute.target", "vllm.service",
                                    "display-manager.service"))
    assert ObservedState.UNKNOWN == classify(facts, f.POLICY).state


def test_every_term_of_every_contract_is_in_the_json() -> None:
    """The observation's JSON lists every term of each contract with pass/fail/unreadable."""
    data = classify(f.desktop(), f.POLICY).to_json("2026-01-01T00:00:00.000Z")
    seen = {(mode, t["term"], t["status"]) for mode, c in data["contracts"].items()
            for t in c["terms"]}
    expected = {(m.value, t.id.value, t.status.value)
                for m, r in ct.evaluate_all(f.desktop(), f.POLICY).items() for t in r.terms}
    assert (expected, "desktop", []) == (seen, data["judged_against"], data["missing"])
    assert {s for _, _, s in seen} <= {"pass", "fail", "unreadable"}


def test_a_contract_is_evaluated_once_per_snapshot_object() -> None:
    """The same facts object gets the very report again; another snapshot (equal or not) is
    evaluated afresh and equals an evaluation that remembers nothing."""
    import attrs

    desktop = f.desktop()
    first, again = ct.desktop(desktop, f.POLICY), ct.desktop(desktop, f.POLICY)
    down = attrs.evolve(desktop, units=f.units("desktop.target", "graphical.target"))
    changed = ct.desktop(down, f.POLICY)
    plain = ct.desktop.__wrapped__  # type: ignore[attr-defined]
    assert (True, plain(down, f.POLICY), False, plain(desktop, f.POLICY)) == (
        first is again, changed, changed.holds, first)
