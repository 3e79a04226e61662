"""nixosModules.exo evaluated with the real nixpkgs `lib` (tests/nix/eval-exo-module.nix with
stub NixOS option declarations), alone and beside the Dubnium module.

Needs a read-only nixpkgs.lib snapshot (nix-community/nixpkgs.lib) outside the repository:
DUBNIUM_NIXPKGS_LIB when set, else ../shared/nixpkgs beside the checkout (CI has it); without
either these tests say so and are not run."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.nix.exo_nixeval import EXO_MODULE, REPO, eval_json, nix_instantiate
from tests.nix.nixtools import nixpkgs_lib

NIXPKGS_LIB = nixpkgs_lib()

pytestmark = [
    pytest.mark.nix,
    pytest.mark.skipif(
        NIXPKGS_LIB is None,
        reason="no nixpkgs.lib: DUBNIUM_NIXPKGS_LIB is unset or not a snapshot of "
        "nix-community/nixpkgs.lib, and ../shared/nixpkgs is absent; not run",
    ),
]

HARNESS = REPO / "tests" / "nix" / "eval-exo-module.nix"


def evaluate(host: dict[str, Any], **args: Any) -> dict[str, Any]:
    command = [
        nix_instantiate(), "--eval", "--strict", "--json", str(HARNESS),
        "--arg", "lib", f"import {NIXPKGS_LIB}", "--argstr", "hostJson", json.dumps(host),
    ]
    for name, value in args.items():
        if isinstance(value, str):
            command += ["--argstr", name, value]
        else:
            command += ["--arg", name, json.dumps(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "NIX_CONFIG": "build-users-group ="})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def exo(**settings: Any) -> dict[str, Any]:
    return {"services": {"exo": {"enable": True, **settings}}}


def test_plain_node_evaluates_cleanly() -> None:
    """A plain node: no failed assertion, no warning, the exo user and group, the units."""
    result = evaluate(exo())
    service = result["services"]["exo"]
    expected: tuple[Any, ...] = (
        [], [], ["exo"], "exo", "mode-tools-0.1.0",
        "/nix/store/00000000000000000000000000000000-exo/bin/exo --api-port 52415 "
        "--zenoh-port 52414 --discovery-port 52413",
        ["multi-user.target"],
    )
    assert expected == (
        result["failedAssertions"], result["warnings"], result["groups"],
        result["users"]["exo"]["group"], result["preflightPackage"],
        service["serviceConfig"]["ExecStart"], result["targets"]["exo"]["wantedBy"],
    )


def test_compute_only_beside_dubnium_sets_the_controller_config() -> None:
    """With the Dubnium module, computeOnly hangs EXO from compute.target and writes
    exo.enable = true into /etc/dubnium/config.json; the preflight is Dubnium's package."""
    host = {**exo(), "dubnium": {"enable": True, "exo": {"computeOnly": True}}}
    result = evaluate(host, withDubnium=True)
    service, target = result["services"]["exo"], result["targets"]["exo"]
    expected: tuple[Any, ...] = (
        [], True, {"enable": True, "gpu_share": "shared", "memory_per_gpu_mib": 2048,
         "profile_path": "/run/mode-controller/exo-profile.env"}, ["compute.target"],
        ["exo.target", "compute.target"], "ai.slice",
    )
    assert expected == (
        result["failedAssertions"], result["computeTargetDefined"], result["configJsonExo"],
        target["wantedBy"], service["partOf"], service["serviceConfig"]["Slice"],
    )


def test_compute_only_without_dubnium_is_refused() -> None:
    """computeOnly without the Dubnium module fails with the message naming the fix."""
    result = evaluate({**exo(), "dubnium": {"exo": {"computeOnly": True}}})
    expected = [
        "dubnium.exo.computeOnly = true needs the Dubnium module (nixosModules.default): it "
        "defines compute.target, which starts and stops EXO."
    ]
    assert expected == result["failedAssertions"]


def test_rocm_refused_with_nixpkgs_lib() -> None:
    """The rocm assertion reaches NixOS's assertions list."""
    result = evaluate(exo(hardware={"preferredAccelerator": "rocm"}))
    prefix = 'services.exo.hardware.preferredAccelerator = "rocm": upstream EXO has no ROCm'
    expected = [True]
    assert expected == [m.startswith(prefix) for m in result["failedAssertions"]]


def test_cuda_package_variant_and_devices() -> None:
    """CUDA selected: the CUDA build runs and the NVIDIA devices are allowed."""
    result = evaluate(exo(hardware={"preferredAccelerator": "cuda"}), cudaFromPkgs=True)
    config = result["services"]["exo"]["serviceConfig"]
    cuda_exe = "/nix/store/00000000000000000000000000000000-exo-cuda-13/bin/exo"
    expected: tuple[Any, ...] = ([], cuda_exe, "closed")
    assert expected == (
        result["warnings"], config["ExecStart"].split()[0], config["DevicePolicy"]
    )


