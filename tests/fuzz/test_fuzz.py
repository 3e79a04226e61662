"""Fuzzing every input a user or the machine controls (issue 11, "a fuzz suite in CI").

Four kinds of input, each drawn by hypothesis: config documents, the bytes of each runtime
state file, fault plans, and `mode`/`mode-sim` argument vectors. Each must give a documented
exit code, one line on stderr when it fails early, no traceback, no hang (an alarm), and an
unchanged audit log (read verbs never touch it; a failing write never cuts an earlier line).

The CI profile (tests/conftest.py, 60 examples a test) keeps the suite under a minute; the
`slow` tests are the long profile (`pytest -m slow`, DUBNIUM_FUZZ_EXAMPLES to size them).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dubnium.codes import GUARD_EXIT_CODES, ExitCode
from dubnium.errors import ConfigError
from dubnium.policy import default_policy
from dubnium.policyload import load_policy
from dubnium_app.compose import main as mode_main
from simulator.campaign import run_plan
from simulator.cli import main as sim_main
from simulator.faults import draw_plan
from simulator.plancheck import PlanError, check_plan
from tests.alarm import alarm

DOCUMENTED = {int(c) for c in ExitCode} | set(GUARD_EXIT_CODES.values())
EARLY = {ExitCode.USAGE, ExitCode.BACKEND_UNAVAILABLE, ExitCode.CONFIG_INVALID,
         ExitCode.STATE_CORRUPT}  # failures before any work: exactly one stderr line
LONG = int(os.environ.get("DUBNIUM_FUZZ_EXAMPLES", "2000"))
STATE_FILES = ("desired", "desired.json", "current", "current.json", "last-transition.json",
               "last-guards.json", "studio-saved-slices.json", "lock", "sim-world.json",
               "events.jsonl", "capability-placement.json", "hardware-topology.json")
READ_VERBS = (["status"], ["current"], ["desired"], ["history"], ["last-transition"],
              ["dry-run", "compute"], ["explain"], ["guards", "desktop"], ["doctor"])


def _call(entry: Callable[[list[str]], None], argv: list[str]) -> tuple[int, str]:
    """Run a console entry in-process: (exit code, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    with alarm(30), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            entry(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return code, err.getvalue()


def _check(code: int, err: str) -> None:
    assert code in DOCUMENTED, (code, err)
    assert "Traceback" not in err, err
    if code in EARLY:
        assert len(err.splitlines()) == 1, err


@pytest.fixture(scope="module")
def world_template() -> Iterator[Path]:
    """A simulated world after one converged request (state files and an audit line)."""
    where = Path(tempfile.mkdtemp(prefix="dubnium-fuzz-"))
    state = where / "sim"
    assert _call(sim_main, ["--state-dir", str(state), "create", "--seed", "9"])[0] == 0
    assert _call(mode_main, ["--backend", "sim", "--state-dir", str(state), "request",
                             "studio-local"])[0] == 0
    yield state
    shutil.rmtree(where, ignore_errors=True)


@contextlib.contextmanager
def _copy(template: Path) -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="dubnium-fuzz-"))
    try:
        shutil.copytree(template, where / "sim")
        yield where / "sim"
    finally:
        shutil.rmtree(where, ignore_errors=True)


