"""Running Nix and systemd's verifier for the tests in tests/nix/ (Dubnium's NixOS side).

`nix_instantiate()` FAILS on CI (CI=true) when nix-instantiate is missing — CI must never
skip these checks — and skips with the reason only on a developer machine without it.
`parse_errors`, `verify_errors` are the checks themselves, so the tests that prove they can
fail call exactly what the real checks call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RENDER_UNITS = REPO / "scripts" / "render-units"
NIX_LIB = REPO / "nixos" / "lib"
SKIP_DIRS = {".git", ".venv", "node_modules", "result"}


def nix_instantiate() -> str:
    path = shutil.which("nix-instantiate")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(
            "nix-instantiate is missing on CI: install Debian's nix-bin (scripts/bootstrap)"
        )
    pytest.skip("nix-instantiate is not installed (apt-get install nix-bin); CI runs these tests")


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(
            "systemd-analyze is missing on CI: install Debian's systemd (scripts/bootstrap)"
        )
    pytest.skip("systemd-analyze is not installed; CI runs this test")


def nix_env() -> dict[str, str]:
    # Debian's nix-bin names a build group that does not exist; evaluation needs none.
    return {**os.environ, "NIX_CONFIG": "build-users-group ="}


def run_nix(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nix_instantiate(), *args], capture_output=True, text=True, check=False, env=nix_env()
    )


def eval_json(expr: str, *extra: str) -> Any:
    """Evaluate a Nix expression strictly; its JSON value. Raises with Nix's stderr."""
    done = run_nix(["--eval", "--strict", "--json", "-E", expr, *extra])
    if done.returncode != 0:
        raise AssertionError(f"nix-instantiate failed:\n{done.stderr}")
    return json.loads(done.stdout)


def nix_files(root: Path = REPO) -> list[Path]:
    """Every .nix file of the repository (EXO's included), outside VCS and virtualenvs."""
    return sorted(
        p for p in root.rglob("*.nix") if not SKIP_DIRS.intersection(p.relative_to(root).parts)
    )


def parse_errors(paths: list[Path]) -> dict[str, str]:
    """`nix-instantiate --parse` each file; {path: error} for those that fail."""
    errors = {}
    for path in paths:
        done = run_nix(["--parse", str(path)])
        if done.returncode != 0 or done.stderr:
            errors[str(path)] = done.stderr.strip()
    return errors


def render(out: Path, *options: str) -> list[Path]:
    """scripts/render-units --out OUT OPTIONS...; the unit files written."""
    nix_instantiate()
    done = subprocess.run(
        [str(RENDER_UNITS), "--out", str(out), *options],
        capture_output=True, text=True, check=False, env=nix_env(),
    )
    if done.returncode != 0:
        raise AssertionError(f"render-units failed ({done.returncode}):\n{done.stderr}")
    return [Path(line) for line in done.stdout.splitlines()]


def verify_errors(units: list[Path]) -> str:
    """`systemd-analyze verify --man=no` on the files; its stderr (any output is a failure),
    with the exit status appended when it is not 0."""
    done = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", *map(str, units)],
        capture_output=True, text=True, check=False, cwd=units[0].parent if units else None,
    )
    problems = done.stderr.strip()
    if done.returncode != 0:
        problems += f"\n(exit status {done.returncode})"
    return problems.strip()


def host_settings(overrides: dict[str, Any] | None = None) -> str:
    """A Nix expression: defaults.nix with the example workstation's dubnium.* values (seed
    001) and `overrides` merged over it, as the module would see `config.dubnium`."""
    workstation = {
        "hardware": {"presentGpus": [0], "displayGpu": 0, "computeGpus": [0], "plannedGpuCount": 2},
        "vllm": {
            "enable": True,
            "package": "vllm",
            "model": "Qwen/Qwen2.5-Coder-14B-Instruct",
            "extraArgs": [
                "--max-model-len", "8192", "--gpu-memory-utilization", "0.70", "--enforce-eager",
            ],
        },
    }
    settings = json.dumps(_merge(workstation, overrides or {}))
    return (
        f"(import {NIX_LIB}/pure.nix).recursiveUpdate (import {NIX_LIB}/defaults.nix) "
        f"(builtins.fromJSON {json.dumps(settings)})"
    )


def _merge(lhs: dict[str, Any], rhs: dict[str, Any]) -> dict[str, Any]:
    out = dict(lhs)
    for key, value in rhs.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


SHARED_NIXPKGS = REPO.parent / "shared" / "nixpkgs"
NIXOS_SUBSET = SHARED_NIXPKGS / "eval-nixos-subset.nix"
NO_SHARED_NIXPKGS = (
    f"{SHARED_NIXPKGS} is absent (the nixpkgs piece CI keeps beside the checkout: nixpkgs.lib "
    "plus NixOS's systemd, assertions and greetd modules, never committed here); not run"
)


def nixpkgs_lib() -> Path | None:
    """The nixpkgs `lib` directory: DUBNIUM_NIXPKGS_LIB (a snapshot of nix-community/nixpkgs.lib,
    never committed; the snapshot or its `lib` both work) when set, else ../shared/nixpkgs
    beside the checkout (CI has it); None when neither holds one."""
    raw = os.environ.get("DUBNIUM_NIXPKGS_LIB", "")
    roots = [Path(raw)] if raw else [SHARED_NIXPKGS]
    for root in roots:
        for candidate in (root, root / "lib"):
            if (candidate / "default.nix").is_file() and (candidate / "modules.nix").is_file():
                return candidate
    return None