def test_k3s_manifest_through_the_k3s_module() -> None:
    """k3s integration puts Namespace, Service and Endpoints into services.k3s.manifests.exo."""
    host = {**exo(k3s={"integration": True, "nodeAddress": "10.0.0.5"}),
            "services": {"exo": {"enable": True,
                                 "k3s": {"integration": True, "nodeAddress": "10.0.0.5"}},
                         "k3s": {"enable": True}}}
    result = evaluate(host)
    kinds = [o["kind"] for o in result["k3sManifests"]["exo"]]
    expected: tuple[Any, ...] = ([], ["Namespace", "Service", "Endpoints"])
    assert expected == (result["failedAssertions"], kinds)


def test_k3s_without_manifests_option_is_refused() -> None:
    """On a NixOS without services.k3s.manifests the integration fails with a clear message."""
    host = {"services": {"exo": {"enable": True, "k3s": {"integration": True,
                                                         "nodeAddress": "10.0.0.5"}},
                         "k3s": {"enable": True}}}
    result = evaluate(host, k3sManifests=False)
    expected = ["services.exo.k3s.integration needs the services.k3s.manifests option "
                "(NixOS 24.11 or later)."]
    assert expected == result["failedAssertions"]


def test_bond_with_networkd_and_firewall_on_the_bond() -> None:
    """bondMembers create the bond with networkd; openFirewall opens the ports on it only."""
    host = {**exo(openFirewall=True,
                  networking={"bondInterface": "bond0", "bondMembers": ["eth0", "eth1"]}),
            "systemd": {"network": {"enable": True}}}
    result = evaluate(host)
    expected: tuple[Any, ...] = (
        [],
        {"allowedTCPPorts": [], "allowedUDPPorts": [],
         "interfaces": {"bond0": {"allowedTCPPorts": [52415, 52414], "allowedUDPPorts": [52413]}}},
        {"Name": "bond0", "Kind": "bond"},
        ["40-bond0", "40-eth0", "40-eth1"],
        ["network-online.target", "sys-subsystem-net-devices-bond0.device"],
    )
    assert expected == (
        result["failedAssertions"], result["firewall"],
        result["network"]["netdevs"]["40-bond0"]["netdevConfig"],
        sorted(result["network"]["networks"]),
        result["services"]["exo"]["after"],
    )


def test_seed_options_that_cannot_exist_say_why() -> None:
    """Seed 004's k3s.serviceAccount is removed with the reason; networking.apiPort is renamed."""
    result = evaluate(exo(k3s={"serviceAccount": "exo"}, networking={"apiPort": 9000}))
    expected: tuple[Any, ...] = (
        "The option definition `services.exo.k3s.serviceAccount' in `<unknown-file>' no longer "
        "has any effect; please remove it.\nEXO runs on the host, not in a pod, so there is "
        "nothing to bind a Kubernetes\nServiceAccount to. services.exo.k3s.integration publishes "
        "the EXO API to the cluster\nwith a Service and an Endpoints object instead.\n\n",
        ["The option `services.exo.networking.apiPort' defined in `<unknown-file>' has been "
         "renamed to `services.exo.apiPort'."],
        "--api-port 9000",
    )
    assert expected == (
        result["failedAssertions"][0], result["warnings"],
        " ".join(result["services"]["exo"]["serviceConfig"]["ExecStart"].split()[1:3]),
    )


def test_old_exo_package_runs_without_port_flags() -> None:
    """nixpkgs' exo 1.0.67 lacks the port flags: by default its ExecStart has none, and no
    warning or assertion is raised."""
    result = evaluate(exo(), exoVersion="1.0.67")
    start = result["services"]["exo"]["serviceConfig"]["ExecStart"]
    assert ([], [], False) == (
        result["failedAssertions"], result["warnings"], "--zenoh-port" in start)


def test_option_defaults_equal_defaults_nix() -> None:
    """Every declared option's default is the one in nixos/modules/exo/defaults.nix."""
    options = evaluate(exo())["options"]
    flat = eval_json(
        f"let d = import {EXO_MODULE}/defaults.nix; "
        "flatten = prefix: set: builtins.concatLists (map (n: let v = set.${n}; in "
        "if builtins.isAttrs v && n != \"environment\" then flatten \"${prefix}${n}.\" v "
        "else [ { name = \"${prefix}${n}\"; value = v; } ]) (builtins.attrNames set)); "
        "in builtins.listToAttrs (flatten \"\" d)"
    )
    expected = {
        ("dubnium.exo." if name == "computeOnly" else "services.exo.") + name: value
        for name, value in flat.items()
    }
    declared = {
        name: json.loads(options[name]["text"].replace("[ ]", "[]").replace("{ }", "{}"))
        for name in expected
    }
    assert expected == declared
