"""The pure unit graph (nixos/units/): its shape, and its rendering verified by systemd."""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dubnium.codes import CURRENT_OBSERVATION_EXITS, ExitCode
from tests.nix.nixtools import (
    RENDER_UNITS,
    REPO,
    eval_json,
    nix_env,
    nix_instantiate,
    render,
    verify_errors,
)

pytestmark = pytest.mark.nix

UNITS = REPO / "nixos" / "units"
STANDINS = ["--set", "exec.mode=/bin/true", "--set", "k3s.enable=true",
            "--set", "k3s.execStart=/bin/sleep infinity"]


def graph(params: dict[str, Any] | None = None, only: str = '[ "dubnium.nix" ]') -> Any:
    params_json = json.dumps(json.dumps(params or {}))
    expr = f"import {UNITS} {{ paramsJson = {params_json}; only = {only}; }}"
    return eval_json(expr)


def test_mode_targets_follow_seed_002() -> None:
    """desktop/compute targets: Conflicts and ordering of seed 002, AllowIsolate, base required."""
    g = graph()
    desktop, compute = g["desktop.target"], g["compute.target"]
    assert (["multi-user.target"], ["graphical.target"]) == (desktop["requires"], desktop["wants"])
    assert ["multi-user.target", "graphical.target"] == desktop["after"]
    assert ["graphical.target", "desktop.target"] == compute["conflicts"]
    assert ["multi-user.target"] == compute["after"]
    assert ["multi-user.target"] == compute["requires"]
    assert (True, True) == (
        desktop["unitConfig"]["AllowIsolate"], compute["unitConfig"]["AllowIsolate"])


def test_base_target_is_a_parameter() -> None:
    """The test host's own base target replaces multi-user.target everywhere it is used."""
    g = graph({"baseTarget": "dubnium-base.target", "k3s": {"enable": True}})
    text = json.dumps(g)
    assert "multi-user.target" not in text
    assert ["dubnium-base.target"] == g["compute.target"]["requires"]
    assert ["dubnium-base.target"] == g["k3s.service"]["wantedBy"]


def test_vllm_is_compute_only_in_ai_slice_with_the_profile_file() -> None:
    """vllm.service: wanted by and PartOf compute.target, ai.slice, the controller's env file."""
    vllm = graph()["vllm.service"]
    assert (["compute.target"], ["compute.target"]) == (vllm["wantedBy"], vllm["partOf"])
    service = vllm["serviceConfig"]
    assert ("ai.slice", "-/run/mode-controller/vllm-profile.env") == (
        service["Slice"], service["EnvironmentFile"])


def test_vllm_caches_live_in_its_own_directories_and_the_hub_is_offline() -> None:
    """vllm.service's HOME and every cache variable point under its StateDirectory or
    CacheDirectory, never into the model store, and Hugging Face is offline."""
    service = graph()["vllm.service"]["serviceConfig"]
    env = dict(item.split("=", 1) for item in service["Environment"])
    places = {k: v for k, v in env.items()
              if k == "HOME" or k.endswith(("_HOME", "_CACHE_DIR", "_CACHE_ROOT"))}
    roots = (f"/var/lib/{service['StateDirectory']}", f"/var/cache/{service['CacheDirectory']}")
    assert ({}, "1", "1") == (
        {k: v for k, v in places.items() if not v.startswith(roots)},
        env.get("HF_HUB_OFFLINE"), env.get("TRANSFORMERS_OFFLINE"))
    wanted = {"HOME", "HF_HOME", "XDG_CACHE_HOME", "TRITON_CACHE_DIR", "VLLM_CACHE_ROOT"}
    assert wanted == wanted & set(places)


def test_vllm_absent_when_disabled() -> None:
    """With vLLM disabled the graph has no vllm.service and nothing wants it."""
    g = graph({"vllm": {"enable": False}})
    assert "vllm.service" not in g
    assert "vllm.service" not in json.dumps(g)


def test_overlay_markers_are_oneshot_and_bound_to_desktop() -> None:
    """studio-local-policy/audio-priority: oneshot RemainAfterExit markers, only on desktop."""
    g = graph()
    for name in ("studio-local-policy.service", "audio-priority.service"):
        unit = g[name]
        assert (["desktop.target"], ["desktop.target"]) == (unit["partOf"], unit["requisite"])
        assert ("oneshot", True, "/bin/true") == (
            unit["serviceConfig"]["Type"], unit["serviceConfig"]["RemainAfterExit"],
            unit["serviceConfig"]["ExecStart"])


