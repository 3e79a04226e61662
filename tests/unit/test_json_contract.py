"""One JSON contract: every verb's --json output validates against its schema in docs/schemas/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.unit.test_cli import Shell

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def _registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def errors(name: str, data: Any) -> list[str]:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    validator = Draft202012Validator(schema, registry=REGISTRY)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


@pytest.fixture
def shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Shell:
    sh = Shell(tmp_path / "state", capsys)
    assert sh.run("mode-sim", "create", "--seed", "5", "--gpus", "1")[0] == 0
    return sh


def out(shell: Shell, *args: str) -> Any:
    _, text, err = shell.run("mode", *args)
    assert text, err
    return json.loads(text)


def test_every_schema_is_a_valid_schema() -> None:
    """Each file in docs/schemas/ is itself a valid draft 2020-12 schema."""
    bad = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        try:
            Draft202012Validator.check_schema(json.loads(path.read_text()))
        except Exception as exc:
            bad.append(f"{path.name}: {exc}")
    assert bad == []


def test_read_verbs_validate_on_a_fresh_host(shell: Shell) -> None:
    """current, desired, status, dry-run, request --dry-run, explain (both), guards, doctor,
    last-transition with nothing recorded: each validates against its schema."""
    cases = {
        "current": out(shell, "current", "--json"),
        "desired": out(shell, "desired", "--json"),
        "status": out(shell, "status", "--json"),
        "plan": out(shell, "dry-run", "compute", "--json"),
        "explain": out(shell, "explain", "compute", "--json"),
        "guards": out(shell, "guards", "studio-local", "--json"),
        "doctor": out(shell, "doctor", "--json"),
        "last-transition-none": out(shell, "last-transition", "--json"),
        "waybar": out(shell, "status", "--waybar"),
    }
    cases_extra = [("plan", out(shell, "request", "compute", "--dry-run", "--json")),
                   ("current", out(shell, "explain", "--json"))]
    found = {name: errors(name, data) for name, data in [*cases.items(), *cases_extra]}
    assert found == {name: [] for name in found}


def test_transition_verbs_validate_after_every_outcome(shell: Shell) -> None:
    """request (blocked, converged, rolled back), reconcile, boot, last-transition, and every
    history line validate; the contract's names are there and the record's own are not."""
    records = []
    shell.run("mode-sim", "audio", "start", "music")
    records.append(out(shell, "request", "compute", "--json"))  # blocked
    shell.run("mode-sim", "audio", "stop", "music")
    records.append(out(shell, "request", "studio-local", "--json"))  # converged
    records.append(out(shell, "reconcile", "desktop", "--json"))
    shell.run("mode-sim", "gpu", "release", "0", "never")
    records.append(out(shell, "request", "compute", "--json"))  # rolled back
    records.append(out(shell, "boot", "--json"))
    records.append(out(shell, "last-transition", "--json"))
    _, lines, _ = shell.run("mode", "history", "--json")
    history = [json.loads(line) for line in lines.splitlines()]
    found = [errors("transition", r) for r in records] + [errors("history-line", h)
                                                          for h in history]
    assert found == [[]] * (len(records) + len(history))
    assert [r["outcome"] for r in records[:4]] == [
        "blocked", "converged", "converged", "rolled-back"]
    assert (records[0]["blocking"], records[3]["target"], records[3]["observed_state"]) == (
        ["audio_idle"], "compute", "desktop")
    status = out(shell, "status", "--json")
    assert errors("status", status) == []


def test_a_stale_key_fails_validation() -> None:
    """The schema rejects the old names (`requested`, `final_state`): the test can fail."""
    record = {"schema_version": 1, "kind": "transition", "target": "compute",
              "observed_state": "desktop", "blocking": [], "outcome": "converged",
              "exit_code": 0, "summary": "x", "requested": "compute"}
    assert len(errors("transition", record)) == 1
