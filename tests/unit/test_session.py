"""The session seam: what a verb gets (policy, backend, state, audit, the rules for mutating
verbs) is one object, chosen once by the composition root; the simulated world and the
controller share its one policy."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dubnium import cli
from dubnium.policy import default_policy
from dubnium.policyload import load_policy
from dubnium_app import compose
from simulator import oracle
from simulator.persist import WorldFile
from simulator.session import SimulatedSession
from tests.unit import test_cli
from tests.unit.test_cli import Shell

shell = test_cli.shell  # a created world (seed 5) and the two commands


def _display_on_gpu1(tmp_path: Path) -> Path:
    data = default_policy().to_json()
    data["hardware"]["display_gpu"] = 1
    data["hardware"]["compute_gpus"] = [0]
    path = tmp_path / "display1.json"
    path.write_text(json.dumps(data))
    return path


def test_config_is_the_simulated_worlds_policy_too(shell: Shell, tmp_path: Path) -> None:
    """`mode --backend sim --config X request compute`: the world runs under X as well, so
    the controller's verdict is the one the world's own oracle gives under the world's
    policy (it used to say compute while the world, on its own policy, was degraded)."""
    config = _display_on_gpu1(tmp_path)
    _, out, err = shell.run("mode", "--config", str(config), "request", "compute", "--json")
    world = WorldFile(shell.state).load()
    said = json.loads(out)["observed_state"]
    assert (said, world.policy) == (oracle.judge(world, world.policy), load_policy(config)), err


class _Recording(SimulatedSession):
    """The simulated session, noting which rules the verbs ask of it."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir, None)
        self.asked: list[str] = []

    @contextlib.contextmanager
    def mutating(self, verb: str) -> Iterator[None]:
        self.asked.append(f"mutating {verb}")
        with super().mutating(verb):
            yield

    def require_root(self, verb: str) -> None:
        self.asked.append(f"root {verb}")


def test_verbs_ask_the_session_for_the_rules_of_mutating_verbs(
        shell: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    """A switch runs inside its session's mutating rules, cancel asks for root, a read verb
    asks for neither: what differs between host and simulator is the session's."""
    session = _Recording(shell.state)
    codes = []
    for argv in (["request", "studio-local"], ["cancel"], ["status"]):
        with pytest.raises(SystemExit) as stopped:
            cli.main(argv, lambda options: session)
        codes.append(stopped.value.code)
    capsys.readouterr()
    assert (codes, session.asked) == ([0, 0, 0], ["mutating request", "root cancel"])


def test_an_unknown_backend_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """The composition root refuses a backend it does not know: exit 2, one line."""
    with pytest.raises(SystemExit) as stopped:
        compose.main(["--backend", "moon", "status"])
    assert (stopped.value.code, capsys.readouterr().err) == (
        2, "mode: unknown backend 'moon'; use sim or host\n")
