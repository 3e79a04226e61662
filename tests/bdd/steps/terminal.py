"""Gherkin steps that run `mode` in a real pseudo-terminal: the confirmation, the grace period
and the progress lines as the owner sees them (registered by tests/conftest.py's pytest_plugins).

The command runs with its stdin, stdout and stderr on a pty (so `isatty()` is true, as in a
terminal emulator); the step answers the question when it appears, and the merged output is
kept as the process's stdout and stderr for the shared "it exits with code" steps.
"""

from __future__ import annotations

import os
import pty
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

QUESTION = "[y/N]"


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else name


def run_in_terminal(argv: list[str], env: dict[str, str], answer: str | None,
                    timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run `argv` on a pty; type `answer` and Enter when the question shows."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True, start_new_session=True)
    os.close(slave)
    out = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the other side closed
                    break
                if not chunk:
                    break
                out += chunk
            if answer is not None and not answered and QUESTION.encode() in out:
                os.write(master, answer.encode() + b"\r")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode("utf-8", "replace").replace("\r\n", "\n")
    return subprocess.CompletedProcess(argv, code, text, text)


def _env(scene: Any) -> dict[str, str]:
    env = {**os.environ, "DUBNIUM_BACKEND": "sim", "DUBNIUM_STATE_DIR": str(scene.state_dir),
           "TERM": "xterm", "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("DUBNIUM_CONFIG", None)
    return env


@when(parsers.parse('the owner runs "{command}" in a terminal and answers "{answer}"'))
def terminal_answer(scene: Any, command: str, answer: str) -> None:
    argv = shlex.split(command)
    scene.proc = run_in_terminal([_tool(argv[0]), *argv[1:]], _env(scene), answer)


@when(parsers.parse('the owner runs "{command}" in a terminal'))
def terminal_plain(scene: Any, command: str) -> None:
    argv = shlex.split(command)
    scene.proc = run_in_terminal([_tool(argv[0]), *argv[1:]], _env(scene), None)


@then(parsers.parse('the terminal showed "{text}"'))
def terminal_showed(scene: Any, text: str) -> None:
    assert text in scene.proc.stdout, scene.proc.stdout


@then(parsers.parse('the terminal did not show "{text}"'))
def terminal_not_showed(scene: Any, text: str) -> None:
    assert text not in scene.proc.stdout, scene.proc.stdout


@then("nothing asked a question")
def no_question(scene: Any) -> None:
    assert QUESTION not in scene.proc.stdout + scene.proc.stderr, scene.proc.stderr


@then(parsers.parse("stderr has a start and an end line for each of the {count:d} steps"))
def progress_lines(scene: Any, count: int) -> None:
    lines = scene.proc.stderr.splitlines()
    starts = [x for x in lines if x.startswith("mode: [") and "] start: " in x]
    ends = [x for x in lines if x.startswith("mode: [") and ("] done in " in x
                                                             or "] FAILED in " in x)]
    assert (len(starts), len(ends)) == (count, count), lines


@then(parsers.parse('the last stderr line starts with "{text}"'))
def last_line(scene: Any, text: str) -> None:
    assert scene.proc.stderr.strip().splitlines()[-1].startswith(text), scene.proc.stderr


@then(parsers.parse('a step end line says "{text}"'))
def step_end_says(scene: Any, text: str) -> None:
    ends = [x for x in scene.proc.stderr.splitlines() if "] done in " in x or "] FAILED in " in x]
    assert any(text in x for x in ends), ends


@then("stderr is empty")
def stderr_empty(scene: Any) -> None:
    assert scene.proc.stderr == "", scene.proc.stderr


@given("the simulated world's display GPU never releases its memory")
def gpu_never(scene: Any) -> None:
    proc = subprocess.run([_tool("mode-sim"), "gpu", "release", "0", "never"],
                          capture_output=True, text=True, env=_env(scene), check=False)
    assert proc.returncode == 0, proc.stderr


@given("the simulated workstation has one GPU")
def one_gpu(scene: Any) -> None:
    proc = subprocess.run([_tool("mode-sim"), "create", "--seed", "3", "--gpus", "1", "--force"],
                          capture_output=True, text=True, env=_env(scene), check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def second() -> dict[str, Any]:
    """The second command of a scenario (typed in another terminal)."""
    return {}


@when(parsers.parse('the owner runs "{command}" and, during the grace period, "{cancel}"'))
def cancel_during_grace(scene: Any, second: dict[str, Any], command: str, cancel: str) -> None:
    """The switch runs paced in real time (DUBNIUM_SIM_PACE) so that a second command, typed
    while the grace period runs, lands in it — as two terminals would."""
    env = {**_env(scene), "DUBNIUM_SIM_PACE": "0.1"}
    argv = shlex.split(command)
    switch = subprocess.Popen([_tool(argv[0]), *argv[1:]], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    assert switch.stderr is not None
    seen = []
    for line in switch.stderr:  # wait for the grace step to start
        seen.append(line)
        if "] start: grace period" in line:
            break
    argv = shlex.split(cancel)
    second["proc"] = subprocess.run([_tool(argv[0]), *argv[1:]], capture_output=True,
                                       text=True, env=_env(scene), timeout=30, check=False)
    try:
        out, err = switch.communicate(timeout=60)
    finally:
        if switch.poll() is None:
            switch.kill()
            switch.communicate()
    scene.proc = subprocess.CompletedProcess(switch.args, switch.returncode, out,
                                             "".join(seen) + err)


@then(parsers.parse('the cancel command exits with code {code:d} saying "{text}"'))
def cancel_said(second: dict[str, Any], code: int, text: str) -> None:
    proc = second["proc"]
    assert (proc.returncode, text in proc.stdout + proc.stderr) == (code, True), proc


@then(parsers.parse('the last transition record says "{outcome}" with "{text}"'))
def last_record(scene: Any, outcome: str, text: str) -> None:
    proc = subprocess.run([_tool("mode"), "last-transition", "--json"], capture_output=True,
                          text=True, env=_env(scene), check=False)
    import json

    record = json.loads(proc.stdout)
    assert (record["outcome"], text in record["summary"]) == (outcome, True), record
