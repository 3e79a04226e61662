"""`mode-sim`: create and change the simulated workstation from the shell.

A thin typer layer over `simulator.world.World` and `simulator.persist.WorldFile`: each verb
loads the world from `--state-dir`, calls one world method, and saves it. The `mode` CLI
(with `--backend sim`) drives the same world file. Errors are one line on stderr with a
stable exit code from `dubnium.codes.ExitCode` (usage 2, backend unavailable 4, config
invalid 6, state corrupt 7), never a traceback. `campaign` and `replay` are thin verbs over
`simulator.campaign` (their exit codes: `simulator.campaign.CampaignExit`); they need no
world file.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from dubnium import console
from dubnium.backend import (
    BackendError,
    BackendUnavailable,
    DubniumError,
    StateCorrupt,
    StorageError,
)
from dubnium.codes import ExitCode
from dubnium.policy import ConfigError, load_policy
from simulator.faults import Fault, FaultKind
from simulator.gpu import ReleaseKind
from simulator.persist import WorldFile, world_json_text
from simulator.world import World, WorldError

DEFAULT_STATE_DIR = Path("~/.local/state/dubnium/sim")

app = typer.Typer(
    cls=console.InterruptibleGroup,
    name="mode-sim",
    help="Create and change the simulated Dubnium workstation (the world `mode` drives).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
audio_app = typer.Typer(help="Audio streams (PipeWire).", no_args_is_help=True)
jack_app = typer.Typer(help="JACK clients.", no_args_is_help=True)
reaper_app = typer.Typer(help="The REAPER process.", no_args_is_help=True)
session_app = typer.Typer(help="logind sessions.", no_args_is_help=True)
job_app = typer.Typer(help="Long-running user jobs (builds).", no_args_is_help=True)
gpu_app = typer.Typer(help="GPU behaviour.", no_args_is_help=True)
load_app = typer.Typer(help="CPU load.", no_args_is_help=True)
memory_app = typer.Typer(help="RAM.", no_args_is_help=True)
fault_app = typer.Typer(
    help="Faults on the persisted world, as the campaigns inject them (add, list, clear).",
    no_args_is_help=True)
seat_app = typer.Typer(help="The seat's idle side: idle hints, inhibitor locks, console keys, "
                            "applications (idle automation).", no_args_is_help=True)
for _name, _sub in (("fault", fault_app), ("seat", seat_app), ("audio", audio_app),
                    ("jack", jack_app),
                    ("reaper", reaper_app), ("session", session_app), ("job", job_app),
                    ("gpu", gpu_app),
                    ("load", load_app), ("memory", memory_app)):
    app.add_typer(_sub, name=_name)


class SessionType(StrEnum):
    WAYLAND = "wayland"
    X11 = "x11"
    TTY = "tty"


@app.callback()
def _root(
    ctx: typer.Context,
    state_dir: Annotated[Path, typer.Option(
        "--state-dir", envvar="DUBNIUM_STATE_DIR",
        help="Where the world file (sim-world.json) lives.")] = DEFAULT_STATE_DIR,
) -> None:
    ctx.obj = WorldFile(state_dir.expanduser())


# --------------------------------------------------------------------------- argument checks
# Every number is finite and bounded and every name printable and short, before the world
# is touched: `advance 1e30` or `--delay-s nan` once broke every later verb.

MAX_ADVANCE_S = 365 * 86400.0
MAX_DELAY_S = 86400.0
MAX_MIB = 1 << 24  # 16 TiB in MiB
MAX_LOAD = 1e6
MAX_NAME = 64


def _finite(low: float, high: float) -> Callable[[float | None], float | None]:
    def check(value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise typer.BadParameter(f"expected a finite number from {low:g} to {high:g}, "
                                     f"got {value!r}")
        return value

    return check


def _checked_name(value: str) -> str:
    if not value or len(value) > MAX_NAME or not value.isprintable() or "/" in value:
        raise typer.BadParameter(f"expected a name of 1 to {MAX_NAME} printable characters "
                                 "without '/'")
    return value


Name = Annotated[str, typer.Argument(callback=_checked_name)]


def _file(ctx: typer.Context) -> WorldFile:
    obj = ctx.find_root().obj
    assert isinstance(obj, WorldFile)
    return obj


# Results on stdout; a closed or full stdout is one line on stderr, not a traceback.
OUTPUT = console.Output()


def _fail(code: ExitCode, message: str) -> NoReturn:
    console.error("mode-sim", message)
    raise typer.Exit(int(code))


@contextmanager
def _errors() -> Iterator[None]:
    """Map Dubnium's errors to one line and their exit code."""
    try:
        yield
    except ConfigError as exc:  # a ValueError: first
        _fail(ExitCode.CONFIG_INVALID, str(exc))
    except (WorldError, ValueError) as exc:
        _fail(ExitCode.USAGE, str(exc))
    except StateCorrupt as exc:
        _fail(ExitCode.STATE_CORRUPT, str(exc))
    except StorageError as exc:
        _fail(ExitCode.STORAGE_FAILED, str(exc))
    except BackendUnavailable as exc:
        _fail(ExitCode.BACKEND_UNAVAILABLE, str(exc))
    except (BackendError, DubniumError, OSError) as exc:
        _fail(ExitCode.ERROR, str(exc))


