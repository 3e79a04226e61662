"""Step definitions shared by every feature in features/ (pytest-bdd).

Thin on purpose: each step calls the world API of `simulator.world.World` or the controller
through `simulator.harness.Station`, the same objects the hypothesis state machine and the
campaigns drive. The CLI steps run the real `mode` and `mode-sim` commands as processes.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from pytest_bdd import given, parsers, then, when

from dubnium.facts import HostFacts, SliceSettings, Unavailable, VllmProfile
from dubnium.modes import Mode, ObservedState
from dubnium.observe import classify
from dubnium.reconcile import Reporter, Result
from dubnium.state import LockHolder
from simulator.harness import Station
from simulator.systemd import UnitBehaviour


class StateWatcher(Reporter):
    """Classifies the world after every step of a transition (for 'at no point ...')."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.seen: list[ObservedState] = []

    def step_finished(self, leg: str, step: object, status: str, detail: str) -> None:
        self.seen.append(classify(self.station.backend.observe(), self.station.policy).state)


@attrs.define
class Scene:
    station: Station | None = None
    result: Result | None = None
    requests: int = 0
    watcher: StateWatcher | None = None
    # CLI scenarios
    state_dir: Path | None = None
    config: Path | None = None
    proc: subprocess.CompletedProcess[str] | None = None
    audit_lines: list[str] = attrs.field(factory=list)

    @property
    def st(self) -> Station:
        assert self.station is not None, "no workstation in this scenario"
        return self.station

    @property
    def res(self) -> Result:
        assert self.result is not None, "no request was made"
        return self.result

    def facts(self) -> HostFacts:
        return self.st.backend.observe()


@pytest.fixture
def scene() -> Scene:
    return Scene()


# ------------------------------------------------------------------ the workstation


@given(parsers.re(r"a simulated workstation with (?P<gpus>\d) GPUs?, booted to desktop"))
def workstation(scene: Scene, gpus: str) -> None:
    scene.station = Station.create(seed=7, gpus=int(gpus))
    scene.watcher = StateWatcher(scene.station)
    scene.station.reporter = scene.watcher
    assert scene.st.observe().state is ObservedState.DESKTOP


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


def _unit_up(scene: Scene, name: str) -> bool:
    units = scene.facts().units
    assert not isinstance(units, Unavailable)
    return units.is_active(name)


@then("the studio overlay services are running")
def overlay_running(scene: Scene) -> None:
    names = scene.st.policy.units
    assert (_unit_up(scene, names.studio_policy), _unit_up(scene, names.audio_priority)) == (
        True, True)


@then("the studio overlay services are stopped")
def overlay_stopped(scene: Scene) -> None:
    names = scene.st.policy.units
    assert (_unit_up(scene, names.studio_policy), _unit_up(scene, names.audio_priority)) == (
        False, False)


def _slice(scene: Scene, name: str) -> SliceSettings:
    slices = scene.facts().slice_settings()
    assert not isinstance(slices, Unavailable)
    return slices[name]


@then(parsers.parse("the {name} slice has CPU weight {weight:d}"))
def slice_weight(scene: Scene, name: str, weight: int) -> None:
    assert _slice(scene, f"{name}.slice").cpu_weight == weight


def _graphical(scene: Scene) -> list[str]:
    sessions = scene.facts().sessions
    assert not isinstance(sessions, Unavailable)
    return [s.id for s in sessions if s.graphical]


@then("no graphical session is left")
def no_graphical(scene: Scene) -> None:
    assert _graphical(scene) == []


@then("a graphical session is back")
@then("a graphical session is still there")
def graphical_present(scene: Scene) -> None:
    assert len(_graphical(scene)) >= 1


def _vllm_gpus(scene: Scene) -> list[int]:
    gpus = scene.facts().gpus
    assert not isinstance(gpus, Unavailable)
    return sorted(g.index for g in gpus if any(p.name == "vllm" for p in g.compute_processes))


