"""The shared steps: the workstation, the owner's requests and what every feature checks
after them (outcome, observed state, units, slices, sessions, vLLM, the record).

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from dubnium.modes import Mode
from simulator.harness import Station
from tests.bdd.scene import Scene, gpus_running, graphical_sessions, slice_of, unit_up


@given(parsers.re(r"a simulated workstation with (?P<gpus>\d) GPUs?, booted to desktop"))
def workstation(scene: Scene, gpus: str) -> None:
    scene.start(Station.create(seed=7, gpus=int(gpus)))


@given(parsers.parse("the owner has switched to {mode}"))
def switched(scene: Scene, mode: str) -> None:
    result = scene.st.request(Mode(mode))
    scene.requests += 1
    assert result.record.outcome == "converged", result.summary


@when(parsers.parse("the owner requests {mode}"))
def owner_requests(scene: Scene, mode: str) -> None:
    if scene.watcher is not None:
        scene.watcher.seen.clear()
    scene.result = scene.st.request(Mode(mode))
    scene.requests += 1


@then(parsers.parse('the request ends "{outcome}" with exit code {code:d}'))
def request_ends(scene: Scene, outcome: str, code: int) -> None:
    assert (scene.res.record.outcome.value, scene.res.exit_code) == (outcome, code), \
        scene.res.summary


@then(parsers.parse('the observed state is "{state}"'))
def observed_state(scene: Scene, state: str) -> None:
    assert scene.st.observe().state.value == state


@then("the observed state is not a mode")
def not_a_mode(scene: Scene) -> None:
    assert scene.st.observe().state.mode is None


@then(parsers.parse('the conflicts mention "{text}"'))
def conflicts_mention(scene: Scene, text: str) -> None:
    conflicts = scene.st.observe().conflicts
    assert any(text in c for c in conflicts), conflicts


@then(parsers.parse('the confidence is "{level}"'))
def confidence_is(scene: Scene, level: str) -> None:
    assert scene.st.observe().confidence.value == level


@then("the studio overlay services are running")
def overlay_running(scene: Scene) -> None:
    names = scene.st.policy.units
    assert (unit_up(scene, names.studio_policy), unit_up(scene, names.audio_priority)) == (
        True, True)


@then("the studio overlay services are stopped")
def overlay_stopped(scene: Scene) -> None:
    names = scene.st.policy.units
    assert (unit_up(scene, names.studio_policy), unit_up(scene, names.audio_priority)) == (
        False, False)


@then(parsers.parse("the {name} slice has CPU weight {weight:d}"))
def slice_weight(scene: Scene, name: str, weight: int) -> None:
    assert slice_of(scene, f"{name}.slice").cpu_weight == weight


@then("no graphical session is left")
def no_graphical(scene: Scene) -> None:
    assert graphical_sessions(scene) == []


@then("a graphical session is back")
@then("a graphical session is still there")
def graphical_present(scene: Scene) -> None:
    assert len(graphical_sessions(scene)) >= 1


@then("vLLM is running on GPUs 0 and 1")
def vllm_both(scene: Scene) -> None:
    vllm = scene.st.policy.units.vllm
    assert (unit_up(scene, vllm), gpus_running(scene, "vllm")) == (True, [0, 1])


@then(parsers.parse("vLLM is running on GPU {index:d} only"))
def vllm_one(scene: Scene, index: int) -> None:
    vllm = scene.st.policy.units.vllm
    assert (unit_up(scene, vllm), gpus_running(scene, "vllm")) == (True, [index])


@then("vLLM is stopped")
def vllm_stopped(scene: Scene) -> None:
    assert (unit_up(scene, scene.st.policy.units.vllm), gpus_running(scene, "vllm")) == (False, [])


@then("the owner was warned before the desktop ended")
def warned(scene: Scene) -> None:
    steps = [s.step for s in scene.res.record.steps]
    notify = next(i for i, s in enumerate(steps) if s.startswith("notify"))
    terminate = next(i for i, s in enumerate(steps) if s.startswith("terminate"))
    assert notify < terminate
    # the grace period's first notice, its countdown, then the last word before the GUI goes
    assert scene.st.world.notices() == [
        "Compute mode in 30 s", "Compute mode in 20 s", "Compute mode in 10 s",
        "Switching to compute mode"]


@then(parsers.parse('the transition ran the legs "{legs}"'))
def ran_legs(scene: Scene, legs: str) -> None:
    ran = [leg["leg"] for leg in (scene.res.record.plan or {})["legs"]]
    assert ran == [x.strip() for x in legs.split(",")]


@then("the transition ran no steps")
def no_steps(scene: Scene) -> None:
    assert scene.res.record.steps == ()


@then("every request so far has exactly one audit record")
def one_record_each(scene: Scene) -> None:
    assert len(scene.st.records()) == scene.requests


@then(parsers.parse('the record notes "{text}"'))
def record_notes(scene: Scene, text: str) -> None:
    notes = scene.res.record.notes
    assert any(text in note for note in notes), notes
