#!/usr/bin/env python3
"""Whole-process wall time of `mode current --json` and `mode status --json` on the test host,
side by side, in one run, with a shell observer doing the seed's checks.

    sudo .venv/bin/python benchmarks/observe_host.py [--runs N]

Boots one test host (tests/host/testhost.py) and, inside it (so nsenter's own cost is not
counted), times each command N times, interleaved round-robin so that load from elsewhere
on the machine hits all of them alike. The shell observer is what seed 000/002 describe:
`loginctl list-sessions` plus `show-session` per session, `systemctl is-active` for the mode
units, and `pw-dump` of the user's PipeWire. Prints a table (milliseconds) and the targets:
`mode current` faster than the shell observer and under 150 ms (median).

The development checkout's `.venv` is an editable install, whose import hook costs ~30 ms
at every start; the row "installed copy" times a regular (non-editable) install of the same
tree in `build/bench-venv`, as a NixOS package or `pip install .` would run it
(`--no-installed` skips building it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.host.testhost import INNER, SHELL_OBSERVER, running_test_host  # noqa: E402

DRIVER = """\
import json, subprocess, sys, time
commands = json.loads(sys.argv[1]); runs = int(sys.argv[2])
times = {name: [] for name in commands}
for name, argv in commands.items():  # warm the page cache once
    subprocess.run(argv, capture_output=True)
for _ in range(runs):
    for name, argv in commands.items():
        t = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True)
        times[name].append((time.perf_counter() - t) * 1000)
        if proc.returncode not in (0, 25):
            sys.exit(f"{name} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
print(json.dumps(times))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-installed", action="store_true",
                        help="skip the row for a regular (non-editable) install")
    args = parser.parse_args()
    installed = None if args.no_installed else _installed_copy()
    mode = [str(REPO / ".venv/bin/mode"), "--backend", "host", "--state-dir",
            str(INNER / "state"), "--config", str(INNER / "config.json")]
    with running_test_host() as host:
        (host.workdir / "observe.sh").write_text(SHELL_OBSERVER)
        commands = {
            "mode current --json": [*mode, "current", "--json"],
            "mode status --json": [*mode, "status", "--json"],
            "shell observer (loginctl, systemctl is-active, pw-dump)":
                ["bash", str(INNER / "observe.sh")],
            # The backend's share: interpreter, imports and one observe(), without the CLI.
            "python: HostBackend(policy).observe()": [
                str(REPO / ".venv/bin/python"), "-c",
                "from pathlib import Path; from dubnium.policyload import load_policy; "
                "from backends.host import HostBackend; "
                f"HostBackend(load_policy(Path('{INNER}/config.json'))).observe()",
            ],
            "python: interpreter start only": [str(REPO / ".venv/bin/python"), "-c", "pass"],
        }
        if installed is not None:
            commands["mode current --json (installed copy, not editable)"] = [
                str(installed / "bin/mode"), *mode[1:], "current", "--json"]
        proc = host.run(str(REPO / ".venv/bin/python"), "-c", DRIVER, json.dumps(commands),
                        str(args.runs), gpus=True, timeout=600, env={"PYTHONPATH": str(REPO)})
        times: dict[str, list[float]] = json.loads(proc.stdout)
    width = max(map(len, times))
    print(f"{'command':{width}}  {'median':>7}  {'p90':>7}  {'min':>7}  {'max':>7}   (ms, "
          f"{args.runs} runs, whole process)")
    for name, values in times.items():
        values.sort()
        p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
        print(f"{name:{width}}  {statistics.median(values):7.1f}  {p90:7.1f}  "
              f"{values[0]:7.1f}  {values[-1]:7.1f}")
    current = statistics.median(times["mode current --json"])
    shell = statistics.median(next(v for k, v in times.items() if k.startswith("shell")))
    print(f"\nmode current vs shell observer: {current:.1f} vs {shell:.1f} ms "
          f"({'faster' if current < shell else 'SLOWER'}); "
          f"under 150 ms: {'yes' if current < 150 else 'NO'}")
    return 0


def _installed_copy() -> Path:
    """A regular install of this tree (with the host extras) in build/bench-venv."""
    venv = REPO / "build/bench-venv"
    if not (venv / "bin/python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check",
                    "--force-reinstall", "--no-deps", str(REPO)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check",
                    f"{REPO}[host]"], check=True)
    return venv


if __name__ == "__main__":
    sys.exit(main())
