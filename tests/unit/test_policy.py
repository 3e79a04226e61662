"""The config loader accepts its own output and rejects bad input with the key named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dubnium.errors import ConfigError
from dubnium.modes import Mode
from dubnium.policy import default_policy
from dubnium.policyload import load_policy, load_policy_data


def test_default_policy_round_trips_through_json() -> None:
    """to_json() is accepted by the loader and gives back the same policy."""
    policy = default_policy()
    assert load_policy_data(json.loads(json.dumps(policy.to_json()))) == policy


def test_minimal_config_takes_the_defaults() -> None:
    """Only the schema version is required."""
    assert load_policy_data({"schema_version": 1}) == default_policy()


BAD: list[tuple[dict[str, Any], str]] = [
    ({}, "schema_version: missing"),
    ({"schema_version": 2}, "schema_version: expected 1, got 2"),
    ({"schema_version": 1, "hardware": {"display_gpu": "zero"}},
     "hardware.display_gpu: expected an integer"),
    ({"schema_version": 1, "hardware": {"displayGpu": 0}}, "hardware.displayGpu: unknown key"),
    ({"schema_version": 1, "hardware": {"present_gpus": [0], "display_gpu": 1,
                                        "compute_gpus": [0]}},
     "hardware.display_gpu: GPU 1 is not in hardware.present_gpus"),
    ({"schema_version": 1, "hardware": {"present_gpus": [0], "compute_gpus": [0, 1]}},
     "hardware.compute_gpus: GPU(s) [1] not in"),
    ({"schema_version": 1, "slices": {"studio-local": {"ai.slice": {"cpu_weight": 0}}}},
     "slices.studio-local.ai.slice.cpu_weight: expected an integer from 1 to 10000"),
    ({"schema_version": 1, "capability_placement": {"studio": "mac-mini"}},
     "capability_placement.studio: expected one of local, remote"),
    ({"schema_version": 1, "guards": {"soft": ["no_such_guard"]}}, "guards.soft[0]"),
    ({"schema_version": 1, "paths": {"audit_log": "events.jsonl"}},
     "paths.audit_log: expected an absolute path"),
    ({"schema_version": 1, "vllm": {"enable": "yes"}}, "vllm.enable: expected true or false"),
    ({"schema_version": 1, "slices": {"studio-local": {"ai.slice": {"allowed_cpus": "0-x"}}}},
     "slices.studio-local.ai.slice.allowed_cpus: '0-x' is not a CPU number or range"),
    ({"schema_version": 1, "studio": {"audio_cpus": 3}},
     "studio.audio_cpus: expected a non-empty string, got an integer"),
    ({"schema_version": 1, "studio": {"audio_cpus": "2-3"}},
     "slices.studio-local.ai.slice.allowed_cpus: every CPU includes CPUs reserved for audio"),
    ({"schema_version": 1, "studio": {"audio_cpus": "2-3"}, "slices": {"studio-local": {
        "ai.slice": {"allowed_cpus": "0-1"}, "platform.slice": {"allowed_cpus": "1-2"}}}},
     "slices.studio-local.platform.slice.allowed_cpus: 1-2 includes CPUs reserved for audio"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_config_names_the_key_and_the_expectation(data: dict[str, Any],
                                                      message: str) -> None:
    """Each malformed config is refused with a message that says where and what."""
    with pytest.raises(ConfigError) as caught:
        load_policy_data(data)
    assert message in str(caught.value)


@pytest.mark.parametrize("data", [
    {"schema_version": 1, "hardware": {"bad\nkey": 0}},
    {"schema_version": 1, "slices": {"studio-local": {"ai\r\n.slice": {"cpu_weight": 0}}}},
])
def test_a_key_with_control_characters_is_named_on_one_line(data: dict[str, Any]) -> None:
    """A key holding a newline is quoted in the message, which stays one line."""
    with pytest.raises(ConfigError) as caught:
        load_policy_data(data)
    assert (len(str(caught.value).splitlines()), '\\n' in str(caught.value)) == (1, True)


def test_unparsable_file_reports_line_and_column(tmp_path: Path) -> None:
    """A file that is not JSON is refused with its path and position."""
    path = tmp_path / "config.json"
    path.write_text('{"schema_version": 1,,}')
    with pytest.raises(ConfigError, match=r"config.json: not valid JSON \(line 1, column 22"):
        load_policy(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """No config file: a clear error, not a traceback."""
    with pytest.raises(ConfigError, match="config file not found"):
        load_policy(tmp_path / "absent.json")


def test_audio_cpus_go_to_the_audio_units_in_studio_local_only() -> None:
    """studio.audio_cpus becomes the audio units' AllowedCPUs in studio-local (canonical), with
    ai and platform kept off them; desktop leaves every CPU; the JSON loads back equal."""
    policy = load_policy_data({"schema_version": 1, "studio": {"audio_cpus": "3,2"},
                               "slices": {"studio-local": {
                                   "ai.slice": {"allowed_cpus": "0-1"},
                                   "platform.slice": {"allowed_cpus": "0,1"}}}})
    studio, desktop = policy.slices[Mode.STUDIO_LOCAL], policy.slices[Mode.DESKTOP]
    assert ([studio[u].allowed_cpus for u in policy.studio.audio_units],
            [desktop[u].allowed_cpus for u in policy.studio.audio_units],
            studio["platform.slice"].allowed_cpus,
            load_policy_data(policy.to_json()) == policy) == (
        ["2-3", "2-3"], [None, None], "0-1", True)
