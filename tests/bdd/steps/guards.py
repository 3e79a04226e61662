"""Steps of features/guards.feature: what makes a guard block or warn.

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import attrs
from pytest_bdd import given, parsers, then

from tests.bdd.scene import Scene, restart_slowly


@given(parsers.parse('an audio stream "{name}" is playing'))
def audio_stream(scene: Scene, name: str) -> None:
    scene.st.world.start_audio_stream(name)


@given(parsers.parse('a JACK client "{name}" is connected'))
def jack_client(scene: Scene, name: str) -> None:
    scene.st.world.start_jack_client(name)


@given("REAPER is open")
def reaper_open(scene: Scene) -> None:
    scene.st.world.start_reaper()


@given(parsers.parse('a second user "{user}" is logged in'))
def second_user(scene: Scene, user: str) -> None:
    scene.st.world.add_session("x11", user)


@given(parsers.parse("the CPU load is {load:d} on {cpus:d} cores"))
def cpu_load(scene: Scene, load: int, cpus: int) -> None:
    scene.st.world.set_load(float(load), cpus=cpus)


@given(parsers.parse('a "{comm}" build has run for an hour'))
def user_job(scene: Scene, comm: str) -> None:
    scene.st.world.add_user_job(comm, 3600.0)


@given(parsers.parse("only {mib:d} MiB of memory is available"))
def low_memory(scene: Scene, mib: int) -> None:
    scene.st.world.set_memory(mib)


@given("the model store is missing")
def model_store_missing(scene: Scene) -> None:
    scene.st.world.set_path(scene.st.policy.paths.model_store, exists=False, writable=False)


@given("the configured model is not seeded")
def model_not_seeded(scene: Scene) -> None:
    scene.st.world.set_model(seeded=False)


@given(parsers.parse('the studio capability is placed "{where}"'))
def studio_placed(scene: Scene, where: str) -> None:
    policy = scene.st.policy
    scene.st.world.set_policy(
        attrs.evolve(policy, placement=attrs.evolve(policy.placement, studio=where)))


@given(parsers.parse('the configured compute target "{name}" is not installed'))
def target_missing(scene: Scene, name: str) -> None:
    policy = scene.st.policy
    scene.st.world.set_policy(
        attrs.evolve(policy, units=attrs.evolve(policy.units, compute_target=name)))


@given("vLLM is restarting")
def vllm_restarting(scene: Scene) -> None:
    restart_slowly(scene, scene.st.policy.units.vllm)


@given(parsers.parse('the {what} cannot be read because "{reason}"'))
def unreadable(scene: Scene, what: str, reason: str) -> None:
    group = {"audio graph": "audio", "unit states": "units", "GPUs": "gpus"}[what]
    scene.st.world.set_unavailable(group, reason)


@given(parsers.parse('the policy makes "{guard}" a soft guard'))
def soft_guard(scene: Scene, guard: str) -> None:
    policy = scene.st.policy
    scene.st.world.set_policy(
        attrs.evolve(policy, thresholds=attrs.evolve(policy.thresholds, soft=(guard,))))


@then(parsers.parse('the blocking guard is "{guard}"'))
def blocking_guard(scene: Scene, guard: str) -> None:
    assert scene.res.record.blocking[:1] == (guard,)


@then(parsers.parse('the reason mentions "{text}"'))
def reason_mentions(scene: Scene, text: str) -> None:
    assert text in scene.res.summary, scene.res.summary


@then("the audit log records the block")
def audit_block(scene: Scene) -> None:
    last = scene.st.records()[-1]
    assert (last.outcome.value, last.exit_code) == ("blocked", scene.res.exit_code)


@then(parsers.parse('the record warns about "{guard}"'))
def record_warns(scene: Scene, guard: str) -> None:
    warned = [v.guard.value for v in scene.res.record.guards if v.warns]
    assert guard in warned
