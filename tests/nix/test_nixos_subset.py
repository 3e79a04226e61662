"""The NixOS modules evaluated with NixOS's OWN systemd option types, assertions and greetd
module (../shared/nixpkgs/eval-nixos-subset.nix, kept beside the checkout, never copied in):
the example host, the EXO module beside it, and the checks.vm node. What NixOS renders must
pass `systemd-analyze verify`, and the negative controls show the harness rejects what NixOS
rejects. Skipped with the reason where ../shared/nixpkgs is absent (a user's checkout)."""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.nix.exo_nixeval import systemd_version
from tests.nix.nixtools import (
    NIXOS_SUBSET,
    NO_SHARED_NIXPKGS,
    REPO,
    SHARED_NIXPKGS,
    run_nix,
    verify_errors,
)

pytestmark = [
    pytest.mark.nix,
    pytest.mark.skipif(not NIXOS_SUBSET.is_file(), reason=NO_SHARED_NIXPKGS),
]

STUBS = REPO / "tests" / "nix" / "subset-stubs.nix"
VM_NODE = REPO / "nixos" / "tests" / "vm-node.nix"
PLANNED_GPU = (
    "dubnium: GPU(s) [ 1 ] are planned (plannedGpuCount = 2) but not present; compute runs on "
    "[ 0 ] only. Add them to presentGpus/computeGpus once installed."
)
# NixOS has systemd 259; these [Service] keys came with 254, after the verifier CI may have.
NEWEST_KEYS_SINCE = 254
NEWER_KEYS = re.compile(
    r"^\S+\.service:\d+: Unknown key '(RestartSteps|RestartMaxDelaySec)' in section "
    r"\[Service\], ignoring\.$")
FAKE_STORE = re.compile(r"/nix/store/0{32}-([^\s\"'=:;]+)")


class EvalError(AssertionError):
    """nix-instantiate refused the configuration; the message is its stderr."""


def subset(*modules: str, host: bool = True, exo: bool = False) -> dict[str, Any]:
    """The harness's JSON (failedAssertions, warnings, defaultUnit, units) for the Dubnium
    module, the example host when `host`, nixosModules.exo when `exo`, the stubs and the
    Nix module expressions `modules`."""
    extra = f"{{ imports = [ {STUBS} {' '.join(f'({m})' for m in modules)} ]; }}"
    done = run_nix([
        "--eval", "--strict", "--json", str(NIXOS_SUBSET),
        "--arg", "lib", f"import {SHARED_NIXPKGS}/lib", "--arg", "project", str(REPO),
        "--arg", "withHost", "true" if host else "false",
        "--arg", "withExo", "true" if exo else "false",
        "--arg", "extra", extra,
    ])
    if done.returncode != 0:
        raise EvalError(done.stderr)
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def verify(units: dict[str, str], tmp_path: Path) -> str:
    """`systemd-analyze verify` of the unit files NixOS rendered. The fake store paths of the
    harness's stub packages become executable stand-ins under tmp_path, so every check runs
    except that the real store paths exist (a build-time fact)."""
    store = tmp_path / "store"
    for text in units.values():
        for rest in FAKE_STORE.findall(text):
            path = store / rest
            if "/bin/" in rest:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("#!/bin/sh\n", encoding="utf-8")
                path.chmod(0o755)
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    files = []
    for name, text in units.items():
        path = unit_dir / name
        path.write_text(FAKE_STORE.sub(lambda m: f"{store}/{m.group(1)}", text), encoding="utf-8")
        files.append(path)
    problems = verify_errors(sorted(files))
    if systemd_version() < NEWEST_KEYS_SINCE:
        problems = "\n".join(line for line in problems.splitlines()
                             if not NEWER_KEYS.search(line)).strip()
    return problems


# The harness's pkgs.exo is nixpkgs' 1.0.67; as a CUDA build stands in the same package.
EXO_COMPUTE = (
    "{ pkgs, ... }: { services.exo = { enable = true; hardware.cudaPackage = pkgs.exo; }; "
    "dubnium.exo.computeOnly = true; }"
)


