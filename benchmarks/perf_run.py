#!/usr/bin/env python3
"""One benchmark run, inside the test host, that prints ratios (issue 16's figures).

    sudo .venv/bin/python benchmarks/perf_run.py [--runs 30] [--history-runs 3]

Boots one test host (tests/host/testhost.py: real systemd, D-Bus, logind, PipeWire in a
PID+mount namespace) and starts, inside it only, the two peer tools as transient units:
power-profiles-daemon and tuned (Debian's packages; each with /sys and /proc/sys read-only
and a private state directory, tuned with a profile that tunes nothing, so nothing outside
the namespace is touched; nothing is enabled). Then, from inside the namespace (so nsenter's
own cost is not counted), one driver times every command N times, interleaved round-robin,
so load from elsewhere on this shared 2-core machine hits all of them alike:

- `mode current --json`, live (a config whose `current_max_age_s` is 0: answered by the
  resident observer, mode-current.socket started for that config; and the same with
  `current_server_s` 0, observing in its own process) and recorded (one
  whose bound is never reached, after one `--refresh`), and the same verb of the code before
  issue 16 (`--before`, default: the parent of the commit that added dubnium/entry.py);
- the seed's shell observer (loginctl list-sessions + show-session, systemctl is-active,
  pw-dump), `powerprofilesctl get`, `tuned-adm active`, and the interpreter alone;
- `mode history --limit 10 --json` on audit logs of 1k, 10k and 100k real transition
  records (wall time and peak RSS of the process), before and after;
- the other read verbs on the host, before and after: `status --json` (a live
  observation), `desired`, `last-transition` and `history --limit 10 --json` (a state
  directory holding a simulated station's records and an audit log of 1,000);

then the simulator (full transitions per second on one core, invariants on and off) and a
campaign (seeds per second, 2 jobs). Both codes run as a regular install would: a plain
`sys.path` of the source tree (compiled bytecode) and the development venv's packages, with
no editable-install import hook. Results go to build/bench/results.json; the table printed
is what benchmarks/README.md records. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.host.testhost import INNER, SHELL_OBSERVER, TestHost, running_test_host  # noqa: E402

BENCH = REPO / "build" / "bench"
SITE = REPO / ".venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / (
    "site-packages")

# Runs inside the namespace: times each command (wall, and peak RSS from wait4).
DRIVER = """\
import json, os, subprocess, sys, time
commands = json.loads(sys.argv[1]); runs = int(sys.argv[2])
wall = {name: [] for name in commands}; rss = {name: [] for name in commands}
out = {}
env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # each venv its own path
def once(argv):
    with open("/tmp/bench-out", "wb") as sink:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = (time.perf_counter() - t) * 1000
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()[-400:]; proc.stderr.close()
    if code not in (0, 25):
        sys.exit(f"{argv} exited {code}: {err}")
    return elapsed, usage.ru_maxrss / 1024
for name, argv in commands.items():  # warm the page cache and the bytecode once
    once(argv)
    with open("/tmp/bench-out", "rb") as f:
        out[name] = f.read().decode(errors="replace")
for _ in range(runs):
    for name, argv in commands.items():
        ms, mib = once(argv)
        wall[name].append(ms); rss[name].append(mib)
print(json.dumps({"wall_ms": wall, "rss_mib": rss, "output": out}))
"""

SIM = """\
import json, time
from benchmarks.sim_bench import bench_checked, bench_plain
from simulator.campaign import run_campaign
on, _ = bench_checked(%(transitions)d)
off, _, _ = bench_plain(%(transitions)d)
result = run_campaign(range(%(seeds)d), jobs=%(jobs)d, sample_every=100)
print(json.dumps({"transitions_per_s_on": on, "transitions_per_s_off": off,
                  "campaign_seeds": %(seeds)d, "campaign_wall_s": result.wall_s,
                  "campaign_exit": int(result.exit_code)}))
"""

TUNED_MAIN = "daemon = 1\ndynamic_tuning = 0\nreapply_sysctl = 0\nrecommend_command = 0\n"
TUNED_PROFILE = "[main]\nsummary=Tunes nothing (benchmark inside the test host)\n"


# ------------------------------------------------------------------ the two codes


def _before_rev() -> str:
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "dubnium/entry.py"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return f"{added[-1]}~1" if added else "HEAD"


def _install(name: str, tree: Path, entry: str) -> Path:
    """A venv whose `mode` runs `entry` from `tree` on a plain sys.path (no import hook)."""
    venv = BENCH / name
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "dubnium-bench.pth").write_text(f"{tree}\n{SITE}\n")
    script = venv / "bin" / "mode"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nfrom {entry} import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    packages = [tree / p for p in ("dubnium", "dubnium_app", "backends", "simulator")]
    subprocess.run([str(venv / "bin" / "python"), "-m", "compileall", "-q",
                    *(str(p) for p in packages if p.is_dir())], check=True)
    return venv


def _entry_of(tree: Path) -> str:
    """The console script's module in an older tree: wherever its fast entry was then."""
    for module in ("dubnium_app.entry", "dubnium.entry"):
        if (tree / (module.replace(".", "/") + ".py")).exists():
            return module
    return "dubnium.cli"