@then("vLLM is running on GPUs 0 and 1")
def vllm_both(scene: Scene) -> None:
    assert (_unit_up(scene, scene.st.policy.units.vllm), _vllm_gpus(scene)) == (True, [0, 1])


@then(parsers.parse("vLLM is running on GPU {index:d} only"))
def vllm_one(scene: Scene, index: int) -> None:
    assert (_unit_up(scene, scene.st.policy.units.vllm), _vllm_gpus(scene)) == (True, [index])


@then("vLLM is stopped")
def vllm_stopped(scene: Scene) -> None:
    assert (_unit_up(scene, scene.st.policy.units.vllm), _vllm_gpus(scene)) == (False, [])


@then("the owner was warned before the desktop ended")
def warned(scene: Scene) -> None:
    steps = [s.step for s in scene.res.record.steps]
    notify = next(i for i, s in enumerate(steps) if s.startswith("notify"))
    terminate = next(i for i, s in enumerate(steps) if s.startswith("terminate"))
    assert notify < terminate
    # the grace period's first notice, its countdown, then the last word before the GUI goes
    assert [n["summary"] for n in scene.st.world.notifications if not n.get("console")] == [
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


# ------------------------------------------------------------------ guards


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


def _restart_slowly(scene: Scene, unit: str) -> None:
    """Stop `unit`, then start it with a 300 s start job: it stays `activating`."""
    world = scene.st.world
    world.set_unit_behaviour(unit, UnitBehaviour(start_s=300.0))
    scene.st.backend.stop_unit(unit)
    world.advance(5)
    scene.st.backend.start_unit(unit)
    world.advance(1)


@given("vLLM is restarting")
def vllm_restarting(scene: Scene) -> None:
    _restart_slowly(scene, scene.st.policy.units.vllm)


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


# ------------------------------------------------------------------ GPU release


@given(parsers.parse("GPU {index:d} releases its memory {delay:d} seconds after the desktop ends"))
def release_delayed(scene: Scene, index: int, delay: int) -> None:
    scene.st.world.set_gpu_release(index, "delayed", delay_s=float(delay))


@given(parsers.parse("the desktop holds {mib:d} MiB on GPU 0"))
def desktop_holds(scene: Scene, mib: int) -> None:
    world = scene.st.world
    world.set_display(attrs.evolve(world.display, compositor_mib=mib))
    session = next(iter(world.logind.sessions))
    world.remove_session(session)  # the display manager logs in again with the new size
    world.advance(10)
    gpus = scene.facts().gpus
    assert not isinstance(gpus, Unavailable)
    assert gpus[0].memory_used_mib == mib


@given(parsers.parse('the workstation came up with "{target}" as its boot target'))
def came_up_as(scene: Scene, target: str) -> None:
    world = scene.st.world
    scene.st.backend.isolate(target)
    world.advance(60)
    assert scene.st.observe().state is not ObservedState.DESKTOP


@given(parsers.parse("GPU {index:d} never releases its memory"))
def release_never(scene: Scene, index: int) -> None:
    scene.st.world.set_gpu_release(index, "never")


@given(parsers.parse("GPU {index:d} keeps a residual of {mib:d} MiB after the desktop ends"))
def release_partial(scene: Scene, index: int, mib: int) -> None:
    scene.st.world.set_gpu_release(index, "partial", residual_mib=mib)


@given(parsers.parse("vLLM needs {mib:d} MiB on each GPU"))
def vllm_needs(scene: Scene, mib: int) -> None:
    policy = attrs.evolve(scene.st.policy,
                          vllm=attrs.evolve(scene.st.policy.vllm, memory_per_gpu_mib=mib))
    scene.st.world.set_policy(policy)


@then("the record says the display GPU was not released")
def record_not_released(scene: Scene) -> None:
    assert "display GPU not released" in (scene.res.record.failure or "")


@then(parsers.parse('at no point was the observed state "{state}"'))
def never_state(scene: Scene, state: str) -> None:
    assert scene.watcher is not None
    assert scene.watcher.seen, "no step was watched"
    assert state not in [s.value for s in scene.watcher.seen]


# ------------------------------------------------------------------ the observer


@when("vLLM is started by hand")
def vllm_by_hand(scene: Scene) -> None:
    world = scene.st.world
    gpu = world.gpus[1]
    scene.st.backend.write_vllm_profile(VllmProfile("compute", (gpu.spec.uuid,), (1,)))
    scene.st.backend.start_unit(scene.st.policy.units.vllm)
    world.advance(120)


@given(parsers.parse('the desired file says "{mode}"'))
def desired_says(scene: Scene, mode: str) -> None:
    scene.st.state.write_desired(Mode(mode), "test", "test")


@given("the studio overlay services were started by hand")
def overlay_by_hand(scene: Scene) -> None:
    backend, names = scene.st.backend, scene.st.policy.units
    backend.start_unit(names.studio_policy)
    backend.start_unit(names.audio_priority)
    scene.st.world.advance(10)


# ------------------------------------------------------------------ lock, studio, boot


@given("another controller holds the lock")
def lock_held(scene: Scene) -> None:
    scene.st.store.acquire(LockHolder(999, "boot", "earlier", "studio-local", "other-1"))


@given("a controller was killed while holding the lock")
def lock_abandoned(scene: Scene) -> None:
    scene.st.store.acquire(LockHolder(998, "boot", "earlier", "compute", "dead-1"))
    scene.st.store.holder_alive = None  # its process is gone


@then(parsers.parse('the audit log has a "{outcome}" record'))
@then(parsers.parse('the audit log has an "{outcome}" record'))
def audit_has(scene: Scene, outcome: str) -> None:
    assert outcome in [r.outcome.value for r in scene.st.records()]


@then("the record says the lock was recovered")
def lock_recovered(scene: Scene) -> None:
    assert (scene.res.record.lock_recovered or {}).get("attempt") == "dead-1"


@given(parsers.parse("someone set the {name} slice CPU weight to {weight:d}"))
def someone_sets_slice(scene: Scene, name: str, weight: int) -> None:
    full = f"{name}.slice"
    current = _slice(scene, full)
    scene.st.backend.set_slice_properties(full, attrs.evolve(current, cpu_weight=weight))


@when("the workstation reboots")
def reboots(scene: Scene) -> None:
    from dubnium.state import MemoryStore

    scene.st.world.reboot()
    scene.st.store = MemoryStore()  # /run/mode-controller is a tmpfs: gone with the boot


@when("the boot normalisation runs")
def boot_runs(scene: Scene) -> None:
    scene.result = scene.st.boot()
    scene.requests += 1


@then(parsers.parse('the desired mode is "{mode}"'))
def desired_is(scene: Scene, mode: str) -> None:
    desired = scene.st.state.read_desired()
    assert desired is not None
    assert desired.value == mode


# ------------------------------------------------------------------ the mode command


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def _run(scene: Scene, command: str, user: str | None = None) -> None:
    assert scene.state_dir is not None
    argv = shlex.split(command)
    argv[0] = _tool(argv[0])
    argv = [str(scene.config) if a == "CONFIG" else a for a in argv]
    env = {**os.environ, "DUBNIUM_BACKEND": "sim", "DUBNIUM_STATE_DIR": str(scene.state_dir)}
    env.pop("DUBNIUM_CONFIG", None)
    if user is not None and os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    scene.proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60,
                                check=False)


