"""The read verbs `status`, `desired`, `history`, `last-transition` on the console script's
fast path: the same output and exit code as the full CLI, without typer, the planner, the
guards or the reconciler; anything unusual is answered by the full CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dubnium import readverbs
from dubnium.codes import ExitCode
from dubnium.policy import Policy
from dubnium_app import entry

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("typer", "click", "dubnium.cli", "dubnium.reconcile", "dubnium.plan",
         "dubnium.guards", "dubnium.executor", "dubnium_app.compose")
PROBE = """
import json, sys
from dubnium_app.{module} import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
sys.stderr.write("PROBE " + json.dumps({{"code": code, "heavy": [
    m for m in {heavy!r} if m in sys.modules]}}) + "\\n")
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host state directory holding real records: made by the simulator (a blocked
    request, a converged one, a damaged audit line), read back with the host backend."""
    where = tmp_path_factory.mktemp("host")
    sim = where / "sim"
    tools = Path(sys.executable).parent
    env = {**os.environ, "DUBNIUM_BACKEND": "sim", "DUBNIUM_STATE_DIR": str(sim)}
    for argv in (["mode-sim", "create"], ["mode-sim", "audio", "start", "music"],
                 ["mode", "request", "compute", "-q"],
                 ["mode-sim", "audio", "stop", "music"],
                 ["mode", "request", "studio-local", "-q"]):
        subprocess.run([str(tools / argv[0]), *argv[1:]], env=env, check=False,
                       capture_output=True, timeout=120, cwd=where)
    state = where / "state"
    state.mkdir()
    for name in ("desired", "desired.json", "last-transition.json", "events.jsonl"):
        shutil.copy(sim / name, state / name)
    with (state / "events.jsonl").open("a") as log:
        log.write('{"torn\n')
    config = where / "config.json"
    policy = Policy().to_json()
    config.write_text(json.dumps({**policy, "paths": {
        **policy["paths"], "state_dir": str(state), "audit_log": str(state / "events.jsonl")}}))
    return where


def _run(host: Path, module: str, *args: str) -> tuple[int, str, str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, heavy=HEAVY), "--backend", "host",
         "--config", str(host / "config.json"), *args], check=False, capture_output=True,
        text=True, cwd=REPO, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "DUBNIUM_BACKEND": ""})
    lines = proc.stderr.splitlines()
    probe = json.loads(next(x for x in lines if x.startswith("PROBE "))[6:])
    err = "\n".join(x for x in lines if not x.startswith("PROBE "))
    return probe["code"], proc.stdout, err, probe["heavy"]


VERBS = [["desired"], ["desired", "--json"], ["last-transition"], ["last-transition", "--json"],
         ["history"], ["history", "--json"], ["history", "--limit", "1"],
         ["history", "--json", "--outcome=blocked", "--since", "2000-01-01"],
         ["status"], ["status", "--waybar", "--check"]]


@pytest.mark.parametrize("args", VERBS, ids=" ".join)
def test_the_fast_path_prints_what_the_full_cli_prints(host: Path, args: list[str]) -> None:
    """Through `dubnium_app.entry` and through typer: the same stdout, stderr and exit code, and
    the fast path loads none of typer, click, the CLI, the planner, the guards or the
    reconciler."""
    fast = _run(host, "entry", *args)
    full = _run(host, "compose", *args)
    assert (fast[:3], []) == (full[:3], fast[3])
    assert "typer" in full[3]


def test_the_fast_path_answers_with_real_records(host: Path) -> None:
    """The records are there to be read: history names both attempts and the damaged line,
    last-transition the converged one, desired studio-local."""
    _, history, _, _ = _run(host, "entry", "history", "--json")
    _, last, _, _ = _run(host, "entry", "last-transition")
    _, desired, _, _ = _run(host, "entry", "desired")
    rows = [json.loads(x) for x in history.splitlines()]
    assert ([("compute", "blocked"), ("studio-local", "converged"), (None, None)],
            '{"torn', "studio-local\n") == (
        [(r.get("target"), r.get("outcome")) for r in rows], rows[-1]["raw"], desired)
    assert last.startswith("converged: ")


@pytest.mark.parametrize(("args", "code"), [
    (["history", "--outcome", "great"], ExitCode.USAGE),
    (["history", "--since", "yesterday"], ExitCode.USAGE),
    (["history", "--limit", "0"], ExitCode.USAGE),
])
def test_a_bad_option_is_answered_by_the_full_cli(host: Path, args: list[str],
                                                  code: int) -> None:
    """A query the fast path cannot use is the full CLI's usage error: one line, exit 2."""
    got, out, err, heavy = _run(host, "entry", *args)
    assert (code, "", 1, True) == (got, out, len(err.splitlines()), "typer" in heavy)


def test_a_corrupt_state_file_is_reported_by_the_full_cli(tmp_path: Path) -> None:
    """An unreadable desired file: nothing printed by the fast path; the full CLI's one
    line and exit 7."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "desired").write_text("sideways\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"schema_version": 1, "paths": {"state_dir": str(state)}}))
    code, out, err, _ = _run(tmp_path, "entry", "desired")
    assert (ExitCode.STATE_CORRUPT, "", 1) == (code, out, len(err.splitlines()))


@pytest.mark.parametrize(("argv", "expected"), [
    (["--backend", "host", "status", "--waybar", "--check"],
     {"verb": "status", "waybar": True, "check": True, "json": False}),
    (["--backend", "host", "history", "--limit=5", "--outcome", "blocked", "--outcome=degraded",
      "--since", "2026-01-01", "--json"],
     {"verb": "history", "limit": 5, "outcomes": ["blocked", "degraded"],
      "since": "2026-01-01", "json": True}),
    (["--backend", "host", "desired"], {"verb": "desired", "json": False}),
    (["--backend", "host", "history", "--limit", "-1"], None),
    (["--backend", "host", "history", "--limit"], None),
    (["--backend", "host", "status", "--refresh"], None),
    (["--backend", "host", "desired", "-h"], None),
    (["--backend", "host", "last-transition", "--since", "x"], None),
    (["--backend", "sim", "history"], None),
    (["--backend", "host", "doctor"], None),
])
def test_which_invocations_take_the_fast_path(argv: list[str],
                                              expected: dict[str, Any] | None) -> None:
    """Plain read verbs with their own flags on the host; anything else goes to typer."""
    got = entry.parse(argv, {})
    assert expected == (None if got is None else {k: got[k] for k in expected or {}})


def test_defaults_spelled_twice_agree() -> None:
    """The fast path's default state directory, audit log and bounds are the policy's."""
    policy = Policy()
    paths = policy.paths
    assert (paths.state_dir, paths.audit_log) == (readverbs.DEFAULT_STATE_DIR,
                                                  readverbs.DEFAULT_AUDIT_LOG)
    assert paths.state_dir == entry.DEFAULT_STATE_DIR
    for section, key, default in entry._BOUNDS.values():
        assert getattr(getattr(policy, section), key) == default, key
