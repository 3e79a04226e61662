"""exo.target and exo.service (nixos/units/exo.nix with the parameters the module makes):
evaluated with nix-instantiate, rendered with scripts/render-units, and checked with
`systemd-analyze verify --man=no`, where any stderr is a failure except the two restart
backoff keys that Debian 12's systemd 252 does not know yet (NixOS has systemd >= 254)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.nix.exo_nixeval import render, systemd_version, unit_graph, verify

pytestmark = pytest.mark.nix

EXO_UNITS = ("exo.service", "exo.target")


def backoff_warnings(unit_dir: Path) -> list[str]:
    """What systemd < 254 says about RestartSteps=/RestartMaxDelaySec= in exo.service."""
    if systemd_version() >= 254:
        return []
    text = (unit_dir / "exo.service").read_text().splitlines()
    keys = ("RestartMaxDelaySec", "RestartSteps")
    lines = {key: n for n, line in enumerate(text, 1) for key in keys
             if line.startswith(f"{key}=")}
    return [
        f"{unit_dir / 'exo.service'}:{lines[key]}: Unknown key '{key}' in section [Service], "
        "ignoring."
        for key in sorted(lines, key=lines.__getitem__)
    ]


def render_and_verify(tmp_path: Path, graph: dict[str, Any]) -> tuple[Path, str]:
    out = tmp_path / "units"
    render(graph, out)
    done = verify([out / name for name in EXO_UNITS])
    ok = 0
    assert ok == done.returncode, done.stderr
    return out, done.stderr


@pytest.mark.parametrize(
    ("settings", "facts"),
    [
        ({}, {}),
        ({"computeOnly": True}, {"dubniumPresent": True}),
        ({"hardware": {"preferredAccelerator": "cuda", "memoryLimit": "80%"},
          "modelStore": "/srv/models", "environment": {"EXO_NOTE": "50% of it"},
          "networking": {"bondInterface": "bond0"}, "extraArgs": ["--note", "a b"]}, {}),
    ],
    ids=["default", "compute-only", "cuda-bond-store"],
)
def test_exo_units_verify(tmp_path: Path, settings: dict[str, Any], facts: dict[str, Any]) -> None:
    """The rendered exo units pass systemd-analyze verify; only the known backoff keys warn."""
    out, stderr = render_and_verify(tmp_path, unit_graph(settings, facts))
    assert backoff_warnings(out) == stderr.splitlines()


def test_exo_units_verify_silently_without_backoff(tmp_path: Path) -> None:
    """Without the systemd >= 254 backoff keys the units verify with no output at all."""
    graph = unit_graph({}, {}, extra_params={"exo": {"restartBackoff": False}})
    _, stderr = render_and_verify(tmp_path, graph)
    expected = ""
    assert expected == stderr


def test_verify_catches_a_bad_exo_setting(tmp_path: Path) -> None:
    """The check can fail: a bad TimeoutStopSec value in exo.service is reported on stderr."""
    graph = unit_graph({}, {}, extra_params={"exo": {"stopTimeout": "forever",
                                                     "restartBackoff": False}})
    out = tmp_path / "units"
    render(graph, out)
    done = verify([out / "exo.service"])
    text = (out / "exo.service").read_text().splitlines()
    line = text.index("TimeoutStopSec=forever") + 1
    expected = f"{out / 'exo.service'}:{line}: Failed to parse time value, ignoring: forever\n"
    assert expected == done.stderr


def test_exo_disabled_renders_no_exo_units() -> None:
    """With EXO off (params.nix's `exo = { }`) the graph has no exo units."""
    graph = unit_graph(extra_params={"exo": {"enable": False}})
    expected: list[str] = []
    assert expected == [name for name in graph if name.startswith("exo.")]


def test_default_unit_shape() -> None:
    """exo.service: foreground, after network-online, restart with backoff, under exo.target,
    which multi-user.target wants; the preflight runs first."""
    graph = unit_graph()
    service = graph["exo.service"]
    config = service["serviceConfig"]
    expected = {
        "target": {"description": "EXO distributed inference node",
                   "wantedBy": ["multi-user.target"], "partOf": [], "after": []},
        "wants": ["network-online.target"],
        "after": ["network-online.target"],
        "partOf": ["exo.target"],
        "wantedBy": ["exo.target"],
        "Type": "exec",
        "Restart": "on-failure",
        "RestartSec": "5s",
        "RestartSteps": 8,
        "RestartMaxDelaySec": "5min",
        "ExecStart": "/bin/true --api-port 52415 --zenoh-port 52414 --discovery-port 52413",
        "ExecStartPre": "/bin/true --accelerator auto --allow-cpu-fallback --model-store "
                        "/var/lib/exo/data/exo/models --min-free-disk-mib 10240",
        "User": "exo",
        "StateDirectory": "exo",
        "Environment": [
            "HOME=/var/lib/exo",
            "XDG_CONFIG_HOME=/var/lib/exo/config",
            "XDG_DATA_HOME=/var/lib/exo/data",
            "XDG_CACHE_HOME=/var/lib/exo/cache",
            "EXO_DEFAULT_MODELS_DIR=/var/lib/exo/data/exo/models",
        ],
        "EnvironmentFile": ["-/etc/exo/environment"],
        "PrivateDevices": True,
        "Slice": None,
    }
    actual = {
        "target": graph["exo.target"],
        "wants": service["wants"],
        "after": service["after"],
        "partOf": service["partOf"],
        "wantedBy": service["wantedBy"],
        **{key: config.get(key) for key in (
            "Type", "Restart", "RestartSec", "RestartSteps", "RestartMaxDelaySec", "ExecStart",
            "ExecStartPre", "User", "StateDirectory", "Environment", "EnvironmentFile",
            "PrivateDevices", "Slice",
        )},
    }
    assert expected == actual


def test_compute_only_links(tmp_path: Path) -> None:
    """computeOnly: compute.target wants exo.target and exo.service, both PartOf it, in ai.slice,
    with the controller's GPU profile file; nothing hangs exo from multi-user.target."""
    graph = unit_graph({"computeOnly": True}, {"dubniumPresent": True})
    out = tmp_path / "units"
    render(graph, out)
    links = {
        d.name: sorted(n for n in os.listdir(d) if n.startswith("exo.")) for d in out.iterdir()
        if d.is_dir() and any(n.startswith("exo.") for n in os.listdir(d))
    }
    expected = {
        "compute.target.wants": ["exo.service", "exo.target"],
        "exo.target.wants": ["exo.service"],
    }
    assert expected == links
    service, target = graph["exo.service"], graph["exo.target"]
    expected_membership = (
        ["exo.target", "compute.target"], ["compute.target"], "ai.slice",
        ["-/etc/exo/environment", "-/run/mode-controller/exo-profile.env"],
    )
    assert expected_membership == (
        service["partOf"], target["partOf"], service["serviceConfig"]["Slice"],
        service["serviceConfig"]["EnvironmentFile"],
    )


def test_cuda_allows_only_the_nvidia_devices() -> None:
    """With CUDA the sandbox keeps devices closed except the NVIDIA character devices."""
    graph = unit_graph({"hardware": {"preferredAccelerator": "cuda"}})
    config = graph["exo.service"]["serviceConfig"]
    expected = (False, "closed", ["char-nvidiactl", "char-nvidia-caps", "char-nvidia-frontend",
                                  "char-nvidia-uvm"])
    assert expected == (config["PrivateDevices"], config["DevicePolicy"], config["DeviceAllow"])


def test_bond_memory_limit_and_store_reach_the_unit() -> None:
    """bondInterface orders exo after the bond's device; memoryLimit is MemoryMax; a model store
    outside the state directory is writable in the sandbox."""
    settings = {"hardware": {"memoryLimit": "80%"}, "modelStore": "/srv/models",
                "networking": {"bondInterface": "bond0"}}
    service = unit_graph(settings)["exo.service"]
    config = service["serviceConfig"]
    expected = (
        ["network-online.target", "sys-subsystem-net-devices-bond0.device"],
        "80%",
        ["/var/lib/exo", "-/srv/models"],
    )
    assert expected == (service["after"], config["MemoryMax"], config["ReadWritePaths"])


def test_no_preflight_when_disabled() -> None:
    """hardware.preflight = false removes ExecStartPre."""
    config = unit_graph({"hardware": {"preflight": False}})["exo.service"]["serviceConfig"]
    assert "ExecStartPre" not in config