@given("a fresh simulated workstation for the mode command")
def fresh_cli(scene: Scene, tmp_path: Path) -> None:
    scene.state_dir = tmp_path / "state"
    _run(scene, "mode-sim create --seed 3 --gpus 2")
    proc = _proc(scene)
    assert proc.returncode == 0, proc.stderr


@given(parsers.parse("a config file containing '{content}'"))
def config_file(scene: Scene, tmp_path: Path, content: str) -> None:
    scene.config = tmp_path / "config.json"
    scene.config.write_text(content)


@given("the owner has already made a request with the mode command")
def cli_request(scene: Scene) -> None:
    _run(scene, "mode request studio-local")
    proc = _proc(scene)
    assert proc.returncode == 0, proc.stdout


@given(parsers.parse('the state file "{name}" is truncated'))
def truncate_state(scene: Scene, name: str) -> None:
    assert scene.state_dir is not None
    path = scene.state_dir / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    scene.audit_lines = (scene.state_dir / "events.jsonl").read_text().splitlines()
    assert scene.audit_lines


@given("the simulated world file is replaced with garbage")
def garbage_world(scene: Scene) -> None:
    assert scene.state_dir is not None
    (scene.state_dir / "sim-world.json").write_bytes(b"\x00garbage{")


@given(parsers.parse('the simulated world has an audio stream "{name}"'))
def cli_audio(scene: Scene, name: str) -> None:
    _run(scene, f"mode-sim audio start {name}")
    proc = _proc(scene)
    assert proc.returncode == 0, proc.stderr