# ------------------------------------------------------------------ strategies

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["desktop", "compute", "/abs/path", "rel/path", "x.service", "a\nb"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one value (at any depth) replaced, or a key dropped."""
    doc = json.loads(json.dumps(base))
    path = draw(st.sampled_from(_paths(doc)[1:]))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON_VALUES)
    return doc


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


BYTES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"\xff\xfe", b"[" * 5000, b"{}", b"null", b'{"schema_version": 1}',
                     b'{"a": 1, "a": 2}', b"NaN", b"compute\n", b"1e999"]),
)


# ------------------------------------------------------------------ config documents

CONFIGS = st.one_of(mutated(default_policy().to_json()), JSON_VALUES.map(_dump), BYTES)


def _config_case(tmp: Path, doc: Any) -> None:
    path = tmp / "config.json"
    path.write_bytes(doc if isinstance(doc, bytes) else _dump(doc))
    message = ""
    try:
        load_policy(path)
    except ConfigError as exc:
        message = str(exc)
    assert message == "" or (str(path) in message and "\n" not in message), message
    code, err = _call(mode_main, ["--backend", "sim", "--config", str(path), "--state-dir",
                                  str(tmp / "none"), "desired"])
    _check(code, err)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=CONFIGS)
def test_any_config_document_is_a_policy_or_one_config_error(tmp_path: Path, doc: Any) -> None:
    """A config is a Policy or a ConfigError naming the file: never another exception."""
    _config_case(tmp_path, doc)


# ------------------------------------------------------------------ state file bytes


def _state_case(template: Path, name: str, data: bytes, verb: list[str]) -> None:
    with _copy(template) as state:
        (state / name).write_bytes(data)
        audit_before = (state / "events.jsonl").read_bytes() if name != "events.jsonl" else data
        code, err = _call(mode_main, ["--backend", "sim", "--state-dir", str(state), *verb])
        _check(code, err)
        after = (state / "events.jsonl").read_bytes()
        if verb[0] == "request":
            assert after.startswith(audit_before)
        else:
            assert after == audit_before


@given(name=st.sampled_from(STATE_FILES), data=BYTES,
       verb=st.sampled_from([*READ_VERBS, ["request", "compute"], ["request", "desktop"]]))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_bytes_in_any_state_file(world_template: Path, name: str, data: bytes,
                                     verb: list[str]) -> None:
    """Garbage in a state file: a documented code, one line, the audit kept."""
    _state_case(world_template, name, data, verb)


# ------------------------------------------------------------------ fault plans

PLANS = st.one_of(
    st.integers(0, 10**6).flatmap(lambda s: mutated(json.loads(draw_plan(s).dumps()))),
    JSON_VALUES,
)


def _plan_case(data: Any) -> None:
    try:
        plan = check_plan(data)
    except PlanError as exc:
        refused = str(exc)
    else:
        refused = ""
    assert "\n" not in refused
    if refused:
        return
    result = run_plan(plan)
    assert result.crash is None, result.crash


@given(data=PLANS)
def test_any_fault_plan_is_refused_before_the_run_or_runs_without_crashing(data: Any) -> None:
    """A plan is a PlanError naming the field, or it runs with no crash."""
    _plan_case(data)


# ------------------------------------------------------------------ argument vectors

TOKENS = st.one_of(
    st.sampled_from(["request", "reconcile", "boot", "current", "desired", "status", "dry-run",
                     "explain", "guards", "history", "last-transition", "doctor", "compute",
                     "desktop", "studio-local", "--json", "--limit", "--since", "--outcome",
                     "--target", "--check", "-h", "0", "-1", "nan", "inf", "1e30", "--bogus",
                     "x" * 5000]),
    st.text(max_size=20),
)
SIM_TOKENS = st.one_of(
    st.sampled_from(["advance", "audio", "jack", "reaper", "session", "job", "gpu", "load",
                     "memory", "start", "stop", "add", "remove", "release", "set", "fill",
                     "show", "reboot", "0", "1", "-5", "nan", "inf", "1e30", "never",
                     "delayed", "partial", "--delay-s", "--residual-mib", "--type", "--user",
                     "--runtime-s", "--cpus", "cargo", "x" * 5000]),
    st.text(max_size=20),
)


def _argv_case(template: Path, argv: list[str], tool: str) -> None:
    with _copy(template) as state:
        audit_before = (state / "events.jsonl").read_bytes()
        base = ["--backend", "sim"] if tool == "mode" else []
        entry = mode_main if tool == "mode" else sim_main
        code, err = _call(entry, [*base, "--state-dir", str(state), *argv])
        _check(code, err)
        assert (state / "events.jsonl").read_bytes().startswith(audit_before)
        assert len(err) < 4000 or tool == "mode"  # long arguments are shortened


@given(argv=st.lists(TOKENS, max_size=5))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_mode_argument_vector(world_template: Path, argv: list[str]) -> None:
    """`mode ARGV`: a documented code, one line when it fails early, no traceback."""
    _argv_case(world_template, argv, "mode")


@given(argv=st.lists(SIM_TOKENS, max_size=5))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_mode_sim_argument_vector(world_template: Path, argv: list[str]) -> None:
    """`mode-sim ARGV`: the same rules."""
    _argv_case(world_template, argv, "mode-sim")


# ------------------------------------------------------------------ the long profile


@pytest.mark.slow
@settings(max_examples=LONG, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=CONFIGS)
def test_long_configs(tmp_path: Path, doc: Any) -> None:
    """Long profile: config documents."""
    _config_case(tmp_path, doc)


@pytest.mark.slow
@settings(max_examples=LONG, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(STATE_FILES), data=BYTES,
       verb=st.sampled_from([*READ_VERBS, ["request", "compute"]]))
def test_long_state_files(world_template: Path, name: str, data: bytes, verb: list[str]) -> None:
    """Long profile: state file bytes."""
    _state_case(world_template, name, data, verb)


@pytest.mark.slow
@settings(max_examples=LONG)
@given(data=PLANS)
def test_long_plans(data: Any) -> None:
    """Long profile: fault plans."""
    _plan_case(data)


@pytest.mark.slow
@settings(max_examples=LONG, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(TOKENS, max_size=6), sim_argv=st.lists(SIM_TOKENS, max_size=6))
def test_long_argument_vectors(world_template: Path, argv: list[str],
                               sim_argv: list[str]) -> None:
    """Long profile: argument vectors for both tools."""
    _argv_case(world_template, argv, "mode")
    _argv_case(world_template, sim_argv, "mode-sim")