def _change(ctx: typer.Context, action: Callable[[World], str]) -> None:
    """Load the world, apply `action`, save, print what it says."""
    file = _file(ctx)
    with _errors(), file.locked():
        world = file.load()
        message = action(world)
        file.save(world)
    OUTPUT.echo(message)


# --------------------------------------------------------------------------- verbs


@app.command()
def create(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(min=0, max=2**64 - 1, help="The root seed.")] = 0,
    gpus: Annotated[int | None, typer.Option(
        min=1, max=2, help="1 or 2 GPUs (default: the policy's count, 2).")] = None,
    config: Annotated[Path | None, typer.Option(
        help="Policy file (JSON, the /etc/dubnium/config.json schema).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing world.")] = False,
) -> None:
    """Create a world booted to desktop: the owner's session up, the compositor on GPU 0."""
    file = _file(ctx)
    with _errors(), file.locked():
        if file.exists() and not force:
            raise WorldError(f"a simulated world already exists at {file.path}; "
                             "use --force to replace it")
        policy = load_policy(config) if config is not None else None
        world = World.create(seed, gpus=gpus, policy=policy)
        file.save(world)
    OUTPUT.echo(f"created world (seed {seed}, {len(world.gpus)} GPU(s)) at {file.path}")


@audio_app.command("start")
def audio_start(ctx: typer.Context, name: Name) -> None:
    """An application starts playing audio."""
    _change(ctx, lambda w: f"audio stream {name} playing (pid {w.start_audio_stream(name)})")


@audio_app.command("stop")
def audio_stop(ctx: typer.Context, name: Name) -> None:
    """The application playing NAME exits."""
    def act(w: World) -> str:
        w.stop_audio_stream(name)
        return f"audio stream {name} stopped"

    _change(ctx, act)


@jack_app.command("start")
def jack_start(ctx: typer.Context, name: Name) -> None:
    """A JACK client starts."""
    _change(ctx, lambda w: f"JACK client {name} running (pid {w.start_jack_client(name)})")


@jack_app.command("stop")
def jack_stop(ctx: typer.Context, name: Name) -> None:
    """The JACK client NAME exits."""
    def act(w: World) -> str:
        w.stop_jack_client(name)
        return f"JACK client {name} stopped"

    _change(ctx, act)


@reaper_app.command("start")
def reaper_start(ctx: typer.Context) -> None:
    """REAPER starts."""
    _change(ctx, lambda w: f"REAPER running (pid {w.start_reaper()})")


