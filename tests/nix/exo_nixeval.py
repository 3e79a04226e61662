"""Evaluating the EXO module's pure Nix (nixos/modules/exo/lib.nix, nixos/units/exo.nix) with
nix-instantiate, for tests/nix/test_exo_*.py. No nixpkgs: only builtins.

`nix_instantiate()` fails on CI (CI=true) when nix-instantiate is missing and skips with the
reason on a developer machine without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.nix.nixtools import nix_env, nix_instantiate

REPO = Path(__file__).resolve().parents[2]
EXO_MODULE = REPO / "nixos" / "modules" / "exo"
RENDER_UNITS = REPO / "scripts" / "render-units"

# The facts the module reads from the rest of the system (nixos/modules/exo/facts.nix),
# for a plain Linux host with nothing else configured.
BASE_FACTS: dict[str, Any] = {
    "isLinux": True,
    "nvidiaDriver": False,
    "packageVersion": None,
    "k3sEnabled": False,
    "k3sManifests": True,
    "dubniumPresent": False,
    "dubniumExoEnable": None,
    "networkdEnabled": False,
    "cudaPackageSet": False,
}


def eval_json(expr: str) -> Any:
    """Evaluate a Nix expression strictly; its JSON value. Raises with Nix's stderr."""
    done = subprocess.run(
        [nix_instantiate(), "--eval", "--strict", "--json", "-E", expr],
        capture_output=True, text=True, check=False, env=nix_env(),
    )
    if done.returncode != 0:
        raise AssertionError(f"nix-instantiate failed:\n{done.stderr}")
    return json.loads(done.stdout)


def parse(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nix_instantiate(), "--parse", str(path)],
        capture_output=True, text=True, check=False, env=nix_env(),
    )


def facts_expr(settings: dict[str, Any] | None = None, facts: dict[str, Any] | None = None) -> str:
    """Nix for `f`: defaults.nix, then the base facts, then `settings` (services.exo values
    plus computeOnly), merged deeply."""
    over = json.dumps({**BASE_FACTS, **(facts or {})})
    settings_json = json.dumps(settings or {})
    return (
        f"(let pure = import {REPO}/nixos/lib/pure.nix; "
        f"d = import {EXO_MODULE}/defaults.nix; in "
        f"pure.recursiveUpdate (pure.recursiveUpdate d (builtins.fromJSON {json.dumps(over)})) "
        f"(builtins.fromJSON {json.dumps(settings_json)}))"
    )


def exo_lib(call: str, settings: dict[str, Any] | None = None,
            facts: dict[str, Any] | None = None) -> Any:
    """`(import lib.nix).<call> f` evaluated; `call` may be e.g. "args" or "checks"."""
    return eval_json(f"(import {EXO_MODULE}/lib.nix).{call} {facts_expr(settings, facts)}")


def unit_graph(settings: dict[str, Any] | None = None, facts: dict[str, Any] | None = None,
               *, exe: str = "/bin/true", preflight: str | None = "/bin/true",
               extra_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole unit graph (nixos/units, Dubnium's units with stand-in commands) with EXO's
    parameters made by lib.nix's unitParams, exactly as the module makes them."""
    preflight_nix = "null" if preflight is None else json.dumps(preflight)
    params = {
        "exec": {"mode": "/bin/true", "marker": "/bin/true", "vllm": "/bin/sleep infinity"},
        **(extra_params or {}),
    }
    expr = (
        f"let pure = import {REPO}/nixos/lib/pure.nix; "
        f"f = {facts_expr(settings, facts)}; "
        f"exo = (import {EXO_MODULE}/lib.nix).unitParams f "
        f"{{ exe = {json.dumps(exe)}; preflightExe = {preflight_nix}; }}; "
        f"params = pure.recursiveUpdate (builtins.fromJSON {json.dumps(json.dumps(params))}) "
        f"{{ exo = pure.recursiveUpdate exo (builtins.fromJSON "
        f"{json.dumps(json.dumps((extra_params or {}).get('exo', {})))}); }}; "
        f"in import {REPO}/nixos/units {{ inherit params; }}"
    )
    graph = eval_json(expr)
    assert isinstance(graph, dict)
    return graph


def render(graph: dict[str, Any], out: Path) -> list[Path]:
    """Render `graph` with scripts/render-units into `out`; the unit files written."""
    graph_file = out.parent / f"{out.name}-graph.json"
    graph_file.write_text(json.dumps(graph), encoding="utf-8")
    done = subprocess.run(
        ["python3", str(RENDER_UNITS), "--out", str(out), "--graph-json", str(graph_file)],
        capture_output=True, text=True, check=False, env=nix_env(),
    )
    if done.returncode != 0:
        raise AssertionError(f"render-units failed:\n{done.stderr}")
    return [Path(line) for line in done.stdout.splitlines() if line]


def verify(files: list[Path]) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify --man=no` on the files (the caller treats stderr)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing on CI (Debian package systemd)")
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return subprocess.run(
        [analyze, "verify", "--man=no", *map(str, files)],
        capture_output=True, text=True, check=False,
    )


def systemd_version() -> int:
    done = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True,
                          check=False)
    first = done.stdout.split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else 0
