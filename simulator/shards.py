"""Campaign summaries as data: one shard's as JSON, many shards' merged into one.

Called by `mode-sim campaign` (`--summary PATH` writes the shard's summary) and `mode-sim
campaign-merge` (combines shard files; `simulator.cli`), and by the summary table both
print. A campaign of many seeds runs as `--shard i/n` on many machines (a Kubernetes
Indexed Job: docs/campaigns.md); each shard writes what it ran and found, and the merge
adds them up: seeds run, attempts, transitions, faults by kind, outcomes, violations by
kind and rule with their count and first failing seed (the lowest, as one run over the
whole range would have met it first), determinism re-runs, and the exit code by the same
rules as one run (`CampaignExit`: the worst finding wins). Shards of the same campaign
(same first seed, seed count and n) merge only when together they are every shard exactly
once, so a lost pod cannot pass for a clean run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from dubnium import fsutil, strictjson
from dubnium.errors import DubniumError, StorageError
from simulator.campaign import CampaignExit, CampaignResult
from simulator.faults import FaultKind
from simulator.invariants import LIVENESS, SAFETY

FORMAT = "dubnium-campaign-summary"
VERSION = 1
CRASH = "crash"
_EXIT_BY_KIND = {SAFETY: CampaignExit.SAFETY, LIVENESS: CampaignExit.LIVENESS,
                 CRASH: CampaignExit.CRASH}


class SummaryError(DubniumError, ValueError):
    """Summaries that are not ours, or shards that do not make up one campaign."""


@attrs.frozen
class Finding:
    """A violated rule (or a crash) across seeds: how often, and the first seed to show it."""

    kind: str  # safety | liveness | crash
    rule: str
    count: int
    first_seed: int

    @property
    def key(self) -> str:
        return f"{self.kind}: {self.rule}"


@attrs.frozen
class Summary:
    """What a campaign (or some shards of it) ran and found; JSON-ready."""

    first: int  # the campaign's whole seed range: first .. first + seeds - 1
    seeds: int
    of: int  # the number of shards the range is cut into
    shards: tuple[int, ...]  # which of them this summary covers
    count: int  # seeds run
    attempts: int
    transitions: int
    sim_ns: int
    wall_s: float
    jobs: int
    faults: Mapping[str, int]
    outcomes: Mapping[str, int]
    findings: tuple[Finding, ...]  # sorted by key
    resampled: int
    nondeterministic: tuple[int, ...]

    @property
    def exit_code(self) -> CampaignExit:
        kinds = {f.kind for f in self.findings}
        for kind in (SAFETY, LIVENESS, CRASH):
            if kind in kinds:
                return _EXIT_BY_KIND[kind]
        return CampaignExit.NONDETERMINISTIC if self.nondeterministic else CampaignExit.OK

    @classmethod
    def of_result(cls, result: CampaignResult, *, first: int, seeds: int,
                  shard: tuple[int, int] = (0, 1)) -> Summary:
        """Shard `shard` (i, n) of the campaign over first .. first + seeds - 1."""
        faults: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        found: dict[tuple[str, str], Finding] = {}
        for r in result.results:
            faults.update(r.faults)
            outcomes.update(r.outcomes)
            seen = [(v.kind, v.rule) for v in r.violations]
            if r.crash is not None:
                seen.append((CRASH, r.crash.strip().splitlines()[-1][:80]))
            for kind, rule in seen:
                old = found.get((kind, rule))
                found[(kind, rule)] = Finding(kind, rule, 1, r.seed) if old is None else \
                    attrs.evolve(old, count=old.count + 1, first_seed=min(old.first_seed, r.seed))
        return cls(first, seeds, shard[1], (shard[0],), result.count,
                   sum(r.attempts for r in result.results),
                   sum(r.transitions for r in result.results),
                   sum(r.sim_ns for r in result.results), result.wall_s, result.jobs,
                   dict(sorted(faults.items())), dict(sorted(outcomes.items())),
                   _sorted(found.values()), result.resampled,
                   tuple(sorted(result.nondeterministic)))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION,
            "campaign": {"first": self.first, "seeds": self.seeds, "shards": self.of},
            "shards": list(self.shards),
            "seed_ranges": [[lo, hi] for lo, hi in self.seed_ranges()],
            "seeds_run": self.count, "attempts": self.attempts,
            "transitions": self.transitions, "simulated_s": self.sim_ns / 1e9,
            "simulated_ns": self.sim_ns, "wall_s": round(self.wall_s, 3), "jobs": self.jobs,
            "faults": dict(self.faults), "outcomes": dict(self.outcomes),
            "violations": [{"kind": f.kind, "rule": f.rule, "count": f.count,
                            "first_seed": f.first_seed} for f in self.findings],
            "determinism": {"resampled": self.resampled,
                            "differ": list(self.nondeterministic)},
            "exit": int(self.exit_code), "verdict": self.exit_code.name.lower(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Summary:
        """A summary `to_json` wrote; SummaryError for anything else."""
        try:
            if data["format"] != FORMAT or data["version"] != VERSION:
                raise SummaryError(f"not a {FORMAT} version {VERSION}")
            campaign = data["campaign"]
            findings = tuple(Finding(_text(v["kind"]), _text(v["rule"]), _int(v["count"]),
                                     _int(v["first_seed"])) for v in data["violations"])
            summary = cls(
                _int(campaign["first"]), _int(campaign["seeds"]), _int(campaign["shards"]),
                tuple(_int(i) for i in data["shards"]), _int(data["seeds_run"]),
                _int(data["attempts"]), _int(data["transitions"]),
                _int(data["simulated_ns"]), _number(data["wall_s"]), _int(data["jobs"]),
                _counts(data["faults"]), _counts(data["outcomes"]), _sorted(findings),
                _int(data["determinism"]["resampled"]),
                tuple(_int(s) for s in data["determinism"]["differ"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise SummaryError(f"not a campaign summary: {type(exc).__name__} {exc}") from None
        if summary.of < 1 or any(not 0 <= i < summary.of for i in summary.shards):
            raise SummaryError(f"shards {list(summary.shards)} are not among 0..{summary.of - 1}")
        return summary

    def seed_ranges(self) -> list[tuple[int, int]]:
        """The seeds this summary covers, as inclusive (first, last) ranges."""
        spans: list[tuple[int, int]] = []
        for i in sorted(self.shards):
            lo = self.first + self.seeds * i // self.of
            hi = self.first + self.seeds * (i + 1) // self.of - 1
            if hi < lo:
                continue
            if spans and spans[-1][1] + 1 == lo:
                spans[-1] = (spans[-1][0], hi)
            else:
                spans.append((lo, hi))
        return spans


def merge(summaries: Iterable[Summary]) -> Summary:
    """The shards of one campaign added up; SummaryError unless they are of the same
    campaign and together every shard exactly once."""
    parts = list(summaries)
    if not parts:
        raise SummaryError("no summaries to merge")
    head = parts[0]
    campaign = (head.first, head.seeds, head.of)
    for part in parts[1:]:
        if (part.first, part.seeds, part.of) != campaign:
            raise SummaryError(
                f"summaries of different campaigns: seeds {head.first}+{head.seeds} in "
                f"{head.of} shards, and {part.first}+{part.seeds} in {part.of}")
    covered = Counter(i for part in parts for i in part.shards)
    twice = sorted(i for i, n in covered.items() if n > 1)
    if twice:
        raise SummaryError(f"shard {twice[0]}/{head.of} is given more than once")
    missing = [i for i in range(head.of) if i not in covered]
    if missing:
        raise SummaryError(f"shards missing: {', '.join(f'{i}/{head.of}' for i in missing)}")
    found: dict[str, Finding] = {}
    for f in (f for part in parts for f in part.findings):
        old = found.get(f.key)
        found[f.key] = f if old is None else attrs.evolve(
            old, count=old.count + f.count, first_seed=min(old.first_seed, f.first_seed))
    return Summary(
        head.first, head.seeds, head.of, tuple(range(head.of)),
        sum(p.count for p in parts), sum(p.attempts for p in parts),
        sum(p.transitions for p in parts), sum(p.sim_ns for p in parts),
        sum(p.wall_s for p in parts), sum(p.jobs for p in parts),
        _add(p.faults for p in parts), _add(p.outcomes for p in parts),
        _sorted(found.values()), sum(p.resampled for p in parts),
        tuple(sorted(s for p in parts for s in p.nondeterministic)))


def read_summary(path: Path) -> Summary:
    """The summary in the file `path`; SummaryError naming the file for anything else."""
    try:
        return Summary.from_json(strictjson.loads(path.read_bytes()))
    except OSError as exc:
        raise SummaryError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # SummaryError included
        raise SummaryError(f"{path}: {exc}") from None


def write_summary(path: Path, summary: Summary) -> None:
    """The summary as JSON in `path`, atomically; StorageError when it cannot be written."""
    try:
        fsutil.atomic_write(
            path, (json.dumps(summary.to_json(), indent=2, sort_keys=True) + "\n").encode())
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from None


def lines(summary: Summary) -> Iterator[str]:
    """The summary table `mode-sim campaign` and `campaign-merge` print."""
    s = summary
    sim_s = s.sim_ns / 1e9
    ranges = ", ".join(f"{lo}..{hi}" for lo, hi in s.seed_ranges()) or "none"
    shards = "" if s.of == 1 else (f", shard {s.shards[0]}/{s.of}" if len(s.shards) == 1
                                   else f", {len(s.shards)} of {s.of} shards")
    yield f"seeds run           {s.count} ({ranges}), {s.jobs} job(s){shards}"
    yield f"attempts            {s.attempts}"
    yield f"transitions         {s.transitions}"
    yield f"wall time           {s.wall_s:.1f} s   simulated {sim_s:.0f} s " \
          f"({sim_s / max(s.wall_s, 1e-9):.0f}x real time)"
    yield "faults injected by kind"
    for kind in FaultKind:
        yield f"  {kind.value:<24}{s.faults.get(kind.value, 0):>8}"
    yield "outcomes"
    for outcome, count in sorted(s.outcomes.items()):
        yield f"  {outcome:<24}{count:>8}"
    yield "violations"
    if not s.findings:
        yield "  none"
    for f in s.findings:
        yield f"  {f.key:<60}{f.count:>6}   first seed {f.first_seed}"
    yield f"determinism         {s.resampled} seed(s) re-run, " \
          f"{len(s.nondeterministic)} differ" + (
              f": {list(s.nondeterministic)[:10]}" if s.nondeterministic else "")
    yield f"exit                {int(s.exit_code)} ({s.exit_code.name.lower()})"


def _sorted(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: f.key))


def _add(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(sorted(total.items()))


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"{value!r} is not a count or a seed")
    return value


def _number(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise TypeError(f"{value!r} is not a duration")
    return float(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise TypeError("counts are not an object")
    return {_text(k): _int(v) for k, v in sorted(value.items())}
