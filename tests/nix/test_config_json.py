"""The config file the module writes (nixos/lib/config-json.nix) against dubnium/policy.py,
and the module's build-time checks (nixos/lib/checks.nix), both evaluated without nixpkgs."""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest

from dubnium.errors import ConfigError
from dubnium.modes import Mode
from dubnium.policy import Policy
from dubnium.policyload import load_policy_data
from tests.nix.nixtools import NIX_LIB, eval_json, host_settings

pytestmark = pytest.mark.nix


def config_json(overrides: dict[str, Any] | None = None) -> Any:
    return eval_json(f"import {NIX_LIB}/config-json.nix ({host_settings(overrides)})")


def checks(overrides: dict[str, Any] | None = None) -> Any:
    result = eval_json(f"import {NIX_LIB}/checks.nix ({host_settings(overrides)})")
    failed = [a["message"] for a in result["assertions"] if not a["assertion"]]
    return failed, result["warnings"]


def test_workstation_config_is_accepted_by_the_loader() -> None:
    """The example host's config JSON loads into the Policy the seed describes."""
    policy = load_policy_data(config_json())
    assert ((0,), 0, (0,), 2) == (
        policy.hardware.present_gpus, policy.hardware.display_gpu,
        policy.hardware.compute_gpus, policy.hardware.planned_gpu_count)
    assert (True, "Qwen/Qwen2.5-Coder-14B-Instruct") == (policy.vllm.enable, policy.vllm.model)
    assert ("--max-model-len", "8192", "--gpu-memory-utilization", "0.70", "--enforce-eager") == (
        policy.vllm.extra_args)


def test_defaults_are_the_python_defaults() -> None:
    """Option defaults equal Policy() key for key, except the knobs that differ on purpose
    (one GPU, vLLM off and without a model) — one schema, one set of defaults."""
    module = load_policy_data(eval_json(
        f"import {NIX_LIB}/config-json.nix (import {NIX_LIB}/defaults.nix)")).to_json()
    python = Policy().to_json()
    differing = sorted(k for k in python if python[k] != module[k])
    assert ["hardware", "vllm"] == differing
    assert {**python["vllm"], "enable": False} == module["vllm"]


def test_config_round_trips_through_the_policy() -> None:
    """Every key the module writes is read back unchanged: nothing is dropped or renamed."""
    data = config_json()
    assert json.loads(json.dumps(data)) == load_policy_data(data).to_json()


def test_config_keeps_slice_overrides() -> None:
    """A per-mode slice option reaches the policy (studioLocal -> "studio-local")."""
    data = config_json({"slices": {"studioLocal": {"ai": {"cpuWeight": 5, "memoryMaxMiB": 2048,
                                                          "allowedCpus": "0-1"}}}})
    settings = load_policy_data(data).to_json()["slices"]["studio-local"]["ai.slice"]
    assert {"cpu_weight": 5, "io_weight": 10, "cpu_quota_percent": None,
            "memory_high_mib": None, "memory_max_mib": 2048, "allowed_cpus": "0-1"} == settings


def test_audio_cpus_reach_the_audio_units() -> None:
    """studio.audioCpus, with ai and platform kept off those CPUs, becomes the audio units'
    AllowedCPUs in studio-local."""
    data = config_json({"studio": {"audioCpus": "2-3"}, "slices": {"studioLocal": {
        "ai": {"allowedCpus": "0-1"}, "platform": {"allowedCpus": "0-1"}}}})
    policy = load_policy_data(data)
    assert {policy.slices[Mode.STUDIO_LOCAL][u].allowed_cpus
            for u in policy.studio.audio_units} == {"2-3"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["hardware"].update(display_gpu="0"),
         'hardware.display_gpu: expected an integer, got a string ("0")'),
        (lambda d: d["hardware"].update(display_gpu=1),
         "hardware.display_gpu: GPU 1 is not in hardware.present_gpus [0]"),
        (lambda d: d["vllm"].update(modle="x"),
         "vllm.modle: unknown key (known here: enable, extra_args, memory_per_gpu_mib, model, "
         "profile_path)"),
    ],
    ids=["wrong-type", "display-gpu-absent", "unknown-key"],
)
def test_broken_config_is_rejected_precisely(mutate: Any, message: str) -> None:
    """A broken variant of the generated file is refused with the loader's precise message."""
    data = config_json()
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        load_policy_data(data)
    assert message == str(caught.value)


