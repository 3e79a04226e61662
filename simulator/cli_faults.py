"""`mode-sim` verbs for faults and campaigns: `fault add|list|clear` on the saved world,
and `campaign`, `campaign-merge`, `idle-campaign` and `replay`, thin layers over
`simulator.campaign`, `simulator.shards` and `simulator.idle_campaign` (their exit codes:
`simulator.campaign.CampaignExit`; they need no world file, but `replay --keep-world` leaves
its final world in the state directory).

Registered by `simulator.cli`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dubnium.codes import ExitCode
from simulator.cli_common import OUTPUT, errors, fail, world_file
from simulator.faults import Fault, FaultKind
from simulator.persist import WorldFile

if TYPE_CHECKING:
    from simulator.campaign import Run

fault_app = typer.Typer(
    help="Faults on the persisted world, as the campaigns inject them (add, list, clear).",
    no_args_is_help=True)


@fault_app.command("add")
def fault_add(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="A fault kind: " + ", ".join(
        k.value for k in FaultKind) + ".")],
    params: Annotated[list[str] | None, typer.Argument(
        help="key=value parameters, as in a fault plan (docs/simulator.md).")] = None,
) -> None:
    """Add one fault to the world: applied at once, or armed for a moment of the next `mode`
    process (after N observations or before step N; a controller kill is a real SIGKILL)."""
    from simulator import shellfaults

    file = world_file(ctx)
    with errors():
        try:
            the_kind = FaultKind(kind)
        except ValueError:
            raise ValueError(f"unknown fault kind {kind!r}; one of: "
                             + ", ".join(k.value for k in FaultKind)) from None
        the_fault = Fault(the_kind, shellfaults.parse_params(params or []))
        with file.locked():
            world = file.load()
            faults = shellfaults.ShellFaults.load(file.state_dir)
            message = faults.add(world, the_fault, file.state_dir)
            file.save(world)
            faults.save()
    OUTPUT.echo(message)


@fault_app.command("list")
def fault_list(ctx: typer.Context) -> None:
    """The faults added to the world, and the armed ones still waiting."""
    from simulator import shellfaults

    with errors():
        lines = shellfaults.ShellFaults.load(world_file(ctx).state_dir).listing()
    OUTPUT.echo("\n".join(lines) or "no faults")


@fault_app.command("clear")
def fault_clear(ctx: typer.Context) -> None:
    """Heal what can be healed and disarm the rest (what is physically stuck stays stuck)."""
    from simulator import shellfaults

    file = world_file(ctx)
    with errors(), file.locked():
        world = file.load()
        faults = shellfaults.ShellFaults.load(file.state_dir)
        message = faults.clear(world)
        file.save(world)
        faults.save()
    OUTPUT.echo(message)


def idle_campaign(
    seeds: Annotated[int, typer.Option(min=1, help="How many seeds (0..N-1).")] = 200,
    first: Annotated[int, typer.Option(min=0, help="The first seed.")] = 0,
    ops: Annotated[int, typer.Option(min=1, help="Operations per seed.")] = 60,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Automation ops against the idle watcher; exit 40 if automation ever starts compute
    from studio-local, under an inhibitor lock or during a pause (simulator/idle_campaign.py)."""
    from simulator.idle_campaign import run_idle_campaign, summary

    result = summary(run_idle_campaign(range(first, first + seeds), ops))
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        typer.echo(f"{result['seeds']} seeds, {result['ops']} ops: "
                   f"{result['automatic_requests']} automatic requests "
                   f"({result['promotions']} promotions, {result['wakes']} wakes), "
                   f"{len(result['violations'])} violation(s)")
        for v in result["violations"][:20]:
            typer.echo(f"  seed {v['seed']} op {v['op_index']}: {v['rule']}: {v['detail']}")
    raise typer.Exit(40 if result["violations"] else 0)


def _shard(text: str) -> tuple[int, int]:
    index, sep, total = text.partition("/")
    if not sep or not index.isdigit() or not total.isdigit():
        raise typer.BadParameter(f"expected i/n, got {text!r}")
    return int(index), int(total)


