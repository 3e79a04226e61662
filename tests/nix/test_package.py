"""packages.mode-tools against nixpkgs' Python set: nixpkgs' runtime dependency check
refuses a package whose installed dependencies fall outside pyproject's bounds, so every
dependency the package gets must satisfy them. nixpkgs ships typer 0.26 (outside `<0.25`)."""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

import tomllib
from typing import Any

from packaging.requirements import Requirement

from tests.nix.nixtools import REPO, eval_json

# typer 0.26 is what nixos-unstable ships (issue 13); the other versions are stand-ins within
# pyproject's bounds, not nixpkgs' (no nixpkgs package set here): a click 8.4 there would
# need its own answer.
NIXPKGS = {"typer": "0.26.0", "click": "8.3.1", "attrs": "25.4.0", "rich": "14.2.0",
           "pystemd": "0.15.1", "nvidia-ml-py": "13.580.82", "setuptools": "80.9.0"}


def package_dependencies() -> Any:
    """mode-tools.nix applied to a stand-in python3Packages with nixpkgs' versions (and
    nixpkgs' overridePythonAttrs semantics: the function's attributes replace the old ones);
    {versions: {pname: version} of its `dependencies`, relaxed: its pythonRelaxDeps}."""
    stand_ins = " ".join(
        f'"{name}" = mk "{name}" "{version}";' for name, version in NIXPKGS.items())
    expr = f"""
      let
        mk = pname: version: {{
          inherit pname version;
          dependencies = [ ];
          overridePythonAttrs = f: let old = mk pname version; in old // f old;
        }};
        py = {{ {stand_ins}
          fetchPypi = a: a;
          python = {{ sitePackages = "lib/python3/site-packages"; interpreter = "python3"; }};
          buildPythonApplication = a: a;
        }};
        lib = {{ licenses.mit = "mit"; platforms.linux = [ ]; }};
        pkg = import {REPO}/nixos/pkgs/mode-tools.nix {{
          inherit lib; python3Packages = py; src = /.; }};
      in {{
        versions = builtins.listToAttrs
          (map (d: {{ name = d.pname; value = d.version; }}) pkg.dependencies);
        relaxed = pkg.pythonRelaxDeps or [ ];
      }}
    """
    return eval_json(expr)


def test_every_dependency_satisfies_pyproject() -> None:
    """Each runtime requirement of pyproject.toml is met by the version the Nix package
    gets (typer: 0.24.2 built for it, not nixpkgs' 0.26), or its bound is relaxed there."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(r) for r in
                    project["dependencies"] + project["optional-dependencies"]["host"]]
    package = package_dependencies()
    got, relaxed = package["versions"], set(package["relaxed"])
    unmet = {r.name: got.get(r.name) for r in requirements if got.get(r.name) is None or (
        r.name not in relaxed and not r.specifier.contains(got[r.name]))}
    assert {} == unmet