def _before_tree(rev: str) -> Path:
    tree = BENCH / "before-src"
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


# ------------------------------------------------------------------ audit logs


def _history_logs(sizes: list[int]) -> dict[int, Path]:
    """A simulator state directory per size whose events.jsonl holds that many real records."""
    from dubnium.modes import Mode
    from simulator.harness import Station

    station = Station.create(seed=1)
    for i in range(20):
        station.request((Mode.COMPUTE, Mode.DESKTOP)[i % 2])
    lines = [line + "\n" for line in station.audit.lines]
    out = {}
    for size in sizes:
        state = BENCH / f"history-{size}"
        state.mkdir(parents=True, exist_ok=True)
        log = state / "events.jsonl"
        if not log.exists() or sum(1 for _ in log.open("rb")) != size:
            with log.open("w") as f:
                for n in range(size):
                    f.write(lines[n % len(lines)])
        (state / "config.json").write_text(json.dumps({"schema_version": 1, "paths": {
            "state_dir": str(state), "audit_log": str(log)}}))
        out[size] = state
    return out


# ------------------------------------------------------------------ the test host


def _peers(host: TestHost) -> None:
    """power-profiles-daemon and tuned, inside the namespace only, touching nothing outside."""
    etc = host.workdir / "tuned-etc"
    (etc / "bench-noop").mkdir(parents=True)
    (etc / "tuned-main.conf").write_text(TUNED_MAIN)
    (etc / "bench-noop" / "tuned.conf").write_text(TUNED_PROFILE)
    (etc / "active_profile").write_text("bench-noop\n")
    (etc / "profile_mode").write_text("manual\n")
    (host.workdir / "ppd-state").mkdir()
    locked = ["-p", "ProtectKernelTunables=yes", "-p", "ProtectSystem=strict",
              "-p", "ProtectControlGroups=yes", "-p", "PrivateTmp=yes"]
    host.run("systemd-run", "--unit=bench-ppd", "-p", "Type=dbus",
             "-p", "BusName=net.hadess.PowerProfiles", *locked,
             "-p", f"BindPaths={INNER}/ppd-state:/var/lib/power-profiles-daemon",
             "/usr/libexec/power-profiles-daemon")
    host.run("systemd-run", "--unit=bench-tuned", "-p", "Type=dbus",
             "-p", "BusName=com.redhat.tuned", *locked,
             "-p", f"BindPaths={INNER}/tuned-etc:/etc/tuned", "/usr/sbin/tuned", "--no-socket")
    for check in (["powerprofilesctl", "get"], ["tuned-adm", "active"]):
        print(f"# {' '.join(check)}: {host.run(*check).stdout.strip().splitlines()[0]}")


def _configs(host: TestHost) -> None:
    base = json.loads((host.workdir / "config.json").read_text())
    live = {**base, "timeouts": {**base["timeouts"], "current_max_age_s": 0.0}}
    own = {**base, "timeouts": {**live["timeouts"], "current_server_s": 0.0}}
    cached = {**base, "timeouts": {**base["timeouts"], "current_max_age_s": 600000.0},
              "paths": {**base["paths"], "state_dir": str(INNER / "state-cached")}}
    before = {k: v for k, v in base.items() if k != "audit"}
    before["timeouts"] = {k: v for k, v in base["timeouts"].items()
                          if k not in ("current_max_age_s", "current_server_s")}
    for name, data in (("live", live), ("own", own), ("cached", cached), ("before", before)):
        (host.workdir / f"config-{name}.json").write_text(json.dumps(data, indent=2))


def _resident_observer(host: TestHost, mode: list[str]) -> None:
    """mode-current.socket for the live config, its server the installed code (`mode`: its
    command line up to the verb): a live `mode current` with that config asks it."""
    dropin = host.root / "run/systemd/system/mode-current.service.d/20-bench.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text("[Service]\nExecStart=\nExecStart=" + " ".join(mode) + " current-server\n")
    host.systemctl("daemon-reload")
    host.systemctl("start", "mode-current.socket")


