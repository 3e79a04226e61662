"""Golden digests of simulated runs: the simulator's decisions, byte for byte (issue 16).

Used by `tests/unit/test_trace_golden.py` (which recomputes them) and by
`scripts/trace-digests` (which writes `tests/unit/data/trace_digests.json` from the code as
it is). Speed work on the simulator, the reconciler and the invariants must leave every digest
unchanged; a change that alters what the controller or the world does on purpose rewrites
the file with the script and says why in its commit.

One digest per fault-campaign seed covers: the seed's whole JSON-lines trace (every event,
unit state, job, session, GPU change, action, observation, step, record and fault), then the
audit log's lines, every runtime state file's bytes and the world's saved JSON at the end.
The seeds are 0..N-1 plus, for every fault kind those miss, the first seed that draws it.
A second set repeats the benchmark's loop (alternating full transitions on the default world,
one and two GPUs, no invariants) and digests the same end state.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dubnium.modes import Mode
from simulator import worldjson
from simulator.campaign import Run, TraceWriter
from simulator.faults import FaultKind, draw_plan
from simulator.harness import Station

FIXTURE = Path(__file__).parent / "data" / "trace_digests.json"
FIRST_SEEDS = 120
LOOP_REQUESTS = 40


def _end_state(h: Any, station: Station) -> None:
    for line in station.audit.lines:
        h.update(line.encode() + b"\n")
    for name in sorted(station.store.files):
        h.update(name.encode() + b"\0" + station.store.files[name] + b"\0")
    h.update(json.dumps(worldjson.dump(station.world), sort_keys=True).encode())


def seed_digest(seed: int) -> str:
    """The digest of one campaign seed's trace and end state."""
    trace = TraceWriter(keep=False)
    run = Run(draw_plan(seed), trace)
    run.run()
    h = hashlib.blake2b(trace.digest.encode(), digest_size=16)
    _end_state(h, run.station)
    return h.hexdigest()


def loop_digest(gpus: int) -> str:
    """The digest of the benchmark's transition loop on a `gpus`-GPU world."""
    station = Station.create(seed=1, gpus=gpus)
    h = hashlib.blake2b(digest_size=16)
    modes = (Mode.COMPUTE, Mode.DESKTOP)
    for i in range(LOOP_REQUESTS):
        result = station.request(modes[i % 2])
        h.update(f"{result.outcome.value} {station.world.now_ns}\n".encode())
    _end_state(h, station)
    return h.hexdigest()


def choose_seeds(first: int = FIRST_SEEDS, search: int = 5000) -> list[int]:
    """0..first-1, plus the first seed drawing each fault kind those leave out."""
    seeds = list(range(first))
    seen = {k for s in seeds for k in draw_plan(s).kinds}
    for seed in range(first, search):
        new = set(draw_plan(seed).kinds) - seen
        if new:
            seeds.append(seed)
            seen |= new
        if seen >= set(FaultKind):
            break
    return seeds


def digests(seeds: Iterable[int]) -> dict[str, Any]:
    return {"seeds": {str(s): seed_digest(s) for s in seeds},
            "loops": {str(g): loop_digest(g) for g in (1, 2)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the simulator's golden "
                                     "trace digests.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {FIXTURE.name}")
    args = parser.parse_args(argv)
    fresh = digests(choose_seeds())
    if args.write:
        FIXTURE.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n")
        print(f"wrote {FIXTURE} ({len(fresh['seeds'])} seeds)")
        return 0
    old = json.loads(FIXTURE.read_text())
    differ = [k for k in fresh["seeds"] if old["seeds"].get(k) != fresh["seeds"][k]]
    differ += [f"loop {g}" for g in fresh["loops"] if old["loops"].get(g) != fresh["loops"][g]]
    print(f"{len(differ)} differ: {differ[:20]}" if differ else "all equal")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