@when(parsers.parse('I run "{command}"'))
@then(parsers.parse('I run "{command}"'))
def i_run(scene: Scene, command: str) -> None:
    _run(scene, command)


@when(parsers.parse('an unprivileged user runs "{command}"'))
def unprivileged_runs(scene: Scene, command: str) -> None:
    _run(scene, command, user="nobody")


def _proc(scene: Scene) -> subprocess.CompletedProcess[str]:
    assert scene.proc is not None
    return scene.proc


@then(parsers.parse("it exits with code {code:d}"))
def exits_with(scene: Scene, code: int) -> None:
    proc = _proc(scene)
    assert proc.returncode == code, (proc.stdout, proc.stderr)


@then(parsers.parse('it prints one line mentioning "{text}"'))
def one_line(scene: Scene, text: str) -> None:
    err = _proc(scene).stderr.strip().splitlines()
    assert len(err) == 1, err
    assert text in err[0], err


@then("no traceback is shown")
def no_traceback(scene: Scene) -> None:
    proc = _proc(scene)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().startswith("mode"), proc.stderr


@then(parsers.parse('it prints "{text}"'))
def prints(scene: Scene, text: str) -> None:
    assert _proc(scene).stdout.strip() == text


@then("the audit log still has all its lines")
def audit_intact(scene: Scene) -> None:
    assert scene.state_dir is not None
    now = (scene.state_dir / "events.jsonl").read_text().splitlines()
    assert now[: len(scene.audit_lines)] == scene.audit_lines
    assert all(json.loads(line)["schema_version"] == 1 for line in now)



# ------------------------------------------------------------------ EXO (issue 6)


@given(parsers.re(r"a simulated workstation with 2 GPUs and EXO (?P<how>sharing the GPUs "
                  r"with vLLM|on its own GPU)"))
def exo_workstation(scene: Scene, how: str) -> None:
    from dubnium.policy import Exo, default_policy

    share = "shared" if how.startswith("sharing") else "split"
    policy = attrs.evolve(default_policy(), exo=Exo(enable=True, gpu_share=share))
    scene.station = Station.create(seed=7, policy=policy)
    scene.watcher = StateWatcher(scene.station)
    scene.station.reporter = scene.watcher
    assert scene.st.observe().state is ObservedState.DESKTOP


def _gpus_of(scene: Scene, comm: str) -> list[int]:
    gpus = scene.facts().gpus
    assert not isinstance(gpus, Unavailable)
    return sorted(g.index for g in gpus if any(p.name == comm for p in g.compute_processes))


@then(parsers.parse("EXO is running on GPUs 0 and 1"))
def exo_both(scene: Scene) -> None:
    assert (_unit_up(scene, scene.st.policy.units.exo), _gpus_of(scene, "exo")) == (True, [0, 1])


