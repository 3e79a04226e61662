"""The simulated world as JSON and back: everything, pending events included.

`dump(world)` is what `<state_dir>/sim-world.json` holds (`simulator.persist.WorldFile`) and
what `mode-sim show --json` prints; `load(data)` gives back a world that runs on exactly as
the dumped one would have (same events at the same times, same seeded streams).
Schema-versioned; a wrong shape is a ValueError (or KeyError/TypeError, which the file
reader turns into one line).
"""

from __future__ import annotations

from typing import Any

from dubnium.errors import ConfigError
from dubnium.policyload import load_policy_data
from simulator import jsonutil
from simulator.actionfaults import ActionFault
from simulator.clock import Event
from simulator.gpu import Gpu
from simulator.host import HostState
from simulator.logind import Logind, SessionBehaviour
from simulator.pipewire import Pipewire
from simulator.processes import ProcessTable
from simulator.rng import Streams
from simulator.studio import StudioModel
from simulator.systemd import Systemd
from simulator.trace import Recorder
from simulator.vllm import Vllm
from simulator.world import OBSERVABLE_GROUPS, DisplayBehaviour, World

WORLD_SCHEMA_VERSION = 1
WORLD_KIND = "dubnium-sim-world"


def dump(world: World) -> dict[str, Any]:
    """Everything: the policy, time and pending events, every model, every behaviour."""
    data = {
        "kind": WORLD_KIND,
        "schema_version": WORLD_SCHEMA_VERSION,
        "seed": world.seed,
        "policy": world.policy.to_json(),
        "time": {"now_ns": world.now_ns, "next_seq": world.scheduler.next_seq,
                 "wall_epoch_ns": world.wall_epoch_ns},
        "events": [e.to_json() for e in world.scheduler.pending()],
        "rng": world.streams.to_json(),
        "boot": {"count": world.boot_count, "id": world.boot_id},
        "display": jsonutil.to_json(world.display),
        "session_behaviour": jsonutil.to_json(world.session_behaviour),
        "systemd": world.systemd.to_json(),
        "logind": world.logind.to_json(),
        "processes": world.processes.to_json(),
        "gpus": [g.to_json() for g in world.gpus.values()],
        "next_alloc_id": world.wiring.next_alloc_id,
        "audio": world.audio.to_json(),
        "vllm": world.vllm.to_json(),
        "exo": world.exo.to_json(),
        "studio": world.studio.to_json(),
        "host": world.host.to_json(),
        "notifications": list(world.notifications),
        "unavailable": dict(world.unavailable),
        "action_faults": [jsonutil.to_json(f) for f in world.action_faults],
        "seat": world.seat.to_json(),
    }
    if world.vllm_need_mib is not None:  # only while the fault vllm_oom is in force
        data["vllm_need_mib"] = world.vllm_need_mib
    return data


def load(data: Any, recorder: Recorder | None = None) -> World:
    """The world `dump` wrote. ValueError (or KeyError/TypeError) on a wrong shape."""
    if not isinstance(data, dict) or data.get("kind") != WORLD_KIND:
        raise ValueError("not a simulated world")
    version = data.get("schema_version")
    if version != WORLD_SCHEMA_VERSION:
        raise ValueError(f"world schema_version {version!r}, expected "
                         f"{WORLD_SCHEMA_VERSION}")
    try:
        policy = load_policy_data(data["policy"])
    except ConfigError as exc:
        raise ValueError(f"policy: {exc}") from None
    seed = data["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed: expected an integer")
    world = World(seed, policy, recorder)
    time = data["time"]
    world.scheduler.now_ns = int(time["now_ns"])
    world.scheduler.next_seq = int(time["next_seq"])
    world.wall_epoch_ns = int(time["wall_epoch_ns"])
    for raw in data["events"]:
        event = Event.from_json(raw)
        if event.kind not in world.wiring.handlers:
            raise ValueError(f"unknown event kind {event.kind!r}")
        if event.at_ns < world.scheduler.now_ns:
            raise ValueError(f"event {event.kind} is in the past")
        world.scheduler.push(event)
    world.streams = Streams.from_json(data["rng"])
    world.systemd = Systemd(world.scheduler, world.streams.stream("systemd.jobs"),
                            world.wiring, world.recorder)
    world.systemd.load_json(data["systemd"])
    world.boot_count = int(data["boot"]["count"])
    world.boot_id = str(data["boot"]["id"])
    world.display = jsonutil.from_json(DisplayBehaviour, data["display"])
    world.session_behaviour = jsonutil.from_json(SessionBehaviour, data["session_behaviour"])
    world.logind = Logind.from_json(data["logind"])
    world.processes = ProcessTable.from_json(data["processes"])
    for raw in data["gpus"]:
        gpu = Gpu.from_json(raw)
        world.gpus[gpu.spec.index] = gpu
    world.wiring.next_alloc_id = int(data["next_alloc_id"])
    world.audio = Pipewire.from_json(data["audio"])
    world.vllm = Vllm.from_json(data["vllm"])
    world.exo = Vllm.from_json(data["exo"])
    need = data.get("vllm_need_mib")  # absent unless the fault vllm_oom is in force
    if need is not None and (isinstance(need, bool) or not isinstance(need, int)):
        raise ValueError("vllm_need_mib: expected an integer")
    world.vllm_need_mib = need
    if "studio" in data:  # worlds saved before issue 15 start with the defaults
        world.studio = StudioModel.from_json(data["studio"])
    world.host = HostState.from_json(data["host"])
    world.notifications = [dict(n) for n in data["notifications"]]
    unavailable = data["unavailable"]
    if not isinstance(unavailable, dict) or set(unavailable) - set(OBSERVABLE_GROUPS):
        raise ValueError("unavailable: unknown evidence group")
    world.unavailable = {str(k): str(v) for k, v in unavailable.items()}
    world.action_faults = [jsonutil.from_json(ActionFault, f) for f in data["action_faults"]]
    if "seat" in data:  # absent in worlds saved before idle automation
        world.seat.load_json(data["seat"])
    return world
