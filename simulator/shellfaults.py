"""Faults injected from the shell into the persisted world: `mode-sim fault add|list|clear`.

Every fault kind the campaigns use (`simulator.faults.FaultKind`) can be added to the world in
a state directory, with the same parameters and the same checks as in a fault plan
(`simulator.plancheck.PARAMS`). Faults that act at once change the world when added; armed
ones (mid-transition audio, JACK, a slice change or a second session after N observations,
vLLM crashes, evidence unavailable for N observations, the controller killed before step N)
wait in `<state_dir>/sim-faults.json` and are ticked by the `mode` process through its
simulated backend (`simulator.persist.WriteThrough`) and its step hook. A controller kill is
real: the `mode` process saves the world and sends itself SIGKILL, exactly as `kill -9`.
`fault clear` heals what can be healed (as a campaign's heal does) and disarms the rest.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dubnium import fsutil
from simulator import faults as f
from simulator import jsonutil
from simulator.faults import ControllerKilled, Fault, FaultKind, Triggers, _Armed
from simulator.harness import Station
from simulator.plancheck import PlanError, _fault_params
from simulator.systemd import UnitBehaviour
from simulator.world import World

FAULTS_FILE = "sim-faults.json"
FAULTS_VERSION = 1


class ShellFaults:
    """The faults added to one persisted world, and the armed ones' countdowns."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / FAULTS_FILE
        self.added: list[Fault] = []
        self.defaults: dict[str, UnitBehaviour] = {}  # unit behaviours before the first fault
        self.armed: list[tuple[Fault, int, str]] = []
        self.crash_vllm = 0
        self.unavailable_for: dict[str, int] = {}

    # ----------------------------------------------------------------- persistence

    def exists(self) -> bool:
        return self.path.is_file()

    @classmethod
    def load(cls, state_dir: Path) -> ShellFaults:
        faults = cls(state_dir)
        raw = fsutil.read_regular(faults.path)
        if raw is None:
            return faults
        data = json.loads(raw)
        if data.get("faults_version") != FAULTS_VERSION:
            raise ValueError(f"{faults.path}: not a fault file of version {FAULTS_VERSION}")
        faults.added = [Fault.from_json(x) for x in data["added"]]
        faults.defaults = {name: jsonutil.from_json(UnitBehaviour, b)
                           for name, b in data["defaults"].items()}
        faults.armed = [(Fault.from_json(a["fault"]), int(a["countdown"]), str(a["on"]))
                        for a in data["armed"]]
        faults.crash_vllm = int(data["crash_vllm"])
        faults.unavailable_for = {str(k): int(v) for k, v in data["unavailable_for"].items()}
        return faults

    def save(self) -> None:
        if not (self.added or self.armed or self.crash_vllm or self.unavailable_for):
            self.path.unlink(missing_ok=True)
            return
        data = {
            "faults_version": FAULTS_VERSION,
            "added": [x.to_json() for x in self.added],
            "defaults": {name: jsonutil.to_json(b) for name, b in self.defaults.items()},
            "armed": [{"fault": x.to_json(), "countdown": n, "on": on}
                      for x, n, on in self.armed],
            "crash_vllm": self.crash_vllm,
            "unavailable_for": self.unavailable_for,
        }
        fsutil.atomic_write(self.path, (json.dumps(data, sort_keys=True) + "\n").encode())

    # ----------------------------------------------------------------- triggers

    def triggers(self, world: World) -> Triggers:
        station = Station(world)
        triggers = Triggers(station)
        triggers.armed = [_Armed(x, n, on) for x, n, on in self.armed]
        triggers.crash_vllm = self.crash_vllm
        triggers.unavailable_for = dict(self.unavailable_for)
        return triggers

    def keep(self, triggers: Triggers) -> None:
        self.armed = [(a.fault, a.countdown, a.on) for a in triggers.armed]
        self.crash_vllm = triggers.crash_vllm
        self.unavailable_for = dict(triggers.unavailable_for)

    @property
    def active(self) -> bool:
        return bool(self.armed or self.crash_vllm or self.unavailable_for)

    # ----------------------------------------------------------------- verbs

    def add(self, world: World, fault: Fault, state_dir: Path) -> str:
        """Check `fault` like a plan's, then apply or arm it; what happened, as a line."""
        try:
            _fault_params(fault.kind, fault.to_json(), fault.kind.value)
        except PlanError as exc:
            raise ValueError(str(exc)) from None
        if fault.kind is FaultKind.STORAGE_FAULT:
            raise ValueError("storage_fault acts on the campaigns' simulated disk; a persisted "
                             "world's state directory is a real one (fill or remount it)")
        if not self.added:
            self.defaults = {name: u.behaviour for name, u in world.systemd.units.items()}
        if fault.kind is FaultKind.STATE_FILE_CORRUPT:
            applied = corrupt_file(Path(state_dir), str(fault.params["file"]),
                                   str(fault.params["how"]))
        else:
            triggers = self.triggers(world)
            applied = f.inject(Station(world), fault, triggers)
            self.keep(triggers)
        if not applied:
            return f"{fault.kind.value}: cannot apply now (nothing changed)"
        self.added.append(fault)
        armed = f.is_armed(fault) or fault.kind in (FaultKind.EVIDENCE_UNAVAILABLE,)
        return f"{fault.kind.value}: {'armed' if armed else 'applied'} {dict(fault.params)}"

    def listing(self) -> list[str]:
        lines = [f"added: {x.kind.value} {json.dumps(dict(x.params), sort_keys=True)}"
                 for x in self.added]
        lines += [f"armed: {x.kind.value} in {n} {on}(s)" for x, n, on in self.armed]
        if self.crash_vllm:
            lines.append(f"armed: vllm_crash_loop ({self.crash_vllm} crash(es) to come)")
        lines += [f"armed: {group} unavailable for {n} more observation(s)"
                  for group, n in sorted(self.unavailable_for.items())]
        return lines

    def clear(self, world: World) -> str:
        """Heal what can be healed (as after a campaign's faults) and disarm the rest."""
        if not self.added:
            return "no faults to clear"
        triggers = self.triggers(world)
        f.heal(Station(world), triggers, self.defaults)
        count = len(self.added)
        self.added, self.armed, self.crash_vllm, self.unavailable_for = [], [], 0, {}
        return f"cleared {count} fault(s); what is physically stuck stays stuck"


def corrupt_file(state_dir: Path, name: str, how: str) -> bool:
    """Truncate a runtime state file in the state directory, or fill it with garbage."""
    path = state_dir / name
    data = fsutil.read_regular(path)
    if data is None:
        return False
    fsutil.atomic_write(path, data[: len(data) // 2] if how == "truncate"
                        else b"\x00\xffgarbage{")
    return True


def tick(faults: ShellFaults, world: World, on: str) -> bool:
    """One observation or step of a `mode` process: fire what is due. True when the
    controller is to be killed now (the caller saves the world first)."""
    triggers = faults.triggers(world)
    try:
        if on == "observation":
            triggers.observed()
        else:
            triggers.step_started()
    except ControllerKilled:
        faults.keep(triggers)
        return True
    faults.keep(triggers)
    return False


def die() -> None:  # pragma: no cover - the process ends here
    """The controller is killed: SIGKILL to ourselves, as `kill -9` from the shell."""
    os.kill(os.getpid(), signal.SIGKILL)


def parse_params(pairs: list[str]) -> Mapping[str, Any]:
    """`key=value` words as JSON scalars (numbers, true/false, else strings)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r}: expected key=value")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        if not isinstance(value, str | int | float | bool):
            value = text
        params[key] = value
    return params
