"""The session seam: what a verb gets (policy, backend, state, audit, the rules for mutating
verbs) is one object, chosen once by the composition root; the simulated world and the
controller share its one policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dubnium.policy import default_policy, load_policy
from simulator import oracle
from simulator.persist import WorldFile
from tests.unit.test_cli import Shell


@pytest.fixture
def shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Shell:
    sh = Shell(tmp_path / "state", capsys)
    assert sh.run("mode-sim", "create", "--seed", "5")[0] == 0
    return sh


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