READ_VERBS = (("status", "--json"), ("desired",), ("last-transition",),
              ("history", "--limit", "10", "--json"))


def _read_state(host: TestHost, log: Path) -> None:
    """A host state directory for the read verbs: real records (a simulated station's
    desired mode and last transition) and an audit log of 1,000 of them."""
    from dubnium.modes import Mode
    from simulator.harness import Station

    station = Station.create(seed=2)
    station.request(Mode.COMPUTE)
    state = host.workdir / "state-read"
    state.mkdir(exist_ok=True)
    for name in ("desired", "desired.json", "last-transition.json"):
        data = station.store.read(name)
        if data is None:
            raise SystemExit(f"the station wrote no {name}")
        (state / name).write_bytes(data)
    (state / "events.jsonl").write_bytes(log.read_bytes())
    base = json.loads((host.workdir / "config.json").read_text())
    read = {**base, "paths": {**base["paths"], "state_dir": str(INNER / "state-read"),
                              "audit_log": str(INNER / "state-read" / "events.jsonl")}}
    (host.workdir / "config-read.json").write_text(json.dumps(read, indent=2))


def _check(outputs: dict[str, str]) -> None:
    """Every command answered what it is asked (not an error, not the other code's answer)."""
    for name, text in outputs.items():
        if name.startswith("history"):
            got = len(text.splitlines())
            if got != 10:
                raise SystemExit(f"{name}: {got} lines of output, expected 10")
        elif name.startswith("mode history"):
            if len(text.splitlines()) != 10:
                raise SystemExit(f"{name}: {len(text.splitlines())} lines, expected 10")
        elif name.startswith(("mode status", "mode desired", "mode last-transition")):
            if not text.strip() or "no transition recorded" in text or text.startswith("none"):
                raise SystemExit(f"{name}: answered {text[:80]!r}")
        elif name.startswith("mode current"):
            data = json.loads(text)
            want = {"live": ("observed",), "own process": ("observed",),
                    "recorded": ("recorded",),
                    "before": (None, "observed")}[name.rsplit(", ", 1)[1]]
            if data.get("source") not in want:
                raise SystemExit(f"{name}: source {data.get('source')!r}, expected {want}")


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1],
            "p90": ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--history-runs", type=int, default=3)
    parser.add_argument("--history-sizes", default="1000,10000,100000")
    parser.add_argument("--before", default=None, help="git revision of the 'before' code")
    parser.add_argument("--transitions", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.history_sizes.split(",")]
    rev = args.before or _before_rev()
    after = _install("after", REPO, "dubnium_app.entry")
    old_tree = _before_tree(rev)
    before = _install("before", old_tree, _entry_of(old_tree))
    logs = _history_logs(sizes)
    short = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.strip()
    print(f"# before = {rev} ({short})")

    def mode(venv: Path, config: str, *verb: str, state: str = "state") -> list[str]:
        return [str(venv / "bin" / "mode"), "--backend", "host", "--state-dir",
                str(INNER / state), "--config", str(INNER / f"config-{config}.json"), *verb]

    with running_test_host() as host:
        _peers(host)
        _configs(host)
        _read_state(host, logs[sizes[0]] / "events.jsonl")
        (host.workdir / "observe.sh").write_text(SHELL_OBSERVER)
        host.run(*mode(after, "cached", "current", "--refresh", "--json", state="state-cached"),
                 gpus=True, check=False)
        _resident_observer(host, mode(after, "live"))
        commands = {
            "mode current --json, live": mode(after, "live", "current", "--json"),
            "mode current --json, live, own process": mode(after, "own", "current", "--json"),
            "mode current --json, recorded": mode(after, "cached", "current", "--json",
                                                  state="state-cached"),
            "mode current --json, before": mode(before, "before", "current", "--json"),
            "shell observer": ["bash", str(INNER / "observe.sh")],
            "powerprofilesctl get": ["powerprofilesctl", "get"],
            "tuned-adm active": ["tuned-adm", "active"],
            "python -c pass": [str(after / "bin" / "python"), "-c", "pass"],
        }
        for verb in READ_VERBS:  # the other read verbs on the host, after and before
            for name, venv in (("after", after), ("before", before)):
                commands[f"mode {' '.join(verb)}, {name}"] = mode(venv, "read", *verb,
                                                                  state="state-read")
        history = {}
        for size, state in logs.items():
            for name, venv in (("after", after), ("before", before)):
                history[f"history {size}, {name}"] = [
                    str(venv / "bin" / "mode"), "--backend", "host", "--config",
                    str(state / "config.json"), "history", "--limit", "10", "--json"]
        runs = []
        for batch, count in ((commands, args.runs), (history, args.history_runs)):
            proc = host.run(sys.executable, "-c", DRIVER, json.dumps(batch), str(count),
                            gpus=True, timeout=3600)
            runs.append(json.loads(proc.stdout))
        if host.is_active("mode-current.service") != "active":
            raise SystemExit("the resident observer did not run: the live figure is not its")
        sim_code = SIM % {"transitions": args.transitions, "seeds": args.seeds,
                          "jobs": args.jobs}
        sim = json.loads(host.run(str(after / "bin" / "python"), "-c", sim_code,
                                  timeout=3600).stdout)
    results: dict[str, Any] = {"before": rev, "before_short": short, "runs": args.runs,
                               "history_runs": args.history_runs, "sim": sim,
                               "wall_ms": {}, "rss_mib": {}}
    for run in runs:
        _check(run["output"])
        for name, values in run["wall_ms"].items():
            results["wall_ms"][name] = _stats(values)
            results["rss_mib"][name] = _stats(run["rss_mib"][name])
    BENCH.mkdir(parents=True, exist_ok=True)
    (BENCH / "results.json").write_text(json.dumps(results, indent=2))
    _print(results, sizes)
    return 0


