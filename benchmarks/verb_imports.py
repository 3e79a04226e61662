"""What each read verb of `mode` imports on the host backend, and how long the imports take.

Runs `python -X importtime` on the console script's entry (`dubnium.launch`) for `current`,
`status`, `desired`, `history` and `last-transition` with `--backend host`, a policy file
and a state directory of its own (made under a temporary directory; nothing else is
touched), `--rounds` times each, and prints per verb: the number of modules imported, the
median total import time (the sum of `importtime`'s self times), and which heavy parts were
loaded (typer/click, the reconciler, the planner, the guards, attrs). Without D-Bus the live
verbs observe with every source unavailable, which changes nothing imported.

    .venv/bin/python benchmarks/verb_imports.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

VERBS = (("current", "--json"), ("status",), ("desired",), ("history", "--limit", "10"),
         ("last-transition",))
HEAVY = ("typer", "click", "dubnium.cli", "dubnium.reconcile", "dubnium.plan",
         "dubnium.guards", "attrs", "dubnium.policy", "backends.host")
LAUNCH = "import sys; from dubnium.launch import main; sys.argv[0] = 'mode'; main()"


def imports(argv: list[str], env: dict[str, str]) -> tuple[int, dict[str, int]]:
    """(exit code, {module: self µs}) of one run."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", LAUNCH, *argv],
                          capture_output=True, text=True, env=env, check=False)
    found: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:"):].split("|", 2)
        found[name.strip()] = int(self_us)
    return proc.returncode, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({"schema_version": 1, "paths": {
            "state_dir": str(state), "audit_log": str(state / "events.jsonl")}}))
        env = {**os.environ, "DUBNIUM_BACKEND": "host", "DUBNIUM_CONFIG": str(config),
               "PYTHONDONTWRITEBYTECODE": "1"}
        print(f"{'verb':18}{'modules':>8}{'import ms':>11}  heavy parts loaded")
        for verb in VERBS:
            totals, names = [], set()
            for _ in range(args.rounds):
                _, found = imports(list(verb), env)
                totals.append(sum(found.values()) / 1000)
                names = set(found)
            heavy = [h for h in HEAVY if h in names] or ["none"]
            print(f"{' '.join(verb[:1]):18}{len(names):>8}{statistics.median(totals):>11.1f}"
                  f"  {', '.join(heavy)}")


if __name__ == "__main__":
    main()
