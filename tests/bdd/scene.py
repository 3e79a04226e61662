"""The scenario's state and the readers the step modules share (tests/bdd/steps/).

A `Scene` holds one scenario's workstation (`simulator.harness.Station`), its last request's
result and, for the CLI scenarios, the state directory and the last process. Everything here
reads the world through its public API or through the controller's observation
(`Station.backend`), never through the simulator's models.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs

from dubnium.facts import HostFacts, SliceSettings, Unavailable, VllmProfile
from dubnium.modes import ObservedState
from dubnium.observe import classify
from dubnium.reconcile import Reporter, Result
from simulator.harness import Station
from simulator.systemd import UnitBehaviour


class StateWatcher(Reporter):
    """Classifies the world after every step of a transition (for 'at no point ...')."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.seen: list[ObservedState] = []

    def step_finished(self, leg: str, step: object, status: str, detail: str) -> None:
        self.seen.append(classify(self.station.backend.observe(), self.station.policy).state)


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
        self.compute_on_gpu0.append(self.station.world.compute_on_gpu(0))


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

    def start(self, station: Station) -> None:
        """This scenario's workstation, watched step by step, booted to desktop."""
        self.station = station
        self.watcher = StateWatcher(station)
        station.reporter = self.watcher
        assert station.observe().state is ObservedState.DESKTOP


def unit_up(scene: Scene, name: str) -> bool:
    units = scene.facts().units
    assert not isinstance(units, Unavailable)
    return units.is_active(name)


def slice_of(scene: Scene, name: str) -> SliceSettings:
    slices = scene.facts().slice_settings()
    assert not isinstance(slices, Unavailable)
    return slices[name]


def graphical_sessions(scene: Scene) -> list[str]:
    sessions = scene.facts().sessions
    assert not isinstance(sessions, Unavailable)
    return [s.id for s in sessions if s.graphical]


def gpus_running(scene: Scene, comm: str) -> list[int]:
    """The GPUs on which a compute process called `comm` holds memory."""
    gpus = scene.facts().gpus
    assert not isinstance(gpus, Unavailable)
    return sorted(g.index for g in gpus if any(p.name == comm for p in g.compute_processes))


def start_by_hand(scene: Scene, workload: str, wait_s: float) -> None:
    """Someone writes vLLM's (or EXO's) profile for GPU 1 and starts its unit, outside the
    controller; then `wait_s` pass."""
    st = scene.st
    profile = VllmProfile("compute", (st.world.gpu_uuids()[1],), (1,))
    if workload == "exo":
        st.backend.write_exo_profile(profile)
        unit = st.policy.units.exo
    else:
        st.backend.write_vllm_profile(profile)
        unit = st.policy.units.vllm
    st.backend.start_unit(unit)
    st.world.advance(wait_s)


def restart_slowly(scene: Scene, unit: str) -> None:
    """Stop `unit`, then start it with a 300 s start job: it stays `activating`."""
    world, backend = scene.st.world, scene.st.backend
    world.set_unit_behaviour(unit, UnitBehaviour(start_s=300.0))
    backend.stop_unit(unit)
    world.advance(5)
    backend.start_unit(unit)
    world.advance(1)