@reaper_app.command("stop")
def reaper_stop(ctx: typer.Context) -> None:
    """REAPER exits."""
    def act(w: World) -> str:
        w.stop_reaper()
        return "REAPER stopped"

    _change(ctx, act)


@session_app.command("add")
def session_add(
    ctx: typer.Context,
    type_: Annotated[SessionType, typer.Option("--type")] = SessionType.TTY,
    user: Annotated[str, typer.Option(callback=_checked_name)] = "owner",
) -> None:
    """Someone logs in (tty/ssh, or a second graphical session)."""
    _change(ctx, lambda w: f"session {w.add_session(type_.value, user)} ({type_.value}, {user})")


@session_app.command("remove")
def session_remove(
    ctx: typer.Context, session_id: Annotated[str, typer.Argument(metavar="ID")],
) -> None:
    """The session ID ends now (its processes exit)."""
    def act(w: World) -> str:
        w.remove_session(session_id)
        return f"session {session_id} removed"

    _change(ctx, act)


@job_app.command("add")
def job_add(
    ctx: typer.Context,
    comm: Name,
    runtime_s: Annotated[float, typer.Option(
        help="How long it has been running.", callback=_finite(0, 10 * MAX_ADVANCE_S))] = 3600.0,
) -> None:
    """A long-running user job (e.g. cargo) that started RUNTIME_S seconds ago."""
    _change(ctx, lambda w: f"user job {comm} running (pid {w.add_user_job(comm, runtime_s)})")


@job_app.command("remove")
def job_remove(ctx: typer.Context, comm: Name) -> None:
    """Every user job called COMM ends."""
    def act(w: World) -> str:
        w.remove_user_job(comm)
        return f"user job {comm} ended"

    _change(ctx, act)


@gpu_app.command("release")
def gpu_release(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(min=0, max=63)],
    behaviour: ReleaseKind,
    delay_s: Annotated[float, typer.Option(
        help="delayed: seconds until freed.", callback=_finite(0, MAX_DELAY_S))] = 5.0,
    residual_mib: Annotated[int, typer.Option(
        min=0, max=MAX_MIB, help="partial: MiB that stay held.")] = 512,
) -> None:
    """How GPU INDEX releases the compositor's memory when it exits."""
    def act(w: World) -> str:
        value = w.set_gpu_release(index, behaviour, delay_s=delay_s, residual_mib=residual_mib)
        detail = {ReleaseKind.DELAYED: f" after {value.delay_s} s",
                  ReleaseKind.PARTIAL: f", {value.residual_mib} MiB stay"}.get(value.kind, "")
        return f"GPU {index} releases {value.kind.value}{detail}"

    _change(ctx, act)


@load_app.command("set")
def load_set(
    ctx: typer.Context,
    load1: Annotated[float, typer.Argument(callback=_finite(0, MAX_LOAD))],
    load5: Annotated[float | None, typer.Option(callback=_finite(0, MAX_LOAD))] = None,
    load15: Annotated[float | None, typer.Option(callback=_finite(0, MAX_LOAD))] = None,
    cpus: Annotated[int | None, typer.Option(min=1, max=4096)] = None,
) -> None:
    """Set the load averages (5 and 15 follow LOAD1 unless given)."""
    def act(w: World) -> str:
        w.set_load(load1, load5, load15, cpus)
        load = w.host.load
        return f"load {load.load1} {load.load5} {load.load15} on {load.cpus} CPUs"

    _change(ctx, act)


@memory_app.command("fill")
def memory_fill(
    ctx: typer.Context, mib: Annotated[int, typer.Argument(min=0, max=MAX_MIB)],
) -> None:
    """Something takes MIB of RAM."""
    def act(w: World) -> str:
        w.fill_memory(mib)
        return f"{w.host.memory.available_mib} MiB of {w.host.memory.total_mib} available"

    _change(ctx, act)


