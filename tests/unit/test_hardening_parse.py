"""Strict parsing: the config, state files and their numbers (issue 11, "Numbers" and "Smaller").

Each case was accepted before (NaN switched a guard off, 0 made every switch fail, 1e308
overflowed mid-transition, a duplicate key silently won) and is now refused with the key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dubnium import strictjson
from dubnium.codes import ExitCode
from dubnium.errors import ConfigError
from dubnium.policyload import load_policy, load_policy_data
from dubnium_app.compose import main as mode_main


def _config(**sections: Any) -> dict[str, Any]:
    return {"schema_version": 1, **sections}


NUMBERS: list[tuple[dict[str, Any], str]] = [
    (_config(timeouts={"unit_start_s": float("nan")}), "timeouts.unit_start_s: expected a finite"),
    (_config(timeouts={"unit_start_s": float("inf")}), "timeouts.unit_start_s: expected a finite"),
    (_config(timeouts={"vllm_ready_s": 1e308}), "timeouts.vllm_ready_s: expected a number"),
    (_config(timeouts={"unit_stop_s": 0}), "timeouts.unit_stop_s: expected a number above 0"),
    (_config(timeouts={"lock_stale_s": -1}), "timeouts.lock_stale_s: expected a number above 0"),
    (_config(guards={"cpu_load_per_core_max": float("nan")}),
     "guards.cpu_load_per_core_max: expected a finite"),
    (_config(guards={"cpu_load_per_core_max": 0}),
     "guards.cpu_load_per_core_max: expected a number above 0"),
    (_config(gpu_release={"timeout_s": 0}), "gpu_release.timeout_s: expected a number above 0"),
    (_config(gpu_release={"poll_interval_s": 1e9}), "gpu_release.poll_interval_s"),
    (_config(guards={"memory_available_min_mib": 10**30}),
     "guards.memory_available_min_mib: expected an integer from 0"),
    (_config(hardware={"present_gpus": [0, 10**9]}), "hardware.present_gpus[1]"),
    (_config(units={"vllm": "../../etc/passwd.service"}), "units.vllm: not a systemd unit name"),
    (_config(units={"vllm": "vllm.service\nExecStart=/bin/sh"}), "units.vllm: control characters"),
    (_config(units={"desktop_target": "desktop.service"}),
     "units.desktop_target: expected a .target unit"),
    (_config(vllm={"profile_path": "vllm-profile.env"}),
     "vllm.profile_path: expected an absolute path"),
    (_config(vllm={"extra_args": ["--x\nCUDA_VISIBLE_DEVICES=9"]}), "vllm.extra_args[0]"),
    (_config(guards={"user_job_names": ["cargo"] * 1000}), "guards.user_job_names: more than"),
]


@pytest.mark.parametrize(("data", "message"), NUMBERS, ids=[m for _, m in NUMBERS])
def test_bad_values_are_refused_naming_the_key(data: dict[str, Any], message: str) -> None:
    """Non-finite, zero, huge and malformed values are a ConfigError naming the key."""
    with pytest.raises(ConfigError) as caught:
        load_policy_data(data)
    assert message in str(caught.value)


def test_the_systemd_unit_names_of_the_default_policy_pass() -> None:
    """Template instances and dashes are fine: the checks refuse only what systemd would."""
    policy = load_policy_data(_config(units={"vllm": "vllm@model-a.service",
                                             "k3s": "k3s-agent.service"}))
    assert (policy.units.vllm, policy.units.k3s) == ("vllm@model-a.service", "k3s-agent.service")


@pytest.mark.parametrize(("text", "message"), [
    (b'{"schema_version": 1, "timeouts": {"unit_start_s": NaN}}', "non-finite number NaN"),
    (b'{"schema_version": 1, "timeouts": {"unit_start_s": 1e999}}', "out of range"),
    (b'{"schema_version": 1, "schema_version": 1}', "duplicate key 'schema_version'"),
    (b'{"schema_version": 1, "vllm": {"model": "caf\xe9"}}', "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than"),
])
def test_config_files_that_json_loads_accepted_are_refused(tmp_path: Path, text: bytes,
                                                           message: str) -> None:
    """NaN, 1e999, duplicate keys, Latin-1 and deep nesting: ConfigError naming the file."""
    path = tmp_path / "config.json"
    path.write_bytes(text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert (str(path) in str(caught.value), message in str(caught.value)) == (True, True)


@pytest.mark.parametrize("kind", ["fifo", "directory", "non-utf8", "deep"])
def test_mode_with_a_bad_config_file_exits_6_in_one_line(tmp_path: Path, kind: str,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """`mode --config X status`: exit 6, one line naming the file; no hang, no traceback."""
    path = tmp_path / "config.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "non-utf8":
        path.write_bytes(b'{"schema_version": 1, "vllm": {"model": "\xff"}}')
    else:
        path.write_bytes(b"[" * 50_000 + b"]" * 50_000)
    with pytest.raises(SystemExit) as stopped:
        mode_main(["--backend", "host", "--config", str(path), "--state-dir",
                   str(tmp_path / "s"), "status"])
    err = capsys.readouterr().err
    assert (stopped.value.code, len(err.splitlines())) == (ExitCode.CONFIG_INVALID, 1), err
    assert str(path) in err


@pytest.mark.parametrize(("text", "message"), [
    (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
    (b"[Infinity]", "non-finite number Infinity"),
    (b"[-1e400]", "out of range"),
    (b'"\xc3"', "not UTF-8"),
    (b"1" * 5000, "too many digits"),
    (b"{" * 65 + b"}" * 65, "nested deeper than 64"),
])
def test_the_strict_reader_names_what_is_wrong(text: bytes, message: str) -> None:
    """The one JSON reader: duplicates, non-finite numbers, bad UTF-8, depth; one message."""
    with pytest.raises(strictjson.JsonError, match=message):
        strictjson.loads(text)


def test_the_strict_reader_reads_what_we_write() -> None:
    """Brackets inside strings do not count as depth; ordinary documents parse unchanged."""
    doc = {"trace": "[" * 100, "nested": [[[{"a": 1.5}]]], "n": -3}
    assert strictjson.loads(json.dumps(doc).encode()) == doc


def test_the_size_limit_is_enforced() -> None:
    """A document over the limit is refused before parsing."""
    with pytest.raises(strictjson.JsonError, match="larger than 10 bytes"):
        strictjson.loads(b"[" + b"1," * 10 + b"1]", max_bytes=10)
