"""Simulator benchmarks: full transitions per CPU second (one core), invariants on and off,
and campaign seeds per CPU second. Prints a Markdown table (pasted into benchmarks/README.md).

    .venv/bin/python benchmarks/sim_bench.py                         # this checkout
    .venv/bin/python benchmarks/sim_bench.py --before ../old-checkout # side by side

A "full transition" is one request desktop -> compute or compute -> desktop that runs its
whole plan (guards, stop/isolate, GPU release, vLLM load, re-observation, records) and
converges, on the default two-GPU world, in one process. "Invariants on" is a campaign's
setup: every safety invariant checked after every simulated event, step and observation.

Each figure is CPU time of the measuring process (`time.process_time`), so it is per core
and the other processes on a loaded machine change it less than wall time; every round runs
in a fresh interpreter and the best round is kept. With `--before DIR` the rounds alternate
between DIR's code and this checkout's, so both sides see the same load; the ratio is the
figure to trust on a shared machine. No test times anything: this script measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent


def _transitions(count: int, checked: bool) -> tuple[float, float, float]:
    """(transitions per CPU second, simulated seconds per CPU second, observations per
    transition)."""
    from dubnium.modes import Mode
    from simulator.campaign import Run
    from simulator.faults import FaultPlan
    from simulator.harness import Station
    from simulator.trace import Recorder

    class Counting(Recorder):
        observations = 0

        def observed(self, at_ns: int) -> None:
            Counting.observations += 1

    if checked:
        run = Run(FaultPlan(1, 2))

        def request(mode: Mode) -> str:
            return run.request(mode)

        world = run.station.world
    else:
        station = Station.create(seed=1)
        station.world.recorder = Counting()

        def request(mode: Mode) -> str:
            return station.request(mode).outcome.value

        world = station.world
    modes = (Mode.COMPUTE, Mode.DESKTOP)
    for i in range(20):  # warm up
        request(modes[i % 2])
    Counting.observations = 0
    sim0 = world.now_ns
    t0 = time.process_time()
    for i in range(count):
        outcome = request(modes[i % 2])
        assert outcome == "converged", outcome
    cpu = time.process_time() - t0
    if checked:
        assert not run.checker.violations, run.checker.violations
    return count / cpu, (world.now_ns - sim0) / 1e9 / cpu, Counting.observations / count


def bench_checked(count: int) -> tuple[float, float]:
    """Invariants on: (transitions per CPU second, simulated s per CPU second)."""
    rate, speed, _ = _transitions(count, checked=True)
    return rate, speed


def bench_plain(count: int) -> tuple[float, float, float]:
    """Invariants off: (transitions and simulated s per CPU second, observations each)."""
    return _transitions(count, checked=False)


def _campaign(seeds: int) -> float:
    """Campaign seeds per CPU second (one job, no determinism re-runs)."""
    from simulator.campaign import run_campaign

    t0 = time.process_time()
    result = run_campaign(range(seeds), jobs=1, sample_every=0)
    cpu = time.process_time() - t0
    assert len(result.results) == seeds
    return seeds / cpu


def measure(args: argparse.Namespace) -> dict[str, float]:
    on, _ = bench_checked(args.transitions)
    off, _, per = bench_plain(args.transitions)
    out = {"on": on, "off": off, "observations": per}
    if args.seeds:
        out["seeds"] = _campaign(args.seeds)
    return out


def _round(code: Path, args: argparse.Namespace) -> dict[str, float]:
    """One measurement in a fresh interpreter importing `code`'s dubnium and simulator."""
    command = [sys.executable, str(Path(__file__).resolve()), "--measure",
               "--transitions", str(args.transitions), "--seeds", str(args.seeds)]
    env = {**os.environ, "PYTHONPATH": str(code), "SIM_BENCH_CODE": str(code)}
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def _best(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: max(r[key] for r in rounds) if key != "observations" else rounds[0][key]
            for key in rounds[0]}


def _row(label: str, key: str, sides: dict[str, dict[str, float]], fmt: str,
         target: str) -> str:
    cells = [format(sides[name][key], fmt) for name in sides]
    if len(sides) == 2:
        before, after = (sides[name][key] for name in sides)
        cells.append(f"{after / before:.2f}x")
    return f"| {label} | {' | '.join(cells)} | {target} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=300, help="campaign seeds (0: skip)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        wanted = os.environ.get("SIM_BENCH_CODE")
        if wanted:
            import dubnium

            assert Path(dubnium.__file__).is_relative_to(wanted), dubnium.__file__
        print(json.dumps(measure(args)))
        return
    codes = {"after": HERE} if args.before is None else {"before": args.before.resolve(),
                                                         "after": HERE}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for _ in range(args.rounds):
        for name, code in codes.items():
            rounds[name].append(_round(code, args))
    sides = {name: _best(r) for name, r in rounds.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.1f}; best of {args.rounds} rounds, CPU time")
    print()
    head = " | ".join(codes)
    extra = " | after / before" if len(codes) == 2 else ""
    print(f"| measure | {head}{extra} | target |")
    print("|---|" + "---|" * (len(codes) + (2 if len(codes) == 2 else 1)))
    print(_row("full transitions / s / core, invariants on", "on", sides, ",.0f", "5,000"))
    print(_row("full transitions / s / core, invariants off", "off", sides, ",.0f", "-"))
    print(_row("observations per transition", "observations", sides, ".1f", "-"))
    if args.seeds:
        print(_row(f"campaign seeds / s / core ({args.seeds} seeds, 1 job)", "seeds", sides,
                   ",.1f", "-"))


if __name__ == "__main__":
    main()