@memory_app.command("set")
def memory_set(
    ctx: typer.Context, available_mib: Annotated[int, typer.Argument(min=0, max=MAX_MIB)],
) -> None:
    """Set the available RAM."""
    def act(w: World) -> str:
        w.set_memory(available_mib)
        return f"{w.host.memory.available_mib} MiB of {w.host.memory.total_mib} available"

    _change(ctx, act)


@seat_app.command("idle-hint")
def seat_idle_hint(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(metavar="on|off")],
    session: Annotated[str | None, typer.Option(help="One session (default: every "
                                                     "graphical one).")] = None,
) -> None:
    """The idle daemon sets (on) or input clears (off) logind's IdleHint."""
    if value not in ("on", "off"):
        _fail(ExitCode.USAGE, f"idle-hint takes on or off, not {value!r}")
    _change(ctx, lambda w: f"IdleHint={'yes' if value == 'on' else 'no'} on session(s) "
                           f"{', '.join(w.seat.set_idle_hint(value == 'on', session))}")


@seat_app.command("inhibit")
def seat_inhibit(
    ctx: typer.Context,
    who: Annotated[str, typer.Argument(help="The holder's name (systemd-inhibit --who).")],
    what: Annotated[str, typer.Option(help="Kinds, colon-separated: idle, sleep, "
                                           "shutdown...")] = "idle",
    why: Annotated[str, typer.Option()] = "",
    mode: Annotated[str, typer.Option(help="block or delay")] = "block",
) -> None:
    """WHO takes a logind inhibitor lock (like `systemd-inhibit --what=idle sleep 600`)."""
    _change(ctx, lambda w: f"{who} holds {what} ({mode}), pid "
                           f"{w.seat.take_inhibitor(what, who, why, mode)}")


@seat_app.command("release")
def seat_release(ctx: typer.Context, who: str) -> None:
    """WHO releases its inhibitor locks."""
    def act(w: World) -> str:
        w.seat.release_inhibitor(who)
        return f"{who} released its inhibitor locks"

    _change(ctx, act)


@seat_app.command("key")
def seat_key(ctx: typer.Context) -> None:
    """Someone presses a key at the seat (console tty; clears graphical idle hints)."""
    def act(w: World) -> str:
        w.seat.press_key()
        return f"key pressed at t = {w.now_ns / 1e9:.3f} s"

    _change(ctx, act)


@seat_app.command("app-start")
def seat_app_start(ctx: typer.Context, comm: str) -> None:
    """An application (e.g. an exclusive one: a game, REAPER) starts."""
    _change(ctx, lambda w: f"{comm} started, pid {w.seat.start_app(comm)}")


@seat_app.command("app-stop")
def seat_app_stop(ctx: typer.Context, comm: str) -> None:
    """The application COMM exits."""
    def act(w: World) -> str:
        w.seat.stop_app(comm)
        return f"{comm} stopped"

    _change(ctx, act)


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

    file = _file(ctx)
    with _errors():
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

    with _errors():
        lines = shellfaults.ShellFaults.load(_file(ctx).state_dir).listing()
    OUTPUT.echo("\n".join(lines) or "no faults")


@fault_app.command("clear")
def fault_clear(ctx: typer.Context) -> None:
    """Heal what can be healed and disarm the rest (what is physically stuck stays stuck)."""
    from simulator import shellfaults

    file = _file(ctx)
    with _errors(), file.locked():
        world = file.load()
        faults = shellfaults.ShellFaults.load(file.state_dir)
        message = faults.clear(world)
        file.save(world)
        faults.save()
    OUTPUT.echo(message)


@app.command()
def model(
    ctx: typer.Context,
    seeded: Annotated[bool, typer.Argument(
        help="true: the configured vLLM model is in the model store; false: it is not.")],
) -> None:
    """Seed or remove the configured vLLM model (docs/runbooks/model-seeding.md)."""
    def act(w: World) -> str:
        w.set_model(seeded=seeded)
        return f"model {w.policy.vllm.model}: {'seeded' if seeded else 'not in the model store'}"

    _change(ctx, act)


