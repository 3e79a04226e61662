"""Steps of features/cli.feature (and the `I run` steps of the terminal features): the real
`mode` and `mode-sim` commands run as processes on a persisted simulated world.

Registered for every test module by tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_bdd import given, parsers, then, when

from tests.bdd.scene import Scene


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def _run(scene: Scene, command: str, user: str | None = None) -> None:
    assert scene.state_dir is not None
    argv = shlex.split(command)
    argv[0] = _tool(argv[0])
    argv = [str(scene.config) if a == "CONFIG" else a for a in argv]
    env = {**os.environ, "DUBNIUM_BACKEND": "sim", "DUBNIUM_STATE_DIR": str(scene.state_dir)}
    env.pop("DUBNIUM_CONFIG", None)
    if user is not None and os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    scene.proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60,
                                check=False)


@given("a fresh simulated workstation for the mode command")
def fresh_cli(scene: Scene, tmp_path: Path) -> None:
    scene.state_dir = tmp_path / "state"
    _run(scene, "mode-sim create --seed 3 --gpus 2")
    proc = _proc(scene)
    assert proc.returncode == 0, proc.stderr


@given(parsers.parse("a config file containing '{content}'"))
def config_file(scene: Scene, tmp_path: Path, content: str) -> None:
    scene.config = tmp_path / "config.json"
    scene.config.write_text(content)


@given("the owner has already made a request with the mode command")
def cli_request(scene: Scene) -> None:
    _run(scene, "mode request studio-local")
    proc = _proc(scene)
    assert proc.returncode == 0, proc.stdout


@given(parsers.parse('the state file "{name}" is truncated'))
def truncate_state(scene: Scene, name: str) -> None:
    assert scene.state_dir is not None
    path = scene.state_dir / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    scene.audit_lines = (scene.state_dir / "events.jsonl").read_text().splitlines()
    assert scene.audit_lines


@given("the simulated world file is replaced with garbage")
def garbage_world(scene: Scene) -> None:
    assert scene.state_dir is not None
    (scene.state_dir / "sim-world.json").write_bytes(b"\x00garbage{")


@given(parsers.parse('the simulated world has an audio stream "{name}"'))
def cli_audio(scene: Scene, name: str) -> None:
    _run(scene, f"mode-sim audio start {name}")
    proc = _proc(scene)
    assert proc.returncode == 0, proc.stderr


@when(parsers.parse('I run "{command}"'))
@then(parsers.parse('I run "{command}"'))
def i_run(scene: Scene, command: str) -> None:
    _run(scene, command)


@when(parsers.parse('an unprivileged user runs "{command}"'))
def unprivileged_runs(scene: Scene, command: str) -> None:
    _run(scene, command, user="nobody")


def _proc(scene: Scene) -> subprocess.CompletedProcess[str]:
    assert scene.proc is not None
    return scene.proc


@then(parsers.parse("it exits with code {code:d}"))
def exits_with(scene: Scene, code: int) -> None:
    proc = _proc(scene)
    assert proc.returncode == code, (proc.stdout, proc.stderr)


@then(parsers.parse('it prints one line mentioning "{text}"'))
def one_line(scene: Scene, text: str) -> None:
    err = _proc(scene).stderr.strip().splitlines()
    assert len(err) == 1, err
    assert text in err[0], err


@then("no traceback is shown")
def no_traceback(scene: Scene) -> None:
    proc = _proc(scene)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().startswith("mode"), proc.stderr


@then(parsers.parse('it prints "{text}"'))
def prints(scene: Scene, text: str) -> None:
    assert _proc(scene).stdout.strip() == text


@then("the audit log still has all its lines")
def audit_intact(scene: Scene) -> None:
    assert scene.state_dir is not None
    now = (scene.state_dir / "events.jsonl").read_text().splitlines()
    assert now[: len(scene.audit_lines)] == scene.audit_lines
    assert all(json.loads(line)["schema_version"] == 1 for line in now)
