"""Every .nix file of the repository parses, and the parse check catches what it must."""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nix.nixtools import REPO, nix_files, parse_errors

pytestmark = pytest.mark.nix


def test_every_nix_file_parses() -> None:
    """`nix-instantiate --parse` accepts every .nix file (flake, modules, units, EXO, stubs)."""
    files = nix_files()
    assert REPO / "flake.nix" in files
    assert {} == parse_errors(files)


def test_parse_check_reports_a_syntax_error(tmp_path: Path) -> None:
    """A file with a syntax error is reported by the same check, naming the file."""
    bad = tmp_path / "broken.nix"
    bad.write_text("{ lib, ... }: { x = ; }\n")
    errors = parse_errors([bad])
    assert [str(bad)] == list(errors)
    assert "syntax error" in errors[str(bad)]


def test_parse_check_reports_an_undefined_name(tmp_path: Path) -> None:
    """A module using a name it never brought into scope (mkIf without `inherit (lib)`) is
    reported: the reason the modules use `inherit (lib) ...` and never `with lib;`."""
    bad = tmp_path / "undefined.nix"
    bad.write_text("{ lib, config, ... }: { config = mkIf config.x.enable { }; }\n")
    errors = parse_errors([bad])
    assert [str(bad)] == list(errors)
    assert "undefined variable 'mkIf'" in errors[str(bad)]


def test_no_file_uses_with_lib() -> None:
    """No .nix file says `with lib;`, which would hide undefined names from the parser."""
    offenders = [str(p) for p in nix_files() if "with lib;" in p.read_text(encoding="utf-8")]
    assert [] == offenders