@app.command()
def advance(
    ctx: typer.Context,
    seconds: Annotated[float, typer.Argument(callback=_finite(0, MAX_ADVANCE_S))],
) -> None:
    """Let SECONDS of virtual time pass (pending jobs, logins, releases happen)."""
    def act(w: World) -> str:
        count = w.advance(seconds)
        return f"t = {w.now_ns / 1e9:.3f} s ({count} event(s) ran)"

    _change(ctx, act)


@app.command()
def reboot(ctx: typer.Context) -> None:
    """Reboot: every process gone, the boot target started, runtime state lost."""
    def act(w: World) -> str:
        w.reboot()
        return f"rebooted (boot {w.boot_count}, boot id {w.boot_id})"

    _change(ctx, act)


@app.command()
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The whole world.")] = False,
) -> None:
    """Print the world: a summary, or with --json everything (pending events included)."""
    file = _file(ctx)
    with _errors():
        world = file.load()
    if as_json:
        OUTPUT.echo(world_json_text(world))
        return
    for key, value in world.summary().items():
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        OUTPUT.echo(f"{key}: {text or '-'}")


# --------------------------------------------------------------------------- campaigns


@app.command(name="idle-campaign")
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


@app.command()
def campaign(
    seeds: Annotated[int, typer.Option(min=1, max=10**8, help="How many seeds (from --first).")],
    jobs: Annotated[int, typer.Option(min=1, max=256, help="Parallel processes.")] = 1,
    shard: Annotated[str, typer.Option(
        help="Run only shard i of n of the seed range (contiguous), e.g. 3/10.")] = "0/1",
    first: Annotated[int, typer.Option(min=0, max=2**63, help="The first seed.")] = 0,
    sample_every: Annotated[int, typer.Option(
        min=0, help="Re-run every K-th seed in a fresh interpreter and compare its trace "
        "(0: no determinism check).")] = 100,
) -> None:
    """Run fault plans drawn from seeds; print a summary; exit 40 safety, 41 liveness,
    42 crash, 43 nondeterministic trace (the worst found), 0 when all is well."""
    from simulator.campaign import format_summary, run_campaign, shard_range

    try:
        todo = shard_range(seeds, _shard(shard), first)
    except ValueError as exc:
        _fail(ExitCode.USAGE, str(exc))
    result = run_campaign(todo, jobs=jobs, sample_every=sample_every)
    for line in format_summary(result):
        OUTPUT.echo(line)
    bad = [r for r in result.results if r.verdict or r.crash]
    for r in bad[:20]:
        what = r.violations[0].rule if r.violations else "crash"
        OUTPUT.echo(f"seed {r.seed}: {r.verdict.name.lower()} ({what}); "
                   f"replay: mode-sim replay --seed {r.seed}")
    raise typer.Exit(int(result.exit_code))


@app.command()
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
        _fail(ExitCode.USAGE, "give exactly one of --seed and --plan")
    with _errors():
        the_plan = (draw_plan(seed) if seed is not None
                    else load_plan(Path(str(plan))))
    trace = TraceWriter(keep=True)
    run = Run(the_plan, trace)
    result = run.run()
    if keep_world:
        with _errors():
            _keep(_file(ctx), run)
    text = "".join(line + "\n" for line in trace.lines)
    if out is None:
        OUTPUT.echo(text.rstrip("\n"))
    else:
        out.write_text(text)
    raise typer.Exit(int(result.verdict))


def _keep(file: WorldFile, run: Any) -> None:
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


def main(argv: list[str] | None = None) -> None:
    """The console script `mode-sim`."""
    try:
        code = console.run(app, argv, "mode-sim")
    except SystemExit:
        raise
    except Exception as exc:  # a bug: still one line, never a traceback
        console.error("mode-sim", f"internal error: {type(exc).__name__}: {exc}")
        sys.exit(int(ExitCode.ERROR))
    OUTPUT.report("mode-sim")
    sys.exit(code)
