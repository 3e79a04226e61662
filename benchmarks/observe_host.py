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
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.host.testhost import INNER, UID, running_test_host  # noqa: E402

SHELL_OBSERVER = f"""\
set -u
for id in $(loginctl list-sessions --no-legend | awk '{{print $1}}'); do
  loginctl show-session "$id" -p Type -p Class -p State -p Leader >/dev/null
done
systemctl is-active desktop.target compute.target graphical.target vllm.service \\
  studio-local-policy.service audio-priority.service >/dev/null
XDG_RUNTIME_DIR=/run/user/{UID} pw-dump -N >/dev/null
"""

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
    args = parser.parse_args()
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
                "from pathlib import Path; from dubnium.policy import load_policy; "
                "from backends.host import HostBackend; "
                f"HostBackend(load_policy(Path('{INNER}/config.json'))).observe()",
            ],
            "python: interpreter start only": [str(REPO / ".venv/bin/python"), "-c", "pass"],
        }
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


if __name__ == "__main__":
    sys.exit(main())
