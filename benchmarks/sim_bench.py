"""Simulator benchmarks: transitions per second per core, simulated time per wall second, and
the wall time of a seeded campaign. Prints a Markdown table (pasted into benchmarks/README.md).

    .venv/bin/python benchmarks/sim_bench.py                 # all, 10,000-seed campaign
    .venv/bin/python benchmarks/sim_bench.py --seeds 2000    # a shorter campaign
    .venv/bin/python benchmarks/sim_bench.py --skip-campaign

A "full transition" is one request desktop -> compute or compute -> desktop that runs its
whole plan (guards, stop/isolate, GPU release, vLLM load, re-observation) and converges, on
the default two-GPU world, in one process on one core.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

from dubnium.modes import Mode
from simulator.campaign import Run, run_campaign
from simulator.faults import FaultPlan
from simulator.harness import Station
from simulator.trace import Recorder


class _Counting(Recorder):
    def __init__(self) -> None:
        self.observations = 0
        self.events = 0

    def observed(self, at_ns: int) -> None:
        self.observations += 1

    def event(self, at_ns: int, kind: str, args: object) -> None:
        self.events += 1


def _transitions(request: Callable[[Mode], str], world_ns: Callable[[], int],
                 count: int) -> tuple[float, float]:
    """(transitions per wall second, simulated seconds per wall second)."""
    modes = (Mode.COMPUTE, Mode.DESKTOP)
    for i in range(20):  # warm up
        request(modes[i % 2])
    sim0 = world_ns()
    t0 = time.perf_counter()
    for i in range(count):
        outcome = request(modes[i % 2])
        assert outcome == "converged", outcome
    wall = time.perf_counter() - t0
    return count / wall, (world_ns() - sim0) / 1e9 / wall


def bench_plain(count: int) -> tuple[float, float, float]:
    """The controller and the world alone (no invariants, no trace)."""
    station = Station.create(seed=1)
    counting = _Counting()
    station.world.recorder = counting
    rate, speed = _transitions(lambda m: station.request(m).outcome.value,
                               lambda: station.world.now_ns, count)
    return rate, speed, counting.observations / (count + 20)


def bench_checked(count: int) -> tuple[float, float]:
    """With every invariant checked after every event, step and observation."""
    run = Run(FaultPlan(1, 2))
    rate, speed = _transitions(run.request, lambda: run.station.world.now_ns, count)
    assert not run.checker.violations, run.checker.violations
    return rate, speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-campaign", action="store_true")
    args = parser.parse_args()

    plain_rate, plain_speed, per = bench_plain(args.transitions)
    checked_rate, checked_speed = bench_checked(args.transitions)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print()
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| full transitions / s / core, invariants on | {checked_rate:,.0f} | 5,000 |")
    print(f"| full transitions / s / core, invariants off | {plain_rate:,.0f} | - |")
    print(f"| observations per transition | {per:.1f} | - |")
    print(f"| simulated s / wall s (transition loop, invariants on) | {checked_speed:,.0f}x "
          "| 1,000x |")
    print(f"| simulated s / wall s (transition loop, invariants off) | {plain_speed:,.0f}x "
          "| - |")
    if not args.skip_campaign:
        result = run_campaign(range(args.seeds), jobs=args.jobs, sample_every=100)
        sim_s = sum(r.sim_ns for r in result.results) / 1e9
        transitions = sum(r.transitions for r in result.results)
        print(f"| {args.seeds:,}-seed campaign, {args.jobs} jobs (wall, incl. "
              f"{result.resampled} re-runs) | {result.wall_s:.1f} s | 120 s |")
        print(f"| campaign: simulated s / wall s | {sim_s / result.wall_s:,.0f}x | 1,000x |")
        print(f"| campaign: attempts, transitions, exit | "
              f"{sum(r.attempts for r in result.results):,}, {transitions:,}, "
              f"{int(result.exit_code)} | - |")


if __name__ == "__main__":
    main()
