"""`mode-sim` verbs through typer's CliRunner: output, the saved world, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dubnium.codes import ExitCode
from simulator import worldjson
from simulator.cli import app
from simulator.persist import WORLD_FILE, WorldFile
from simulator.world import World

runner = CliRunner()


def sim(state: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--state-dir", str(state), *args])
    return result.exit_code, result.output


@pytest.fixture
def state(tmp_path: Path) -> Path:
    code, _ = sim(tmp_path, "create", "--seed", "9")
    assert 0 == code
    return tmp_path


def world(state: Path) -> World:
    return WorldFile(state).load()


def test_create_writes_a_booted_world(tmp_path: Path) -> None:
    """create --seed --gpus: a world file with that seed and GPU count, booted to desktop."""
    code, out = sim(tmp_path, "create", "--seed", "3", "--gpus", "1")
    w = world(tmp_path)
    assert (0, 3, [0]) == (code, w.seed, sorted(w.gpus))
    assert w.systemd.is_up("desktop.target")
    assert "created world" in out


def test_create_refuses_to_overwrite_without_force(state: Path) -> None:
    """A second create is a usage error; --force replaces the world."""
    assert ExitCode.USAGE == sim(state, "create")[0]
    assert 0 == sim(state, "create", "--seed", "4", "--force")[0]
    assert 4 == world(state).seed


def test_create_with_a_config_file_uses_its_policy(tmp_path: Path) -> None:
    """--config FILE: the world carries that policy; a bad file exits CONFIG_INVALID."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"schema_version": 1, "k3s": {"enable": True}}))
    assert 0 == sim(tmp_path / "a", "create", "--config", str(config))[0]
    assert world(tmp_path / "a").systemd.is_up("k3s.service")
    config.write_text("{")
    assert ExitCode.CONFIG_INVALID == sim(tmp_path / "b", "create", "--config", str(config))[0]


def test_user_verbs_change_the_saved_world(state: Path) -> None:
    """audio/jack/reaper/job/session verbs start and stop things in the saved world."""
    for args in (["audio", "start", "firefox"], ["jack", "start", "ardour"],
                 ["reaper", "start"], ["job", "add", "cargo", "--runtime-s", "900"],
                 ["session", "add", "--type", "tty"]):
        assert 0 == sim(state, *args)[0], args
    w = world(state)
    comms = sorted(p.comm for p in w.processes.procs.values())
    assert ["Hyprland", "ardour", "cargo", "firefox", "reaper"] == comms
    assert 2 == len(w.logind.sessions)
    for args in (["audio", "stop", "firefox"], ["jack", "stop", "ardour"], ["reaper", "stop"],
                 ["job", "remove", "cargo"], ["session", "remove", "2"]):
        assert 0 == sim(state, *args)[0], args
    w = world(state)
    assert (["Hyprland"], 1) == (sorted(p.comm for p in w.processes.procs.values()),
                                 len(w.logind.sessions))


def test_machine_verbs(state: Path) -> None:
    """gpu release, load set, memory fill, advance and reboot reach the world."""
    assert 0 == sim(state, "gpu", "release", "0", "partial", "--residual-mib", "300")[0]
    assert 0 == sim(state, "load", "set", "12.5", "--cpus", "8")[0]
    assert 0 == sim(state, "memory", "fill", "2000")[0]
    before = world(state).now_ns
    code, out = sim(state, "advance", "2.5")
    assert (0, True) == (code, "t = " in out)
    w = world(state)
    assert ("partial", 300, 12.5, 8, 50000) == (
        w.gpus[0].release.kind.value, w.gpus[0].release.residual_mib, w.host.load.load1,
        w.host.load.cpus, w.host.memory.available_mib)
    assert before + 2_500_000_000 == w.now_ns
    assert 0 == sim(state, "reboot")[0]
    assert 1 == world(state).boot_count


def test_show_json_is_the_whole_world(state: Path) -> None:
    """show --json prints exactly the saved world's JSON."""
    code, out = sim(state, "show", "--json")
    assert (0, worldjson.dump(world(state))) == (code, json.loads(out))


def test_show_prints_a_summary(state: Path) -> None:
    """show without --json prints one line per aspect."""
    code, out = sim(state, "show")
    assert (0, True, True) == (code, "desktop.target" in out, "Hyprland" in out)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["audio", "stop", "nobody"], ExitCode.USAGE),
        (["gpu", "release", "7", "never"], ExitCode.USAGE),
        (["gpu", "release", "0", "sometimes"], ExitCode.USAGE),
        (["session", "remove", "99"], ExitCode.USAGE),
        (["reaper", "stop"], ExitCode.USAGE),
        (["memory", "fill", "-5"], ExitCode.USAGE),
    ],
)
def test_bad_requests_are_usage_errors(state: Path, args: list[str], code: int) -> None:
    """Unknown names and bad values: exit 2 with one line, no traceback."""
    exit_code, out = sim(state, *args)
    assert (code, False) == (exit_code, "Traceback" in out)


def test_no_world_is_backend_unavailable(tmp_path: Path) -> None:
    """Any verb without a world: exit 4 and the hint to run mode-sim create."""
    code, out = sim(tmp_path, "audio", "start", "x")
    assert (ExitCode.BACKEND_UNAVAILABLE, True) == (code, "mode-sim create" in out)


def test_a_corrupt_world_is_state_corrupt(state: Path) -> None:
    """A garbage world file: exit 7, one line naming the file."""
    (state / WORLD_FILE).write_text("garbage", encoding="utf-8")
    code, out = sim(state, "show")
    assert (ExitCode.STATE_CORRUPT, 1, True) == (
        code, len(out.strip().splitlines()), str(state / WORLD_FILE) in out)


def test_state_dir_comes_from_the_environment(tmp_path: Path) -> None:
    """DUBNIUM_STATE_DIR picks the world when --state-dir is not given."""
    result = runner.invoke(app, ["create", "--seed", "2"],
                           env={"DUBNIUM_STATE_DIR": str(tmp_path)})
    assert (0, 2) == (result.exit_code, world(tmp_path).seed)
