"""The EXO module's pure mapping (nixos/modules/exo/lib.nix) evaluated with nix-instantiate:
services.exo values -> exo's flags, the preflight's flags, the environment, the k3s manifest,
the firewall, and the build-time assertions and warnings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from backends.preflight import build_parser
from tests.nix.exo_nixeval import EXO_MODULE, REPO, eval_json, exo_lib, parse

pytestmark = pytest.mark.nix

EXO_NIX_FILES = [*sorted(EXO_MODULE.glob("*.nix")), REPO / "nixos" / "units" / "exo.nix"]
NIXBLD_WARNING = "warning: the group 'nixbld' specified in 'build-users-group' does not exist\n"


def failed(checks: dict[str, Any]) -> list[str]:
    return [a["message"] for a in checks["assertions"] if not a["assertion"]]


@pytest.mark.parametrize("path", EXO_NIX_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_exo_nix_file_parses(path: Path) -> None:
    """Every .nix file of the EXO module and its unit data parses (syntax, undefined names)."""
    done = parse(path)
    expected = (0, "")
    assert expected == (done.returncode, done.stderr.replace(NIXBLD_WARNING, ""))


def test_parse_check_catches_an_undefined_name(tmp_path: Path) -> None:
    """The parse check fails on a file using an undefined name (it can fail)."""
    broken = tmp_path / "broken.nix"
    broken.write_text("{ lib, ... }: { options.services.exo.enable = mkEnableOption \"x\"; }\n")
    done = parse(broken)
    expected = (1, True)
    assert expected == (done.returncode, "undefined variable 'mkEnableOption'" in done.stderr)


def test_default_flags() -> None:
    """Defaults: API on 52415, peers on TCP 52414, discovery on UDP 52413, no role flag."""
    expected = ["--api-port", "52415", "--zenoh-port", "52414", "--discovery-port", "52413"]
    assert expected == exo_lib("args")


def test_master_coordinator_flags() -> None:
    """mode master, no worker, no downloads, offline, a namespace and extra args map in order."""
    settings = {
        "mode": "master", "runWorker": False, "downloads": False, "offline": True,
        "namespace": "lab", "apiPort": 8080, "extraArgs": ["-v"],
        "networking": {"dataPort": 6000, "discoveryPort": 6001},
    }
    expected = [
        "--force-master", "--api-port", "8080", "--no-worker", "--no-downloads", "--offline",
        "--zenoh-port", "6000", "--discovery-port", "6001", "--namespace", "lab", "-v",
    ]
    assert expected == exo_lib("args", settings)


def test_no_api_and_old_exo_without_port_flags() -> None:
    """serveApi=false gives --no-api (no --api-port); portFlags=false drops ports and namespace."""
    settings = {"serveApi": False, "namespace": "lab", "networking": {"portFlags": False}}
    expected = ["--no-api"]
    assert expected == exo_lib("args", settings)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"mode": "master", "serveApi": False, "runWorker": False, "downloads": False,
         "offline": True, "namespace": "n"},
        {"mode": "worker"},
    ],
)
def test_only_real_upstream_flags_are_produced(settings: dict[str, Any]) -> None:
    """Every flag the module passes exists in upstream exo's argparse (lib.nix upstreamFlags)."""
    upstream = set(eval_json(f"(import {EXO_MODULE}/lib.nix).upstreamFlags"))
    produced = {a for a in exo_lib("args", settings) if a.startswith("-")}
    expected: set[str] = set()
    assert expected == produced - upstream


def test_preflight_flags_default_and_accepted_by_the_python_parser() -> None:
    """The ExecStartPre flags are exactly these, and dubnium-preflight's parser accepts them."""
    args = exo_lib("preflightArgs")
    expected = [
        "--accelerator", "auto", "--allow-cpu-fallback",
        "--model-store", "/var/lib/exo/data/exo/models", "--min-free-disk-mib", "10240",
    ]
    assert expected == args
    parsed = build_parser().parse_args(args)
    assert ("auto", True, Path("/var/lib/exo/data/exo/models"), 10240) == (
        parsed.accelerator, parsed.allow_cpu_fallback, parsed.model_store,
        parsed.min_free_disk_mib,
    )


def test_preflight_flags_for_cuda_without_fallback() -> None:
    """preferredAccelerator cuda without fallback and a custom store reach the preflight."""
    settings = {
        "modelStore": "/srv/models",
        "hardware": {"preferredAccelerator": "cuda", "allowCpuFallback": False,
                     "minFreeDiskMiB": 50000},
    }
    args = exo_lib("preflightArgs", settings)
    expected = ["--accelerator", "cuda", "--model-store", "/srv/models",
                "--min-free-disk-mib", "50000"]
    assert expected == args
    build_parser().parse_args(args)