def test_example_host_evaluates_with_only_the_planned_gpu_warning() -> None:
    """nixosConfigurations.workstation's modules: no failed assertion, only the planned-GPU
    warning (none about network-online.target), and the host boots into desktop.target."""
    result = subset()
    assert ([], [PLANNED_GPU], "desktop.target") == (
        result["failedAssertions"], result["warnings"], result["defaultUnit"])


def test_compute_boot_mode_is_the_default_unit() -> None:
    """dubnium.boot.defaultMode = "compute" boots into compute.target, over greetd's
    graphical.target."""
    result = subset('{ lib, ... }: { dubnium.boot.defaultMode = lib.mkForce "compute"; }')
    assert "compute.target" == result["defaultUnit"]


def test_a_hosts_mkforce_still_wins_the_default_unit() -> None:
    """Dubnium's priority (mkOverride 90) beats plain definitions, not a host's mkForce."""
    result = subset('{ lib, ... }: { systemd.defaultUnit = lib.mkForce "rescue.target"; }')
    assert "rescue.target" == result["defaultUnit"]


def test_example_host_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Every unit NixOS renders for the example host passes `systemd-analyze verify`."""
    units = subset()["units"]
    assert {"desktop.target", "compute.target", "vllm.service", "mode-observe.timer"} <= set(units)
    assert "" == verify(units, tmp_path)


def test_exo_beside_the_example_host(tmp_path: Path) -> None:
    """nixosModules.exo, compute-only beside the example host: no failed assertion, no
    warning beyond the planned GPU, exo.service and exo.target pass verify."""
    result = subset(EXO_COMPUTE, exo=True)
    assert ([], [PLANNED_GPU]) == (result["failedAssertions"], result["warnings"])
    start = next(line for line in result["units"]["exo.service"].splitlines()
                 if line.startswith("ExecStart="))
    assert "ExecStart=/nix/store/00000000000000000000000000000000-exo/bin/exo --api-port 52415" \
        == start
    assert "" == verify(result["units"], tmp_path)


def test_exo_port_flags_forced_on_the_old_package_fail_an_assertion() -> None:
    """portFlags = true with nixpkgs' exo 1.0.67 is a failed assertion, not a warning."""
    result = subset(EXO_COMPUTE, "{ services.exo.networking.portFlags = true; }", exo=True)
    assert [True] == [m.startswith("services.exo.networking.portFlags = true, but")
                      for m in result["failedAssertions"]]


def test_vm_check_node_evaluates(tmp_path: Path) -> None:
    """The checks.vm node (nixos/tests/vm-node.nix): no failed assertion, no warning,
    desktop.target by default, units that pass verify."""
    result = subset(str(VM_NODE), host=False)
    assert ([], [], "desktop.target") == (
        result["failedAssertions"], result["warnings"], result["defaultUnit"])
    assert "" == verify(result["units"], tmp_path)


def test_negative_control_wrong_service_type() -> None:
    """A unit Type systemd does not know is rejected by NixOS's own checks."""
    with pytest.raises(EvalError, match=r"Type"):
        subset('{ systemd.services.vllm.serviceConfig.Type = "daemon"; }')


def test_negative_control_wanted_by_a_non_unit() -> None:
    """A wantedBy entry that is not a unit name is rejected by NixOS's unit-name type."""
    with pytest.raises(EvalError, match=r"wantedBy.*not of type"):
        subset('{ systemd.services.vllm.wantedBy = [ "compute" ]; }')


def test_negative_control_conflicting_default_unit() -> None:
    """Two default units at Dubnium's priority conflict, as greetd's plain one did before."""
    with pytest.raises(EvalError, match=r"systemd\.defaultUnit' has conflicting definition"):
        subset('{ lib, ... }: { systemd.defaultUnit = lib.mkOverride 90 "rescue.target"; }')


def test_negative_control_verify_rejects_a_broken_unit(tmp_path: Path) -> None:
    """The verify step fails on a rendered unit systemd cannot load (so a pass means something)."""
    units = {"broken.service": "[Service]\nType=oneshot\nExecStart=relative/path\n"}
    assert "" != verify(units, tmp_path)