def _print(results: dict[str, Any], sizes: list[int]) -> None:
    wall, rss = results["wall_ms"], results["rss_mib"]

    def med(name: str) -> float:
        return float(wall[name]["median"])

    width = max(map(len, wall))
    print(f"\n{'command':{width}}  {'median':>8} {'min':>8} {'max':>8}  {'peak RSS':>9}"
          "   (ms; MiB)")
    for name, s in wall.items():
        print(f"{name:{width}}  {s['median']:8.1f} {s['min']:8.1f} {s['max']:8.1f}  "
              f"{rss[name]['median']:9.1f}")
    live, rec = med("mode current --json, live"), med("mode current --json, recorded")
    own = med("mode current --json, live, own process")
    old = med("mode current --json, before")
    shell, ppd, tuned = med("shell observer"), med("powerprofilesctl get"), med("tuned-adm active")
    small, big = sizes[0], sizes[-1]
    hist_ratio = med(f"history {big}, after") / med(f"history {small}, after")
    hist_mib = rss[f"history {big}, after"]["median"]
    rows: list[tuple[str, float, str, float | None]] = [
        ("live `mode current --json` / `tuned-adm active`", live / tuned, "≤ 1.0", old / tuned),
        ("live `mode current --json` / `powerprofilesctl get`", live / ppd, "≤ 1.5", old / ppd),
        ("live `mode current --json` / shell observer", live / shell, "-", old / shell),
        ("live, own process / `tuned-adm active`", own / tuned, "-", old / tuned),
        ("live, own process / `powerprofilesctl get`", own / ppd, "-", old / ppd),
        ("recorded `mode current --json` / shell observer", rec / shell, "≤ 1.0", None),
        ("recorded `mode current --json` / `tuned-adm active`", rec / tuned, "-", None),
        (f"`mode history --limit 10`, {big:,} / {small:,} lines", hist_ratio, "≤ 1.2",
         med(f"history {big}, before") / med(f"history {small}, before")),
    ]
    for verb in READ_VERBS:
        label = " ".join(verb)
        rows.append((f"`mode {label}` / `tuned-adm active`", med(f"mode {label}, after") / tuned,
                     "-", med(f"mode {label}, before") / tuned))
    print(f"\n| ratio | after | target | before ({results['before_short']}) |\n|---|---|---|---|")
    for label, value, target, then in rows:
        print(f"| {label} | {value:.2f} | {target} | {'-' if then is None else f'{then:.2f}'} |")
    sim = results["sim"]
    print(f"| peak RSS of `mode history --limit 10` at {big:,} lines | {hist_mib:.1f} MiB "
          f"| < 50 MiB | {rss[f'history {big}, before']['median']:.1f} MiB |")
    print(f"| simulated transitions / s / core, invariants on | "
          f"{sim['transitions_per_s_on']:,.0f} | ≥ 5,000 | - |")
    print(f"| simulated transitions / s / core, invariants off | "
          f"{sim['transitions_per_s_off']:,.0f} | - | - |")
    print(f"| campaign seeds / s ({sim['campaign_seeds']:,} seeds, 2 jobs) | "
          f"{sim['campaign_seeds'] / sim['campaign_wall_s']:,.0f} | - | - |")


if __name__ == "__main__":
    sys.exit(main())
