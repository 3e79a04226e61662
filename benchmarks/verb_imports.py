"""What each read verb of `mode` imports on the host backend, and how long the imports take.

Runs `python -X importtime` on the console script's entry (`dubnium_app.launch`) for `current`,
`status`, `desired`, `history` and `last-transition` with `--backend host`, a policy file
and a state directory of its own (made under a temporary directory; nothing else is
touched), `--rounds` times each, and prints per verb: the number of modules imported, the
median total import time (the sum of `importtime`'s self times), and which heavy parts were
loaded (typer/click, the reconciler, the planner, the guards, attrs). Without D-Bus the live
verbs observe with every source unavailable, which changes nothing imported.

    .venv/bin/python benchmarks/verb_imports.py [--rounds 5] [--before DIR]

With `--before DIR` (a checkout of older code, e.g. `git worktree add /tmp/before REV`),
each round runs every verb from that tree, then from this one, interleaved, and prints
both. Either runs as an installed package would: the tree on a plain `sys.path`, without
the development venv's editable-install hook.
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
# As an installed package runs: the tree first on a plain sys.path, no editable-install hook.
LAUNCH = ("import os, sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
          "getattr(f, '__module__', '')]; sys.path.insert(0, os.environ['DUBNIUM_TREE']); "
          "launch = 'dubnium_app' if os.path.exists(os.path.join(os.environ['DUBNIUM_TREE'], "
          "'dubnium_app')) else 'dubnium'; main = __import__(launch + '.launch', "
          "fromlist=['main']).main; sys.argv[0] = 'mode'; main()")


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
    parser.add_argument("--before", type=Path, default=None)
    args = parser.parse_args()
    trees = {"after": Path(__file__).resolve().parent.parent}
    if args.before is not None:
        trees = {"before": args.before.resolve(), **trees}
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({"schema_version": 1, "paths": {
            "state_dir": str(state), "audit_log": str(state / "events.jsonl")}}))
        env = {**os.environ, "DUBNIUM_BACKEND": "host", "DUBNIUM_CONFIG": str(config),
               "PYTHONDONTWRITEBYTECODE": "1"}
        print(f"{'verb':18}{'code':>7}{'modules':>8}{'import ms':>11}  heavy parts loaded")
        totals: dict[tuple[str, str], list[float]] = {}
        names: dict[tuple[str, str], set[str]] = {}
        for _ in range(args.rounds):
            for verb in VERBS:
                for code, tree in trees.items():
                    _, found = imports(list(verb), {**env, "DUBNIUM_TREE": str(tree)})
                    totals.setdefault((verb[0], code), []).append(sum(found.values()) / 1000)
                    names[(verb[0], code)] = set(found)
        for (verb_name, code), values in totals.items():
            heavy = [h for h in HEAVY if h in names[(verb_name, code)]] or ["none"]
            print(f"{verb_name:18}{code:>7}{len(names[(verb_name, code)]):>8}"
                  f"{statistics.median(values):>11.1f}  {', '.join(heavy)}")

if __name__ == "__main__":
    main()