def campaign(
    seeds: Annotated[int, typer.Option(min=1, max=10**8, help="How many seeds (from --first).")],
    jobs: Annotated[int, typer.Option(min=1, max=256, help="Parallel processes.")] = 1,
    shard: Annotated[str, typer.Option(
        help="Run only shard i of n of the seed range (contiguous), e.g. 3/10.")] = "0/1",
    first: Annotated[int, typer.Option(min=0, max=2**63, help="The first seed.")] = 0,
    sample_every: Annotated[int, typer.Option(
        min=0, help="Re-run every K-th seed in a fresh interpreter and compare its trace "
        "(0: no determinism check).")] = 100,
    summary: Annotated[Path | None, typer.Option(
        help="Also write the summary as JSON here (for campaign-merge).")] = None,
) -> None:
    """Run fault plans drawn from seeds; print a summary; exit 40 safety, 41 liveness,
    42 crash, 43 nondeterministic trace (the worst found), 0 when all is well."""
    from simulator.campaign import run_campaign, shard_range
    from simulator.shards import Summary, lines, write_summary

    try:
        which = _shard(shard)
        todo = shard_range(seeds, which, first)
    except ValueError as exc:
        fail(ExitCode.USAGE, str(exc))
    result = run_campaign(todo, jobs=jobs, sample_every=sample_every)
    found = Summary.of_result(result, first=first, seeds=seeds, shard=which)
    if summary is not None:
        with errors():
            write_summary(summary, found)
    for line in lines(found):
        OUTPUT.echo(line)
    bad = [r for r in result.results if r.verdict or r.crash]
    for r in bad[:20]:
        what = r.violations[0].rule if r.violations else "crash"
        OUTPUT.echo(f"seed {r.seed}: {r.verdict.name.lower()} ({what}); "
                   f"replay: mode-sim replay --seed {r.seed}")
    raise typer.Exit(int(found.exit_code))


def campaign_merge(
    files: Annotated[list[Path], typer.Argument(help="Shard summaries (campaign --summary).")],
    out: Annotated[Path | None, typer.Option(help="Also write the merged summary here.")]
    = None,
) -> None:
    """Merge the shard summaries of one campaign (every shard exactly once); print the
    summary; exit like `campaign` for the whole range."""
    from simulator.shards import SummaryError, lines, merge, read_summary, write_summary

    try:
        merged = merge(read_summary(path) for path in files)
    except SummaryError as exc:
        fail(ExitCode.USAGE, str(exc))
    if out is not None:
        with errors():
            write_summary(out, merged)
    for line in lines(merged):
        OUTPUT.echo(line)
    raise typer.Exit(int(merged.exit_code))


def replay(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(help="The seed whose drawn plan to run.")] = None,
    plan: Annotated[Path | None, typer.Option(
        help="A fault plan (JSON) to run instead of drawing one.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the trace here (default: stdout).")]
    = None,
    keep_world: Annotated[bool, typer.Option(
        "--keep-world", help="Leave the final world, runtime state and audit log in the "
                             "state directory, for mode status, current and history.")] = False,
) -> None:
    """Run one seed (or plan) and write its JSON-lines trace: the header holds the seed and
    the plan; the same seed writes the same bytes. Exits like `campaign` for that one run."""
    from simulator.campaign import Run, TraceWriter
    from simulator.faults import draw_plan
    from simulator.plancheck import load_plan

    if (seed is None) == (plan is None):
        fail(ExitCode.USAGE, "give exactly one of --seed and --plan")
    with errors():
        the_plan = (draw_plan(seed) if seed is not None
                    else load_plan(Path(str(plan))))
    trace = TraceWriter(keep=True)
    run = Run(the_plan, trace)
    result = run.run()
    if keep_world:
        with errors():
            _keep(world_file(ctx), run)
    text = "".join(line + "\n" for line in trace.lines)
    if out is None:
        OUTPUT.echo(text.rstrip("\n"))
    else:
        out.write_text(text)
    raise typer.Exit(int(result.verdict))


def _keep(file: WorldFile, run: Run) -> None:
    """A replay's final world, runtime state files and audit log, into the state directory
    (what was there is replaced; the controller's lock record is not carried over)."""
    from dubnium import fsutil
    from dubnium.state import LOCK
    from simulator.shellfaults import FAULTS_FILE

    fsutil.ensure_dir(file.state_dir)
    with file.locked():
        file.save(run.station.world)
        for name, data in run.store.files.items():
            if name != LOCK and "/" not in name and not name.startswith("."):
                fsutil.atomic_write(file.state_dir / name, data)
        lines = "".join(line + "\n" for line in run.station.audit.lines)
        fsutil.atomic_write(file.state_dir / "events.jsonl", lines.encode())
        (file.state_dir / FAULTS_FILE).unlink(missing_ok=True)