def test_workstation_passes_the_build_time_checks_with_the_planned_gpu_warning() -> None:
    """Seed 001's host: no failed assertion; GPU 1 planned but absent is a warning."""
    assert ([], [
        "dubnium: GPU(s) [ 1 ] are planned (plannedGpuCount = 2) but not present; compute runs "
        "on [ 0 ] only. Add them to presentGpus/computeGpus once installed."
    ]) == checks()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hardware": {"displayGpu": 1}},
         "dubnium.hardware.displayGpu = 1 is not in dubnium.hardware.presentGpus = [ 0 ]. Set "
         "displayGpu to the GPU that drives the monitor (nvidia-smi, lspci), and list it in "
         "presentGpus."),
        ({"hardware": {"computeGpus": [0, 1]}},
         "dubnium.hardware.computeGpus = [ 0 1 ] names GPU(s) [ 1 ] that are not in "
         "dubnium.hardware.presentGpus = [ 0 ]. Fix the host facts: list only GPUs nvidia-smi "
         "shows now; planned GPUs belong in plannedGpuCount."),
        ({"hardware": {"desktopAiGpus": [1]}},
         "dubnium.hardware.desktopAiGpus = [ 1 ] names GPU(s) [ 1 ] that are not in "
         "dubnium.hardware.presentGpus = [ 0 ]. Fix the host facts: list only GPUs nvidia-smi "
         "shows now; planned GPUs belong in plannedGpuCount."),
        ({"vllm": {"model": None}},
         'dubnium.vllm.enable is true but dubnium.vllm.model is null: set the model to serve '
         '(e.g. "Qwen/Qwen2.5-Coder-14B-Instruct") or disable vLLM.'),
        ({"vllm": {"package": None}},
         "dubnium.vllm.enable is true but dubnium.vllm.package is null: set a vLLM package "
         "(e.g. pkgs.vllm) or disable vLLM."),
        ({"guards": {"soft": ["audio_idel"]}},
         "dubnium.guards.soft names unknown guard(s) audio_idel; known: target_reachable, "
         "audio_idle, graphical_session_terminable, gpu_display_released, cpu_load_safe, "
         "user_jobs_safe, memory_headroom, vllm_drainable, capability_local, "
         "persistence_paths_ready, model_present."),
    ],
    ids=["display-gpu", "compute-gpus", "desktop-ai-gpus", "vllm-model", "vllm-package", "soft"],
)
def test_build_time_checks_name_the_option_to_fix(overrides: dict[str, Any], message: str) -> None:
    """Each broken host fails exactly one assertion, whose message says what to fix."""
    failed, _ = checks(overrides)
    assert [message] == failed


def test_guard_ids_in_checks_match_the_python_ids() -> None:
    """The guard ids checks.nix accepts for `soft` are dubnium.codes' ids."""
    from dubnium.codes import GUARD_IDS

    failed, _ = checks({"guards": {"soft": list(GUARD_IDS)}})
    assert [] == failed


def test_runtime_files_describe_the_host() -> None:
    """capability-placement.json and hardware-topology.json carry the host facts."""
    files = eval_json(f"import {NIX_LIB}/runtime-files.nix ({host_settings()})")
    assert {
        "capability-placement.json": {"schema_version": 1, "studio": "local", "compute": "local"},
        "hardware-topology.json": {
            "schema_version": 1, "present_gpus": [0], "display_gpu": 0, "compute_gpus": [0],
            "desktop_ai_gpus": [], "planned_gpu_count": 2,
        },
    } == files


def launcher(tmp_path: Path) -> Path:
    """The dubnium-vllm launcher as writeShellApplication builds it, with a stand-in vllm
    that prints its arguments."""
    fake = tmp_path / "vllm"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    text = eval_json(
        f"import {NIX_LIB}/vllm-launcher.nix {{ vllm = \"{fake}\"; "
        'model = "/var/lib/dubnium/models/Q/w"; servedModelName = "Q/w"; '
        'host = "127.0.0.1"; port = 8000; extraArgs = [ "--enforce-eager" "it\'s" ]; '
        'profiles = { compute.extraArgs = [ ]; degraded.extraArgs = [ "--x" "0.6" ]; }; '
        'profilePath = "/run/mode-controller/vllm-profile.env"; }'
    )
    script = tmp_path / "dubnium-vllm"
    script.write_text("#!/usr/bin/env bash\nset -o errexit -o nounset -o pipefail\n" + text)
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("profile", "extra"), [("compute", []), ("degraded", ["--x", "0.6"])])
def test_launcher_serves_the_profile(tmp_path: Path, profile: str, extra: list[str]) -> None:
    """The launcher runs `vllm serve` on the model's local directory (served under its id)
    with the tensor-parallel size and profile arguments."""
    env = {**os.environ, "DUBNIUM_VLLM_PROFILE": profile, "DUBNIUM_TENSOR_PARALLEL_SIZE": "2"}
    done = subprocess.run(
        [launcher(tmp_path)], capture_output=True, text=True, env=env, check=False
    )
    assert (0, ["serve", "/var/lib/dubnium/models/Q/w", "--served-model-name", "Q/w",
                "--host", "127.0.0.1", "--port", "8000", "--tensor-parallel-size", "2",
                "--enforce-eager", "it's", *extra]) == (
        done.returncode, done.stdout.splitlines())


@pytest.mark.parametrize("profile", [None, "off", "bogus"])
def test_launcher_refuses_without_a_known_profile(tmp_path: Path, profile: str | None) -> None:
    """No profile (the controller did not write it), "off", or an unknown one: exit 64."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBNIUM_")}
    if profile is not None:
        env["DUBNIUM_VLLM_PROFILE"] = profile
    done = subprocess.run(
        [launcher(tmp_path)], capture_output=True, text=True, env=env, check=False
    )
    assert (64, "") == (done.returncode, done.stdout)
    assert done.stderr.startswith("dubnium-vllm: ")


@pytest.mark.parametrize("model", ["Qwen/Qwen2.5-Coder-14B-Instruct", "/srv/models/q", "m"])
def test_model_path_rule_is_the_same_in_nix_and_python(model: str) -> None:
    """vLLM serves the model from where the model_present guard looks for it."""
    policy = attrs.evolve(Policy(), vllm=attrs.evolve(Policy().vllm, model=model))
    nix = eval_json(f'import {NIX_LIB}/model-path.nix "{policy.paths.model_store}" "{model}"')
    assert policy.vllm_model_path == nix