@pytest.mark.parametrize(
    ("settings", "facts", "expected"),
    [
        ({}, {}, "cpu"),
        ({}, {"nvidiaDriver": True}, "cuda"),
        ({"hardware": {"autoDetect": False}}, {"nvidiaDriver": True}, "cpu"),
        ({"hardware": {"preferredAccelerator": "cpu"}}, {"nvidiaDriver": True}, "cpu"),
        ({"hardware": {"preferredAccelerator": "cuda"}}, {}, "cuda"),
    ],
)
def test_accelerator_selection(settings: dict[str, Any], facts: dict[str, Any],
                               expected: str) -> None:
    """The build selects CUDA from preferredAccelerator, or from the NVIDIA driver when auto."""
    assert expected == exo_lib("accelerator", settings, facts)


@pytest.mark.parametrize(
    ("accelerator", "message"),
    [
        ("rocm",
         'services.exo.hardware.preferredAccelerator = "rocm": upstream EXO has no ROCm backend '
         '(on Linux it runs MLX on CUDA or on the CPU). Use "cuda" or "cpu", or null to detect.'),
        ("mlx",
         'services.exo.hardware.preferredAccelerator = "mlx": MLX on Apple Silicon (Metal) exists '
         'only on macOS; on NixOS EXO runs MLX on CUDA or on the CPU. Use "cuda" or "cpu", or '
         'null to detect.'),
    ],
)
def test_rocm_and_mlx_are_rejected_on_linux(accelerator: str, message: str) -> None:
    """preferredAccelerator rocm/mlx fails the build on Linux with a message saying why."""
    checks = exo_lib("checks", {"hardware": {"preferredAccelerator": accelerator}})
    assert [message] == failed(checks)


def test_defaults_pass_every_assertion_without_warnings() -> None:
    """The default configuration builds cleanly: no failed assertion, no warning."""
    checks = exo_lib("checks")
    expected: tuple[list[str], list[str]] = ([], [])
    assert expected == (failed(checks), checks["warnings"])


def test_integration_assertions() -> None:
    """k3s without k3s, a missing node address, computeOnly without Dubnium, a bond without
    networkd and a bad variable name each fail with their message."""
    settings = {
        "computeOnly": True,
        "environment": {"BAD-NAME": "x"},
        "k3s": {"integration": True},
        "networking": {"bondMembers": ["eth0"]},
    }
    expected = [
        "services.exo.k3s.integration = true needs services.k3s.enable = true (the manifests "
        "are applied by k3s).",
        "services.exo.k3s.serviceDiscovery needs services.exo.k3s.nodeAddress: the IP address of "
        "this node that pods use to reach the EXO API (the Endpoints object points there).",
        "dubnium.exo.computeOnly = true needs the Dubnium module (nixosModules.default): it "
        "defines compute.target, which starts and stops EXO.",
        "services.exo.networking.bondMembers is set but bondInterface is null: name the bond to "
        'create (e.g. "bond0").',
        "services.exo.networking.bondMembers creates the bond with systemd-networkd: set "
        "systemd.network.enable = true (or networking.useNetworkd = true), or leave bondMembers "
        "empty and configure the bond yourself.",
        "services.exo.environment: invalid variable name(s) BAD-NAME.",
    ]
    assert expected == failed(exo_lib("checks", settings))


def test_compute_only_with_dubnium_exo_disabled_is_refused() -> None:
    """computeOnly while dubnium.exo.enable is explicitly false is a contradiction."""
    checks = exo_lib(
        "checks", {"computeOnly": True}, {"dubniumPresent": True, "dubniumExoEnable": False}
    )
    expected = [
        "dubnium.exo.computeOnly = true but dubnium.exo.enable = false: the mode controller must "
        "know EXO is a compute workload. Remove the dubnium.exo.enable = false setting."
    ]
    assert expected == failed(checks)


def test_warnings_for_what_cannot_exist_on_linux() -> None:
    """RDMA, a worker-only role and CUDA without a CUDA build each warn."""
    settings = {
        "mode": "worker",
        "networking": {"rdmaEnabled": True},
        "hardware": {"preferredAccelerator": "cuda"},
    }
    warnings = exo_lib("checks", settings, {"packageVersion": "1.0.67"})["warnings"]
    expected = [
        "services.exo.networking.rdmaEnabled: RDMA over Thunderbolt exists only in EXO on macOS "
        "26.2+ (rdma_ctl); EXO on Linux has no RDMA transport. Ignored; set it to false.",
        'services.exo.mode = "worker": EXO has no worker-only role; every node takes part in the '
        "master election and is elected when no node forces mastership. This node runs without "
        '--force-master (the same as "auto"); set mode = "master" on the node that should '
        "coordinate.",
        "services.exo: accelerator cuda, but services.exo.hardware.cudaPackage is null, so "
        "services.exo.package is used as is; nixpkgs' exo and upstream's packages.exo run MLX on "
        "the CPU on Linux. Set hardware.cudaPackage (upstream flake: "
        "packages.x86_64-linux.exo-cuda-13).",
    ]
    assert expected == warnings


