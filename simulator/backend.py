"""`SimBackend`: the controller's view of a simulated `World`, through the Backend protocol.

`SimBackend(world)` is the one way to get one; it holds nothing but the world and its last
snapshot (handed out again, the same object, while every model's facts are the very same:
issue 16), so any number of them over one world are the same view. Handed to the
reconciler by the `mode` CLI (via `simulator.persist.SimSession`), by
`simulator.harness.Station` (the Gherkin steps, the state machine, the fault campaigns) and
by the contract suite. `observe()` builds `HostFacts` straight from the models' cached facts
(no JSON, no copies), so a campaign can observe tens of thousands of times a second; a group
the world marks unavailable is carried as `Unavailable(reason)`. Actions queue jobs and
return at once, as the real ones do; an action fault injected into the world
(`simulator.actionfaults`) can make one fail, time out after taking effect, or report
success while doing nothing.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dubnium.backend import Clock, Delivery
from dubnium.errors import BackendError
from dubnium.facts import (
    AudioGraph,
    GpuFact,
    HostFacts,
    SliceSettings,
    Unavailable,
    Units,
    VllmProfile,
)
from dubnium.idle import IdleFacts
from dubnium.policy import Policy
from dubnium.studiofacts import AudioReadiness, CpuSetting
from simulator import actionfaults
from simulator.world import World


class SimBackend:
    """`dubnium.backend.Backend` over one World."""

    def __init__(self, world: World) -> None:
        self.world = world
        # The last snapshot and the parts it was built from: when every model hands out
        # the very same (immutable) facts again, so is the snapshot (issue 16).
        self._last: tuple[tuple[object, ...], HostFacts] | None = None
        self._read: tuple[GpuFact, ...] = ()
        # What `_derive` made of the last units, audio graph and policy (the same objects
        # while those models are unchanged).
        self._derived: tuple[Units | None, AudioGraph | None, Policy | None, bool, bool, str] = (
            None, None, None, False, False, "")

    @property
    def name(self) -> str:
        return "sim"

    @property
    def clock(self) -> Clock:
        return self.world.clock

    # ----------------------------------------------------------------- observation

    def observe(self) -> HostFacts:
        self.world.recorder.observed(self.world.scheduler.now_ns)
        return self.snapshot(read_nvml=True)

    def snapshot(self, read_nvml: bool = False) -> HostFacts:
        """What `observe` returns, without telling the world's recorder (the invariants'
        look at `mode current` must not fire the faults armed on observations) and without
        counting as an NVML read (`read_nvml`: the controller's own observation)."""
        w = self.world
        now = w.scheduler.now_ns
        units = w.systemd.facts()
        audio = w.audio.facts()
        derived = self._derived
        if derived[0] is not units or derived[1] is not audio or derived[2] is not w.policy:
            derived = self._derived = (units, audio, w.policy, *_derive(units, audio, w.policy))
        quiet, running, driver = derived[3], derived[4], derived[5]
        read = tuple([g.fact() for g in w.gpus.values()])
        if self._last is not None and _same(self._read, read):
            read = self._read  # the same facts: the same tuple, so the snapshot is too
        self._read = read
        gpus, gpus_read_at = w.studio.gpus(quiet, read, now, running, count=read_nvml)
        parts = (now, w.boot_id, units, w.logind.facts(), w.processes.facts(now), audio,
                 gpus, gpus_read_at, w.studio.clock(driver), w.studio.cpu(), w.host.load,
                 w.host.memory, w.host.pressure, w.systemd.slice_facts(), w.host.paths_fact(),
                 w.vllm.profile, w.host.model_fact())
        last = self._last
        if last is not None and _same(last[0], parts):
            facts = last[1]  # every model handed out the very facts it did last time
        else:
            facts = HostFacts(
                observed_at_ns=now,
                boot_id=w.boot_id,
                units=units,
                sessions=parts[3],
                processes=parts[4],
                audio=audio,
                gpus=gpus,
                gpus_read_at_ns=gpus_read_at,
                audio_clock=parts[8],
                cpufreq=parts[9],
                load=w.host.load,
                memory=w.host.memory,
                pressure=w.host.pressure,
                slices=parts[13],
                paths=parts[14],
                vllm_profile=w.vllm.profile,
                model=parts[16],
            )
            self._last = (parts, facts)
        if not w.unavailable:
            return facts
        missing: dict[str, Any] = {group: Unavailable(reason)
                                   for group, reason in w.unavailable.items()}
        return attrs.evolve(facts, **missing)

    def idle_facts(self) -> IdleFacts:
        """Idle hints, inhibitor locks and the last console key (`dubnium.idle.IdleSource`)."""
        facts = self.world.seat.facts()
        if "sessions" in self.world.unavailable:
            facts = attrs.evolve(facts, sessions=Unavailable(self.world.unavailable["sessions"]))
        return facts

    # ----------------------------------------------------------------- actions

    def _act(self, action: str, target: str, args: Mapping[str, Any],
             effect: Callable[[], None]) -> None:
        w = self.world
        w.recorder.action(w.now_ns, action, args)
        actionfaults.perform(w.action_faults, action, target, effect)

    def start_unit(self, name: str) -> None:
        self._act("start_unit", name, {"unit": name}, lambda: self.world.systemd.start(name))

    def stop_unit(self, name: str) -> None:
        self._act("stop_unit", name, {"unit": name}, lambda: self.world.systemd.stop(name))

    def isolate(self, target: str) -> None:
        self._act("isolate", target, {"unit": target},
                  lambda: self.world.systemd.isolate(target))

    def kill_unit(self, name: str) -> None:
        self._act("kill_unit", name, {"unit": name}, lambda: self.world.wiring.kill_unit(name))

    def reset_failed(self, name: str) -> None:
        self._act("reset_failed", name, {"unit": name},
                  lambda: self.world.systemd.reset_failed(name))

    def console_message(self, text: str) -> None:
        with contextlib.suppress(Exception):  # best effort by contract: never raises
            self.world.wiring.console(text)

    def set_slice_properties(self, slice_name: str, settings: SliceSettings) -> None:
        """Replace the slice's runtime settings: a None field resets that property."""
        self._act("set_slice_properties", slice_name,
                  {"slice": slice_name, **settings.to_json()},
                  lambda: self.world.systemd.set_slice(slice_name, settings))

    def terminate_session(self, session_id: str) -> None:
        self._act("terminate_session", session_id, {"session": session_id},
                  lambda: self.world.wiring.terminate_session(session_id))

    def notify_user(self, summary: str, body: str) -> Delivery:
        try:  # best effort by contract: never raises
            return self.world.wiring.notify(summary, body)
        except Exception as exc:
            return Delivery(0, 0, repr(exc))

    def write_vllm_profile(self, profile: VllmProfile) -> None:
        def write() -> None:
            self.world.vllm.profile = profile

        self._act("write_vllm_profile", profile.name, profile.to_json(), write)

    def write_exo_profile(self, profile: VllmProfile) -> None:
        def write() -> None:
            self.world.exo.profile = profile

        self._act("write_exo_profile", profile.name, profile.to_json(), write)

    def set_audio_clock(self, force_quantum: int, force_rate: int) -> None:
        self._act("set_audio_clock", "settings",
                  {"force_quantum": force_quantum, "force_rate": force_rate},
                  lambda: self.world.studio.set_clock(force_quantum, force_rate))

    def set_cpu_policy(self, setting: CpuSetting) -> None:
        def apply() -> None:
            try:
                self.world.studio.set_cpu(setting)
            except ValueError as exc:
                raise BackendError(str(exc)) from None

        self._act("set_cpu_policy", setting.policy, setting.to_json(), apply)

    def audio_readiness(self) -> AudioReadiness:
        return self.world.studio.audio_readiness()

    @property
    def nvml_reads(self) -> int:
        """How many times this backend read the (simulated) NVML."""
        return self.world.studio.nvml_reads

    def describe(self) -> Mapping[str, object]:
        w = self.world
        return {
            "backend": "sim",
            "seed": w.seed,
            "boot_id": w.boot_id,
            "virtual_time_s": w.now_ns / 1e9,
            "gpus": [{"index": g.spec.index, "uuid": g.spec.uuid, "name": g.spec.name,
                      "release": g.release.kind.value} for g in w.gpus.values()],
            "units": sorted(w.systemd.units),
            "unavailable": dict(w.unavailable),
            "can_see": ["units", "sessions", "processes", "audio", "gpus", "load", "memory",
                        "pressure", "slices", "paths", "vllm_profile", "audio_clock",
                        "cpufreq"],
        }


def _derive(units: Units, audio: AudioGraph, policy: Policy) -> tuple[bool, bool, str]:
    """What a snapshot reads off the unit states and the audio graph: whether NVML is left
    alone (the overlay's markers are up, as on the host: issue 15), whether audio is
    running (an NVML read costs it an xrun) and the running sink driving the graph."""
    names = policy.units
    quiet = units.is_active(names.studio_policy) or units.is_active(names.audio_priority)
    running = any(n.is_busy_stream or n.is_jack_client for n in audio.nodes)
    driver = next((n.name for n in audio.nodes
                   if n.media_class == "Audio/Sink" and n.state == "running"), "")
    return quiet, running, driver


def _same(old: tuple[object, ...], new: tuple[object, ...]) -> bool:
    """The two tuples hold the very same objects."""
    return len(old) == len(new) and all(map(operator.is_, old, new))