@then(parsers.parse("EXO is running on GPU {index:d} only"))
def exo_one(scene: Scene, index: int) -> None:
    assert (_unit_up(scene, scene.st.policy.units.exo), _gpus_of(scene, "exo")) == (
        True, [index])


@then("EXO is stopped")
def exo_stopped(scene: Scene) -> None:
    assert (_unit_up(scene, scene.st.policy.units.exo), _gpus_of(scene, "exo")) == (False, [])


@given("EXO fails to start")
def exo_fails(scene: Scene) -> None:
    scene.st.world.set_unit_behaviour(scene.st.policy.units.exo,
                                      UnitBehaviour(start_s=2.0, start_fails=True))


@given("EXO is restarting")
def exo_restarting(scene: Scene) -> None:
    _restart_slowly(scene, scene.st.policy.units.exo)


@when("EXO is started by hand")
def exo_by_hand(scene: Scene) -> None:
    world = scene.st.world
    scene.st.backend.write_exo_profile(VllmProfile("compute", (world.gpus[1].spec.uuid,), (1,)))
    scene.st.backend.start_unit(scene.st.policy.units.exo)
    world.advance(60)


# ------------------------------------------------------------------ regressions (fault campaigns)


@given(parsers.parse('the runtime state file "{name}" is replaced with garbage'))
def runtime_file_garbage(scene: Scene, name: str) -> None:
    scene.st.store.files[name] = b"\x00\xffgarbage{"


@given(parsers.parse("setting slice properties reports success {times:d} times without "
                     "changing anything"))
def slice_calls_ignored(scene: Scene, times: int) -> None:
    from simulator.actionfaults import ActionFault, FaultEffect

    scene.st.world.inject_action_fault(
        ActionFault("set_slice_properties", FaultEffect.IGNORED, times=times))


@given(parsers.parse("the {unit} stop job hangs"))
def stop_job_hangs(scene: Scene, unit: str) -> None:
    world = scene.st.world
    world.set_unit_behaviour(unit, attrs.evolve(world.systemd.units[unit].behaviour,
                                                stop_hangs=True))


@then(parsers.parse('the record notes "{text}"'))
def record_notes(scene: Scene, text: str) -> None:
    notes = scene.res.record.notes
    assert any(text in note for note in notes), notes


class LoginAtStep(StateWatcher):
    """Someone logs in graphically (x11, another seat) just before a given step starts."""

    def __init__(self, station: Station, step_prefix: str) -> None:
        super().__init__(station)
        self.prefix = step_prefix
        self.logged_in = False
        self.compute_on_gpu0: list[bool] = []

    def step_started(self, leg: str, step: object) -> None:
        describe = getattr(step, "describe", None)
        if not self.logged_in and describe is not None and describe().startswith(self.prefix):
            self.logged_in = True
            self.station.world.add_session("x11", "owner")

    def step_finished(self, leg: str, step: object, status: str, detail: str) -> None:
        super().step_finished(leg, step, status, detail)
        gpu = self.station.world.gpus[0]
        self.compute_on_gpu0.append(any(a.kind.value == "compute"
                                        for a in gpu.allocations.values()))


@given(parsers.parse('someone logs in graphically just before the step "{prefix}"'))
def login_at_step(scene: Scene, prefix: str) -> None:
    scene.watcher = LoginAtStep(scene.st, prefix)
    scene.st.reporter = scene.watcher


@then("vLLM never held memory on GPU 0")
def vllm_never_on_gpu0(scene: Scene) -> None:
    watcher = scene.watcher
    assert isinstance(watcher, LoginAtStep)
    assert watcher.logged_in
    assert [] == [i for i, on in enumerate(watcher.compute_on_gpu0) if on]


# The steps of features/contracts.feature live in their own module (this one is long enough).
from tests.bdd.contract_steps import *  # noqa: E402, F403
