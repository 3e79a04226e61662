"""`mode current`'s read path: the recorded answer with its age, the console script's fast
path, and its imports (no planner, guards or reconciler; no typer for a recorded answer)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dubnium import readpath
from dubnium.backend import iso_timestamp
from dubnium.codes import ExitCode
from dubnium.policy import DEFAULT_CONFIG_PATH, Policy
from dubnium.reconcile import Outcome
from dubnium_app import entry

REPO = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000_000_000_000


def record(state: str = "desktop", at_ns: int = NOW, **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "observed_state": state, "confidence": "high",
            "degraded": False, "signals": {}, "conflicts": [], "evidence": {},
            "timestamp": iso_timestamp(at_ns), **extra}


def test_a_young_record_is_served_with_its_age() -> None:
    """A record 2 s old under a 5 s bound is served, marked recorded, with age 2.0."""
    served = readpath.recorded_if_fresh(record(), NOW + 2_000_000_000, 5.0)
    assert {**record(), "source": "recorded", "age_s": 2.0} == served


@pytest.mark.parametrize(("data", "now_ns"), [
    (record(), NOW + 5_001_000_000),               # older than the bound
    (record(), NOW - 1_000_000_000),               # from the future: the clock went back
    ({**record(), "schema_version": 2}, NOW),      # not ours
    ({**record(), "timestamp": "yesterday"}, NOW), # no readable time
    ({**record(), "observed_state": None}, NOW),   # no state
    (None, NOW),
])
def test_a_record_that_is_old_foreign_or_unreadable_is_not_served(
        data: dict[str, Any] | None, now_ns: int) -> None:
    """Anything but a young record of ours means: observe now."""
    assert None is readpath.recorded_if_fresh(data, now_ns, 5.0)


@pytest.mark.parametrize(("data", "code"), [
    (record("compute"), ExitCode.OK),
    (record("transitioning"), ExitCode.NOT_CONVERGED),
    (record("degraded-compute", degraded=True), ExitCode.DEGRADED),
    (record("desktop", evidence={"unavailable": {"audio": "x"}}), ExitCode.EVIDENCE_UNAVAILABLE),
])
def test_the_exit_code_comes_from_the_json_alone(data: dict[str, Any], code: int) -> None:
    """A recorded and a live answer with the same JSON exit alike."""
    assert code == readpath.exit_code(data)


def test_constants_spelled_twice_agree() -> None:
    """The entry's config path and the read path's failed outcome equal their sources."""
    assert (str(DEFAULT_CONFIG_PATH), Outcome.FAILED.value) == (
        entry.DEFAULT_CONFIG, readpath.FAILED_OUTCOME)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--backend", "host", "current"], (None, False, False)),
    (["--backend=host", "--state-dir", "/s", "current", "--json", "--refresh"],
     ("/s", True, True)),
    (["--backend", "sim", "current"], None),
    (["--backend", "host", "current", "--help"], None),
    (["--backend", "host", "cancel"], None),
    (["--backend", "host", "--verbose", "current"], None),
    (["--backend", "host", "--state-dir"], None),
    (["--backend", "host", "--state-dir=", "current"], None),
])
def test_only_plain_read_verbs_on_the_host_take_the_fast_path(
        argv: list[str], expected: tuple[str | None, bool, bool] | None) -> None:
    """`current [--json] [--refresh]` on the host is parsed; anything unusual goes to typer."""
    got = entry.parse(argv, {})
    assert expected == (None if got is None else (
        None if got["state_dir"] is None else str(got["state_dir"]), got["json"],
        got["refresh"]))


# ------------------------------------------------------------------ whole processes

PROBE = """
import json, sys
from dubnium_app.entry import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
loaded = [m for m in ("typer", "attrs", "dubnium.reconcile", "dubnium.plan", "dubnium.guards",
                      "dubnium.observe", "backends.host", "pystemd", "pynvml",
                      "backends.notify", "backends.idle", "dubnium.idle")
          if m in sys.modules]
sys.stderr.write("PROBE " + json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""


@pytest.fixture
def host_files(tmp_path: Path) -> tuple[Path, Path]:
    return _host_files(tmp_path)


def _host_files(tmp_path: Path) -> tuple[Path, Path]:
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**Policy().to_json(),
                                  "paths": {**Policy().to_json()["paths"],
                                            "state_dir": str(state)}}))
    return state, config


