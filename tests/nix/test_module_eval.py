"""The NixOS module evaluated with the real nixpkgs `lib` (tests/nix/eval-module.nix).

Needs a snapshot of nix-community/nixpkgs.lib that is never committed here: DUBNIUM_NIXPKGS_LIB
(the snapshot or its `lib` directory) when set, else ../shared/nixpkgs beside the checkout (CI
has it). Without either these tests are skipped with that reason and count as not run — the
pure checks in test_config_json.py and test_units.py run everywhere.
"""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dubnium.policyload import load_policy_data
from tests.nix.nixtools import REPO, eval_json, host_settings, nixpkgs_lib

pytestmark = pytest.mark.nix

EVAL = Path(__file__).with_name("eval-module.nix")


def lib_dir() -> Path:
    path = nixpkgs_lib()
    if path is None:
        pytest.skip("no nixpkgs.lib: DUBNIUM_NIXPKGS_LIB is unset or not a snapshot of "
                    "nix-community/nixpkgs.lib, and ../shared/nixpkgs is absent; not run")
    return path


def evaluate(host: dict[str, Any] | None = None, *, with_host: bool = True) -> Any:
    lib = lib_dir()
    return eval_json(
        f"import {EVAL} {{ lib = import {lib}; hostJson = {json.dumps(json.dumps(host or {}))}; "
        f"withHost = {'true' if with_host else 'false'}; }}"
    )


def test_workstation_evaluates_with_the_planned_gpu_warning() -> None:
    """The example host evaluates with nixpkgs' lib: no failed assertion, one warning."""
    result = evaluate()
    assert ([], 1) == (result["failedAssertions"], len(result["warnings"]))
    assert "desktop.target" == result["defaultUnit"]


def test_module_writes_the_config_the_pure_mapping_gives() -> None:
    """/etc/dubnium/config.json from the real module equals config-json.nix of the same
    settings, and the Python loader accepts it."""
    written = evaluate()["configJson"]
    pure = eval_json(f"import {REPO}/nixos/lib/config-json.nix ({host_settings()})")
    assert pure == written
    assert written == json.loads(json.dumps(load_policy_data(written).to_json()))


def test_module_installs_the_pure_unit_graph() -> None:
    """The systemd options hold the pure graph's units, with store paths for commands."""
    units = evaluate()["units"]
    assert {
        "services": ["audio-priority", "mode-boot", "mode-controller@", "mode-current",
                     "mode-observe", "studio-local-policy", "vllm"],
        "targets": ["compute", "desktop"],
        "slices": ["ai", "interactive", "platform"],
        "timers": ["mode-observe"],
        "sockets": ["mode-current"],
    } == {kind: sorted(named) for kind, named in units.items()}
    socket = units["sockets"]["mode-current"]
    assert ("/run/mode-controller/current.sock", "0666", True) == (
        socket["socketConfig"]["ListenStream"], socket["socketConfig"]["SocketMode"],
        socket["unitConfig"]["IgnoreOnIsolate"])
    assert units["services"]["mode-current"]["serviceConfig"]["ExecStart"].endswith(
        "--config /etc/dubnium/config.json current-server")
    vllm = units["services"]["vllm"]
    assert (["compute.target"], "ai.slice", "vllm") == (
        vllm["partOf"], vllm["serviceConfig"]["Slice"], vllm["serviceConfig"]["User"])
    start = units["services"]["mode-controller@"]["serviceConfig"]["ExecStart"]
    assert re.fullmatch(
        r"/nix/store/\S+-mode-tools-0\.1\.0/bin/mode --backend host --state-dir "
        r"/run/mode-controller --config /etc/dubnium/config\.json request %i", start)
    assert (False, False) == (units["services"]["mode-controller@"]["restartIfChanged"],
                              units["services"]["mode-boot"]["restartIfChanged"])


def test_vllm_home_is_not_the_model_store() -> None:
    """The vllm user's home is its StateDirectory, so nothing it caches lands among the
    weights in the model store."""
    assert "/var/lib/vllm" == evaluate()["userSettings"]["vllm"]["home"]


def test_vllm_is_a_cuda_build_for_the_configured_gpus() -> None:
    """With vLLM enabled nixpkgs is configured with cudaSupport (pkgs.vllm is a CPU build
    otherwise), and the GPUs' capabilities from dubnium.hardware.cudaCapabilities."""
    default = evaluate()["nixpkgsConfig"]
    chosen = evaluate({"dubnium": {"hardware": {"cudaCapabilities": ["8.9"]}}})["nixpkgsConfig"]
    off = evaluate({"dubnium": {"vllm": {"cudaSupport": False}}})["nixpkgsConfig"]
    assert ((True, None), (True, ["8.9"]), (None, None)) == tuple(
        (c.get("cudaSupport"), c.get("cudaCapabilities")) for c in (default, chosen, off))


def test_example_host_enables_flakes_and_hardens_ssh() -> None:
    """The example host: flakes on (nixos-rebuild --flake), SSH by key only, no root login."""
    result = evaluate()
    ssh = result["openssh"]["settings"]
    assert (["nix-command", "flakes"], False, False, "no") == (
        result["nixSettings"]["experimental-features"], ssh["PasswordAuthentication"],
        ssh["KbdInteractiveAuthentication"], ssh["PermitRootLogin"])


def test_example_host_owner_password_step_is_documented() -> None:
    """The wheel user (who runs `sudo mode request`) gets its password from a hash file, and
    the first-switch runbook shows how to write that very file."""
    owner = evaluate()["userSettings"]["owner"]
    runbook = (REPO / "docs" / "runbooks" / "first-switch.md").read_text(encoding="utf-8")
    step = f"mkpasswd -m yescrypt | sudo tee {owner.get('hashedPasswordFile')}"
    assert (True, True) == ("wheel" in owner["extraGroups"],
                            "hashedPasswordFile" in owner and step in runbook)


def test_broken_host_fails_its_assertion() -> None:
    """A display GPU that is not present fails evaluation's assertions with the message."""
    result = evaluate({"dubnium": {"enable": True, "hardware": {"displayGpu": 1}}},
                      with_host=False)
    assert [
        "dubnium.hardware.displayGpu = 1 is not in dubnium.hardware.presentGpus = [ 0 ]. Set "
        "displayGpu to the GPU that drives the monitor (nvidia-smi, lspci), and list it in "
        "presentGpus."
    ] == result["failedAssertions"]


def test_option_types_reject_a_wrong_type() -> None:
    """A string where a GPU index belongs is refused by the option type itself."""
    with pytest.raises(AssertionError, match=r"dubnium\.hardware\.displayGpu.*is not of type"):
        evaluate({"dubnium": {"enable": True, "hardware": {"displayGpu": "0"}}},
                 with_host=False)


def test_disabled_module_adds_nothing() -> None:
    """Imported but not enabled, the module defines no unit, file or assertion."""
    result = evaluate({}, with_host=False)
    assert ({}, [], [], None) == (
        {k: v for k, v in result["units"].items() if v}, result["failedAssertions"],
        result["tmpfiles"], result["configJson"])


def test_every_option_is_documented() -> None:
    """docs/nixos.md names every dubnium.* option the module declares."""
    options = evaluate()["options"]
    docs = (REPO / "docs" / "nixos.md").read_text(encoding="utf-8")
    missing = sorted(name for name in options if f"`{name}`" not in docs)
    assert [] == missing
