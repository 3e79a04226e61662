"""Campaign shards: JSON summaries, run as separate processes, merge to the unsharded run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator.campaign import CampaignExit, CampaignResult, SeedResult
from simulator.invariants import LIVENESS, SAFETY, Violation
from simulator.shards import Summary, SummaryError, merge

# What differs between one run and its shards by construction: where and how long they ran.
_PLACE = ("wall_s", "jobs", "shards", "campaign")


def _sim(*args: str) -> subprocess.CompletedProcess[str]:
    tool = str(Path(sys.executable).parent / "mode-sim")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False,
                          timeout=600)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_shards_run_as_processes_merge_to_the_unsharded_run(tmp_path: Path) -> None:
    """Three shard processes, merged: the same seeds, counts, faults and verdict as one run."""
    whole = _sim("campaign", "--seeds", "24", "--first", "5", "--sample-every", "8",
                 "--summary", str(tmp_path / "whole.json"))
    procs = [subprocess.Popen(
        [str(Path(sys.executable).parent / "mode-sim"), "campaign", "--seeds", "24", "--first",
         "5", "--sample-every", "8", "--shard", f"{i}/3", "--summary",
         str(tmp_path / f"shard{i}.json")], stdout=subprocess.DEVNULL) for i in range(3)]
    assert [0, 0, 0] == [p.wait(timeout=600) for p in procs]
    merged = _sim("campaign-merge", *(str(tmp_path / f"shard{i}.json") for i in (2, 0, 1)),
                  "--out", str(tmp_path / "merged.json"))
    one, many = _load(tmp_path / "whole.json"), _load(tmp_path / "merged.json")
    assert (0, 0) == (whole.returncode, merged.returncode), merged.stderr
    assert {k: v for k, v in one.items() if k not in _PLACE} == {
        k: v for k, v in many.items() if k not in _PLACE}
    assert ([[5, 28]], 24, [0, 1, 2], {"first": 5, "seeds": 24, "shards": 3}) == (
        many["seed_ranges"], many["seeds_run"], many["shards"], many["campaign"])
    assert merged.stdout.splitlines()[0].startswith("seeds run           24 (5..28)")
    assert _table(whole.stdout) == _table(merged.stdout)


def _table(text: str) -> list[str]:
    """The summary table without the lines that say where and how long it ran."""
    return [x for x in text.splitlines() if not x.startswith(("seeds run", "wall time"))]


def _result(seeds: list[int], bad: dict[int, str], crash: int | None = None) -> CampaignResult:
    results = tuple(SeedResult(
        s, 2, 1, {"unit_start_fails": 1}, {"converged": 2},
        (Violation(bad[s], f"rule {bad[s]}", "", 0),) if s in bad else (),
        "Traceback\nKeyError: 'x'" if s == crash else None, 10**9) for s in seeds)
    return CampaignResult(seeds[0], len(seeds), results, (), 0, 1.0, 1)


def _shards(bad: dict[int, str], crash: int | None = None) -> list[Summary]:
    cuts = [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    return [Summary.of_result(_result(seeds, bad, crash), first=0, seeds=10, shard=(i, 3))
            for i, seeds in enumerate(cuts)]


def test_merge_keeps_the_first_failing_seed_per_violation_and_the_worst_exit() -> None:
    """A liveness failure in shard 0 and safety ones in shards 1 and 2: safety wins (40);
    each rule names its lowest seed, counted across shards."""
    parts = _shards({1: LIVENESS, 7: SAFETY, 4: SAFETY, 9: SAFETY}, crash=8)
    merged = Summary.from_json(json.loads(json.dumps(merge(reversed(parts)).to_json())))
    got = [(f.key, f.count, f.first_seed) for f in merged.findings]
    assert ([("crash: KeyError: 'x'", 1, 8), ("liveness: rule liveness", 1, 1),
             ("safety: rule safety", 3, 4)], CampaignExit.SAFETY, 10, 20) == (
        got, merged.exit_code, merged.count, merged.attempts)
    assert CampaignExit.LIVENESS == merge(_shards({2: LIVENESS}, crash=5)).exit_code


def test_merge_refuses_a_missing_repeated_or_foreign_shard() -> None:
    """A lost pod, a shard given twice or another campaign's shard is an error, not a pass."""
    parts = _shards({})
    other = Summary.of_result(_result([0, 1], {}), first=0, seeds=2, shard=(0, 3))
    errors = []
    for given in (parts[:2], [*parts, parts[1]], [*parts[:2], other]):
        with pytest.raises(SummaryError) as caught:
            merge(given)
        errors.append(str(caught.value))
    assert ["shards missing: 2/3", "shard 1/3 is given more than once",
            "summaries of different campaigns: seeds 0+10 in 3 shards, and 0+2 in 3"] == errors


def test_campaign_merge_verb_says_one_line_for_a_bad_file(tmp_path: Path) -> None:
    """A summary that is not one, or is missing, is exit 2 and one line naming the file."""
    (tmp_path / "x.json").write_text('{"format": "something else"}')
    bad = _sim("campaign-merge", str(tmp_path / "x.json"))
    gone = _sim("campaign-merge", str(tmp_path / "none.json"))
    assert (2, 1, True) == (bad.returncode, len(bad.stderr.splitlines()),
                            "x.json" in bad.stderr)
    assert (2, 1) == (gone.returncode, len(gone.stderr.splitlines()))


def test_the_indexed_job_in_the_docs_runs_every_shard_of_its_campaign() -> None:
    """docs/campaigns.md: an Indexed Job whose completions equal its shard count, each pod's
    shard its JOB_COMPLETION_INDEX, each writing its summary."""
    text = (Path(__file__).parents[2] / "docs" / "campaigns.md").read_text()
    manifest = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    completions = re.search(r"^  completions: (\d+)", manifest, re.M)
    shards = re.search(r'- name: SHARDS\n\s+value: "(\d+)"', manifest)
    assert completions is not None
    assert shards is not None
    assert (completions.group(1), True, True, True) == (
        shards.group(1), "completionMode: Indexed" in manifest,
        '--shard "${JOB_COMPLETION_INDEX}/${SHARDS}"' in manifest, "--summary" in manifest)
