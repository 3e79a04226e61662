"""A CLI that explains itself: help, version, one-line usage errors, completion, man page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dubnium import __version__
from dubnium.codes import ExitCode
from dubnium.docgen import man_page, write_all
from tests.unit.test_cli import Shell

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Shell:
    sh = Shell(tmp_path / "state", capsys)
    assert sh.run("mode-sim", "create", "--seed", "5")[0] == 0
    return sh


def _mode_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "COLUMNS": "120"}


def test_request_help_lists_the_modes(shell: Shell) -> None:
    """`mode request -h` names the three modes (not TEXT) and exits 0."""
    code, out, _ = shell.run("mode", "request", "-h")
    assert (code, "{desktop|studio-local|compute}" in out, "TEXT" in out) == (0, True, False)


def test_version(shell: Shell) -> None:
    """`mode --version` prints the package version."""
    code, out, _ = shell.run("mode", "--version")
    assert (code, out.strip()) == (0, f"mode (dubnium) {__version__}")


def test_a_typo_gets_one_suggestion_on_one_line(shell: Shell) -> None:
    """A misspelt verb: exit 2, one stderr line, "Did you mean" exactly once."""
    code, _, err = shell.run("mode", "reqest", "compute")
    lines = err.strip().splitlines()
    assert (code, len(lines), lines[0].count("Did you mean 'request'?")) == (2, 1, 1)


def test_an_unknown_mode_is_one_line_naming_the_choices(shell: Shell) -> None:
    """`mode guards turbo`: exit 2, one line naming the three modes."""
    code, _, err = shell.run("mode", "guards", "turbo")
    lines = err.strip().splitlines()
    assert (code, len(lines)) == (2, 1)
    assert "unknown mode 'turbo'; expected one of: desktop, studio-local, compute" in lines[0]


def test_request_dry_run_changes_nothing(shell: Shell) -> None:
    """`mode request compute --dry-run` prints the plan; desired and the host are unchanged."""
    code, out, _ = shell.run("mode", "request", "compute", "--dry-run", "--json")
    plan = json.loads(out)
    assert (code, plan["target"], [leg["leg"] for leg in plan["legs"]]) == (0, "compute", ["T3"])
    assert (shell.json("desired")["desired"], shell.json("current")["observed_state"]) == (
        None, "desktop")


def test_reconcile_takes_mode_positionally_and_as_target(shell: Shell) -> None:
    """`reconcile MODE` and `reconcile --target MODE` are the same; disagreeing is a usage error."""
    assert shell.run("mode", "reconcile", "studio-local", "-q")[0] == 0
    assert shell.run("mode", "reconcile", "--target", "desktop", "-q")[0] == 0
    code, _, err = shell.run("mode", "reconcile", "compute", "--target", "desktop")
    assert (code, "disagree" in err) == (ExitCode.USAGE, True)
    assert shell.json("current")["observed_state"] == "desktop"


def test_missing_host_extra_says_how_to_install(tmp_path: Path) -> None:
    """Without pystemd, `--backend host` says to install the host extra (exit 4)."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"schema_version": 1}))
    code = ("import sys; sys.modules['pystemd'] = None; from dubnium_app.compose import main; "
            f"main(['--backend', 'host', '--config', {str(config)!r}, 'doctor'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert (proc.returncode, proc.stderr.count("\n")) == (ExitCode.BACKEND_UNAVAILABLE, 1)
    assert "pip install 'dubnium[host]'" in proc.stderr


def test_man_page_has_every_verb() -> None:
    """The generated man page has a section per verb, taken from the CLI."""
    page = man_page()
    verbs = ["request", "reconcile", "boot", "current", "desired", "status", "dry\\-run",
             "explain", "guards", "history", "last\\-transition", "doctor"]
    assert [v for v in verbs if f".SS mode {v} " not in page] == []


def test_bash_completion_offers_the_modes(tmp_path: Path) -> None:
    """The generated bash script, sourced in bash, completes `mode request <TAB>` to the modes."""
    write_all(tmp_path)
    script = (f"source {tmp_path}/completions/mode.bash; COMP_WORDS=(mode request ''); "
              "COMP_CWORD=2; _mode_completion mode; printf '%s\\n' \"${COMPREPLY[@]}\"")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env=_mode_env(), check=False)
    assert proc.stdout.split() == ["desktop", "studio-local", "compute"]


@pytest.mark.parametrize(("shell_name", "env", "expected"), [
    ("zsh", {"_TYPER_COMPLETE_ARGS": "mode request stu"}, "studio-local"),
    ("fish", {"_TYPER_COMPLETE_ARGS": "mode guards ", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
     "compute"),
])
def test_zsh_and_fish_completion_answer(shell_name: str, env: dict[str, str],
                                        expected: str) -> None:
    """The protocol the zsh and fish scripts call back answers with the modes."""
    proc = subprocess.run(["mode"], capture_output=True, text=True, check=False,
                          env={**_mode_env(), **env, "_MODE_COMPLETE": f"complete_{shell_name}"})
    assert (proc.returncode, expected in proc.stdout) == (0, True)
