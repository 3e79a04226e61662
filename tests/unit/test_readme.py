"""The README's exit-code table is the one the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from dubnium.codes import ExitCode, GuardId

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_exit_code_and_no_other() -> None:
    """Every ExitCode and guard code appears in the table, and nothing else does."""
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", README.read_text(), flags=re.MULTILINE)
    documented = {int(code) for code, _ in rows}
    expected = {int(c) for c in ExitCode} | {g.exit_code for g in GuardId}
    assert documented == expected


def test_readme_names_each_guard_with_its_code() -> None:
    """Each guard's row names the guard id next to its own code."""
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", README.read_text(), flags=re.MULTILINE))
    assert {g.value for g in GuardId if g.value in rows[str(g.exit_code)]} == {
        g.value for g in GuardId}