def test_controller_units_survive_isolate() -> None:
    """The transition, boot and observer units carry IgnoreOnIsolate (an isolate must not
    stop the transition that runs it) and use the `mode` command prefix given."""
    g = graph({"exec": {"mode": "/opt/mode --backend host"}})
    for name in ("mode-controller@.service", "mode-boot.service", "mode-observe.service"):
        assert g[name]["unitConfig"]["IgnoreOnIsolate"] is True
    controller = g["mode-controller@.service"]["serviceConfig"]
    assert "/opt/mode --backend host request %i" == controller["ExecStart"]
    assert "/opt/mode --backend host boot" == g["mode-boot.service"]["serviceConfig"]["ExecStart"]


def test_observer_accepts_every_honest_observation_exit() -> None:
    """mode-observe.service (`mode current --refresh`) counts every exit that is an honest
    observation as success: degraded (23), not converged (24), evidence unavailable (25)."""
    observer = graph()["mode-observe.service"]["serviceConfig"]
    expected = sorted(int(c) for c in CURRENT_OBSERVATION_EXITS if c is not ExitCode.OK)
    assert expected == sorted(observer["SuccessExitStatus"])


def test_unit_names_match_the_policy_defaults() -> None:
    """names.nix (the config file's `units`) equals dubnium/policy.py's UnitNames."""
    import attrs

    from dubnium.policy import UnitNames

    assert attrs.asdict(UnitNames()) == eval_json(f"import {UNITS}/names.nix")


def test_rendered_units_verify_cleanly(tmp_path: Path) -> None:
    """Every rendered Dubnium unit passes `systemd-analyze verify` with no output (EXO's
    units are rendered and verified by tests/nix/test_exo_*.py with their own parameters)."""
    files = render(tmp_path, *STANDINS, "--only", "dubnium.nix")
    assert {"desktop.target", "compute.target", "vllm.service", "mode-controller@.service",
            "interactive.slice", "ai.slice", "platform.slice"} <= {f.name for f in files}
    assert "" == verify_errors(files)


def test_rendered_units_for_the_test_host_verify_cleanly(tmp_path: Path) -> None:
    """Rendered with the namespace test host's base target and no sandboxing, still clean."""
    files = render(tmp_path, *STANDINS, "--set", "baseTarget=dubnium-base.target",
                   "--set", "vllm.hardening=false", "--only", "dubnium.nix")
    base = tmp_path / "dubnium-base.target"
    base.write_text("[Unit]\nDescription=test host base\nWants=dbus.service\n")
    assert "" == verify_errors([*files, base])
    base_wants = tmp_path / "dubnium-base.target.wants"
    assert "../k3s.service" == str((base_wants / "k3s.service").readlink())
    assert "../vllm.service" == str((tmp_path / "compute.target.wants" / "vllm.service").readlink())


def test_verify_reports_an_unknown_key(tmp_path: Path) -> None:
    """A unit with an unknown key fails the same check (systemd only warns, rc 0)."""
    g = graph({"exec": {"mode": "/bin/true"}})
    g["vllm.service"]["serviceConfig"]["NoSuchSetting"] = "yes"
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(g))
    files = render(tmp_path / "units", "--graph-json", str(graph_file))
    problems = [re.sub(r":\d+:", ":N:", line) for line in verify_errors(files).splitlines()]
    assert [
        f"{tmp_path}/units/vllm.service:N: Unknown key 'NoSuchSetting' in section [Service], "
        "ignoring."
    ] == problems


def test_verify_reports_an_ordering_cycle(tmp_path: Path) -> None:
    """An ordering cycle in the graph (a boot unit wanted by the base target but ordered
    after a mode target) is reported: the check looks at dependencies, not only syntax."""
    g = graph({"exec": {"mode": "/bin/true"}})
    g["mode-boot.service"]["wantedBy"] = ["multi-user.target"]
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(g))
    files = render(tmp_path / "units", "--graph-json", str(graph_file))
    assert "ordering cycle" in verify_errors(files)


def test_renderer_rejects_an_unknown_unit_attribute(tmp_path: Path) -> None:
    """A misspelt unit attribute (servicConfig) stops the renderer with the unit's name."""
    nix_instantiate()
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps({"x.service": {"servicConfig": {}}}))
    done = subprocess.run(
        [str(RENDER_UNITS), "--out", str(tmp_path / "u"), "--graph-json", str(graph_file)],
        capture_output=True, text=True, check=False, env=nix_env(),
    )
    assert (1, "render-units: x.service: unknown attribute servicConfig") == (
        done.returncode, done.stderr.split(" (known")[0])


def test_renderer_writes_nixos_like_unit_text(tmp_path: Path) -> None:
    """Dependency lists become one space-separated line; settings lists repeat the key."""
    files = render(tmp_path, *STANDINS, "--only", "dubnium.nix")
    compute = (tmp_path / "compute.target").read_text()
    assert "Conflicts=graphical.target desktop.target\n" in compute
    vllm = (tmp_path / "vllm.service").read_text()
    assert "Environment=HOME=/var/lib/vllm\nEnvironment=HF_HOME=/var/lib/vllm/huggingface\n" in vllm
    assert tmp_path / "vllm.service" in files