@contextlib.contextmanager
def files_for_another_user(dir_mode: int) -> Iterator[tuple[Path, Path]]:
    """A state directory (`dir_mode`) and a config another user can reach (pytest's own
    temporary directories are root's only); skipped without root to switch users."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the command as another user")
    with tempfile.TemporaryDirectory() as where:
        state, config = _host_files(Path(where))
        for path in (Path(where), state):
            path.chmod(dir_mode)
        config.chmod(0o644)
        yield state, config


def run(config: Path, *args: str, user: str | None = None,
        env: dict[str, str] | None = None) -> tuple[dict[str, Any], Any]:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE, "--backend", "host", "--config", str(config),
         *args], check=False, capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), "DUBNIUM_BACKEND": "", **(env or {})})
    probe = next(line for line in proc.stderr.splitlines() if line.startswith("PROBE "))
    return json.loads(probe[6:]), json.loads(proc.stdout) if "--json" in args else proc.stdout


def test_a_recorded_answer_loads_no_cli_framework_and_no_observer(
        host_files: tuple[Path, Path]) -> None:
    """Served from current.json: exit 0, source recorded, and none of typer, attrs, the
    observer, the planner, the guards, the reconciler or the host backend imported."""
    state, config = host_files
    (state / "current.json").write_text(json.dumps(record(at_ns=time.time_ns())))
    probe, data = run(config, "current", "--json")
    assert ({"code": 0, "loaded": []}, "recorded") == (probe, data["source"])
    assert 0 <= data["age_s"] < 5


def test_a_stale_record_is_observed_live_with_the_observer_only(
        host_files: tuple[Path, Path]) -> None:
    """A record older than the bound is not served: a live observation, without the
    planner, the guards or the reconciler."""
    state, config = host_files
    (state / "current.json").write_text(json.dumps(record(at_ns=time.time_ns() - 60 * 10**9)))
    probe, data = run(config, "current", "--json")
    assert "observed" == data["source"]
    assert not {"typer", "dubnium.reconcile", "dubnium.plan", "dubnium.guards",
                "backends.notify", "backends.idle", "dubnium.idle"} & set(probe["loaded"])
    assert {"dubnium.observe", "backends.host"} <= set(probe["loaded"])
    assert readpath.exit_code(data) == probe["code"]


def test_a_live_observation_as_a_user_needs_no_root_and_writes_nothing() -> None:
    """`--refresh` as an ordinary user observes and prints, and writes no current file even
    where it could."""
    with files_for_another_user(0o777) as (state, config):
        probe, data = run(config, "current", "--json", "--refresh", user="65534")
        written = sorted(p.name for p in state.iterdir())
    assert ("observed", []) == (data["source"], written)
    assert probe["code"] in (ExitCode.EVIDENCE_UNAVAILABLE, ExitCode.NOT_CONVERGED)


def test_refresh_as_root_records_the_observation(host_files: tuple[Path, Path]) -> None:
    """`--refresh` as root (the observer timer) writes current and current.json, which the
    next `mode current` serves, and the metrics textfile (the fast path used to skip it)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    state, config = host_files
    _, live = run(config, "current", "--json", "--refresh")
    _, served = run(config, "current", "--json")
    assert (live["observed_state"] + "\n", "recorded", live["timestamp"]) == (
        (state / "current").read_text(), served["source"], served["timestamp"])
    assert "dubnium_observed_state" in (state / "mode.prom").read_text()


def test_the_fast_path_and_the_full_cli_print_the_same(
        host_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The same recorded answer through the console script's fast path and through typer:
    the same JSON (but for the age) and the same exit code."""
    from dubnium_app.compose import main as full

    state, config = host_files
    (state / "current.json").write_text(json.dumps(record(
        "degraded-compute", at_ns=time.time_ns(), degraded=True)))
    probe, fast = run(config, "current", "--json")
    with pytest.raises(SystemExit) as stopped:
        full(["--backend", "host", "--config", str(config), "current", "--json"])
    slow = json.loads(capsys.readouterr().out)
    assert ({**fast, "age_s": None}, probe["code"]) == ({**slow, "age_s": None},
                                                         stopped.value.code)


def test_text_output_names_the_age_on_stderr(host_files: tuple[Path, Path]) -> None:
    """Without --json: the state on stdout, and on stderr that it was recorded and when."""
    state, config = host_files
    (state / "current.json").write_text(json.dumps(record(at_ns=time.time_ns())))
    proc = subprocess.run(
        [sys.executable, "-m", "dubnium_app.entry", "--backend", "host", "--config", str(config),
         "current"], check=False, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert ("desktop\n", 0) == (proc.stdout, proc.returncode)
    assert proc.stderr.startswith("recorded ")


def test_a_zero_bound_is_valid_and_never_serves_a_record() -> None:
    """timeouts.current_max_age_s = 0 loads, and then a record a millisecond old is not served."""
    from dubnium.policyload import load_policy_data

    data = Policy().to_json()
    data["timeouts"]["current_max_age_s"] = 0
    bound = load_policy_data(data).timeouts.current_max_age_s
    assert (0.0, None) == (bound, readpath.recorded_if_fresh(record(), NOW + 1_000_000, bound))


@pytest.mark.parametrize("as_json", [False, True])
def test_a_refresh_backs_off_in_studio_local_on_the_fast_path_too(
        capsys: pytest.CaptureFixture[str], as_json: bool) -> None:
    """`mode current --refresh` while the recorded state is studio-local and younger than
    studio.observe_backoff_s leaves the audio graph alone: the recorded answer and why,
    exit 0 — what the full CLI prints. The fast path answers it for an ordinary user
    (as root it hands `--refresh` to the full CLI); it used to observe regardless."""
    from dubnium_app.compose import main as full

    with files_for_another_user(0o755) as (state, config):
        (state / "current.json").write_text(json.dumps(record(
            "studio-local", at_ns=time.time_ns() - 10 * 10**9)))
        flags = ["current", "--refresh", *(["--json"] if as_json else [])]
        probe, fast = run(config, *flags, user="65534")
        with pytest.raises(SystemExit) as stopped:
            full(["--backend", "host", "--config", str(config), *flags])
    slow: Any = capsys.readouterr().out
    if as_json:  # the same JSON but for the age, which grew between the two calls
        slow = json.loads(slow)
        assert 10 <= fast.pop("age_s") <= slow.pop("age_s")
        fast["age_s"] = slow["age_s"] = "grew"
    assert (fast, probe["code"]) == (slow, stopped.value.code)
    assert ("dubnium.observe" not in probe["loaded"], probe["code"]) == (True, 0)
    assert as_json or "the observer backs off" in fast
    assert not as_json or fast["source"] == "recorded"