def test_port_flags_default_from_the_package_version() -> None:
    """Unset, the port flags follow the package: off for nixpkgs' 1.0.67, on after 1.0.71 and
    for a package without a version (upstream's build of main)."""
    def has_flags(version: str | None) -> bool:
        return "--zenoh-port" in exo_lib("args", {}, {"packageVersion": version})
    assert (False, False, True, True) == (
        has_flags("1.0.67"), has_flags("1.0.71"), has_flags("1.0.72"), has_flags(None))


def test_port_flags_forced_on_an_old_exo_fail_an_assertion() -> None:
    """portFlags = true with exo 1.0.67 (which rejects the flags) is refused at build time."""
    checks = exo_lib("checks", {"networking": {"portFlags": True}}, {"packageVersion": "1.0.67"})
    expected = [
        "services.exo.networking.portFlags = true, but services.exo.package is exo 1.0.67; "
        "releases up to 1.0.71 have no --zenoh-port/--discovery-port/--namespace and exit with "
        "\"unrecognized arguments\". Use a newer exo (upstream flake), or leave portFlags unset "
        "(null: from the version).",
    ]
    assert expected == [a["message"] for a in checks["assertions"] if not a["assertion"]]


def test_newer_exo_version_does_not_warn() -> None:
    """A package newer than 1.0.71 with the port flags gives no version warning."""
    expected: list[str] = []
    assert expected == exo_lib("checks", {}, {"packageVersion": "1.0.72"})["warnings"]


def test_k3s_manifest() -> None:
    """k3s integration publishes the API as Namespace + selector-less Service + Endpoints."""
    settings = {"apiPort": 52415, "k3s": {"integration": True, "nodeAddress": "10.0.0.5"}}
    meta = {"name": "exo", "namespace": "exo-system",
            "labels": {"app.kubernetes.io/name": "exo"}}
    expected = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "exo-system"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 52415,
                             "targetPort": 52415}]}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
         "subsets": [{"addresses": [{"ip": "10.0.0.5"}],
                      "ports": [{"name": "http", "protocol": "TCP", "port": 52415}]}]},
    ]
    assert expected == exo_lib("k3sManifest", settings)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {"tcp": [52415, 52414], "udp": [52413]}),
        ({"serveApi": False}, {"tcp": [52414], "udp": [52413]}),
    ],
)
def test_firewall_ports(settings: dict[str, Any], expected: dict[str, list[int]]) -> None:
    """openFirewall opens the API (when served) and peer TCP ports, and the discovery UDP port."""
    assert expected == exo_lib("firewall", settings)


def test_environment_and_exec_escaping() -> None:
    """Values with spaces, % and $ are quoted and escaped for systemd; plain ones are not."""
    settings = {"environment": {"EXO_NOTE": "50% of $HOME", "EXO_OFFLINE": "true"}}
    expected = [
        "EXO_DEFAULT_MODELS_DIR=/var/lib/exo/data/exo/models",
        '"EXO_NOTE=50%% of $HOME"',
        "EXO_OFFLINE=true",
    ]
    assert expected == exo_lib("environment", settings)
    words = eval_json(
        f'map (import {EXO_MODULE}/lib.nix).escapeExecArg [ "--a" "x y" "%h" "$X" "q\\"" ]'
    )
    expected_words = ["--a", '"x y"', '"%%h"', '"$$X"', '"q\\""']
    assert expected_words == words


def test_docs_table_lists_every_option() -> None:
    """docs/exo.md's option table has one row for every option, and none that does not exist."""
    flat = eval_json(
        f"let d = import {EXO_MODULE}/defaults.nix; "
        "flatten = prefix: set: builtins.concatLists (map (n: let v = set.${n}; in "
        "if builtins.isAttrs v && n != \"environment\" then flatten \"${prefix}${n}.\" v "
        "else [ \"${prefix}${n}\" ]) (builtins.attrNames set)); in flatten \"\" d"
    )
    declared = {
        "dubnium.exo.computeOnly" if name == "computeOnly" else f"services.exo.{name}"
        for name in flat
    } | {f"services.exo.{name}" for name in
         ("enable", "package", "hardware.cudaPackage", "hardware.preflightPackage")}
    text = (REPO / "docs" / "exo.md").read_text(encoding="utf-8")
    row = re.compile(r"^\| `((?:services|dubnium)\.exo\.[A-Za-z0-9.]+)` \|", re.MULTILINE)
    rows = set(row.findall(text))
    assert declared == rows
