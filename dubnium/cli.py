"""`mode`: the command line, and the composition root.

The only module that wires a concrete backend in, by name (`--backend host|sim`, env
`DUBNIUM_BACKEND`): the simulated host (`simulator/`, the embedded default where no
workstation is present) or the live host (`backends/`). Every verb prints one clear line on
error and exits with the code of `dubnium.codes.ExitCode` — never a traceback for a user
error. Mutating verbs on the host backend require root.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer

from dubnium import __version__, console, progress, readiness, readpath, render
from dubnium import cli_views as views
from dubnium.audit import DEFAULT_ROTATE_BYTES, FileAuditLog
from dubnium.backend import (
    Backend,
    BackendUnavailable,
    Clock,
    DubniumError,
    StateCorrupt,
    StorageError,
    iso_timestamp,
)
from dubnium.cli_types import JsonOpt, ModeArg, ModeChoice, OptModeArg, QuietOpt
from dubnium.codes import ExitCode
from dubnium.doctor import diagnose
from dubnium.guards import GuardReport
from dubnium.history import HistoryQuery, QueryError
from dubnium.idlecli import idle_app
from dubnium.journal_entries import JournalReporter
from dubnium.modes import Mode
from dubnium.observe import Observation
from dubnium.policy import DEFAULT_CONFIG_PATH, ConfigError, Policy, load_policy
from dubnium.reconcile import Outcome, Reconciler, Reporter, Result, read_record
from dubnium.records import AttemptRecord, to_json
from dubnium.state import DirectoryStore, LockBusy, RuntimeState
from dubnium.stopping import StopRequests
from dubnium.tuning import observer_backoff

SIM_STATE_DIR = Path("~/.local/state/dubnium/sim").expanduser()

app = typer.Typer(
    name="mode",
    cls=console.InterruptibleGroup,
    help="Switch this workstation between desktop, studio-local and compute, safely.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    # click 8.4+ suggests a verb for a typo itself; typer < 0.25 would add a second one.
    suggest_commands=not hasattr(click.exceptions, "NoSuchCommand"),
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(idle_app, name="idle")


class _Exit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ----------------------------------------------------------------------- composition


class Context:
    """What one invocation needs, built lazily from the global options."""

    def __init__(self, backend: str | None, state_dir: Path | None, config: Path | None) -> None:
        self.backend_name = backend or _default_backend()
        if self.backend_name not in ("sim", "host"):
            raise _Exit(ExitCode.USAGE, f"unknown backend {self.backend_name!r}; use sim or host")
        self._state_dir = state_dir
        self._config = config
        self._policy: Policy | None = None
        self._backend: Backend | None = None
        self._sim: Any = None  # the simulator session, when backend is sim
        self.mutated = False

    @property
    def is_sim(self) -> bool:
        return self.backend_name == "sim"

    @property
    def state_dir(self) -> Path:
        if self._state_dir is not None:
            return self._state_dir
        if self.is_sim:
            return SIM_STATE_DIR
        return Path(self.policy.paths.state_dir)

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            if self._config is not None:
                self._policy = load_policy(self._config)
            elif self.is_sim:
                self._policy = self._sim_session().policy
            else:
                self._policy = load_policy(DEFAULT_CONFIG_PATH)
        return self._policy

    def _sim_session(self) -> Any:
        if self._sim is None:
            session = _load_backend("sim", "SimSession")
            self._sim = session.open(self.state_dir, policy=self._policy)
        return self._sim

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            if self.is_sim:
                self._backend = self._sim_session().backend
            else:
                host_backend = _load_backend("host", "HostBackend")
                self._backend = host_backend(self.policy)
        return self._backend

    @property
    def runtime(self) -> RuntimeState:
        return RuntimeState(DirectoryStore(self.state_dir), str(self.state_dir))

    @property
    def audit(self) -> FileAuditLog:
        """The simulator's log lives beside its world; the host's where the policy says.
        Reading it needs no policy in the simulator (its size bound matters to writers,
        which have loaded the world, and with it the policy, by then)."""
        if self.is_sim:
            rotate = (DEFAULT_ROTATE_BYTES if self._sim is None and self._policy is None
                      else self.policy.audit.rotate_mib << 20)
            return FileAuditLog(self.state_dir / "events.jsonl", rotate)
        return FileAuditLog(Path(self.policy.paths.audit_log), self.policy.audit.rotate_mib << 20)

    def reconciler(self, reporter: Reporter | None = None,
                   stop: StopRequests | None = None) -> Reconciler:
        backend = self.backend  # in the simulator, loads the world and its policy first
        return Reconciler(backend, self.policy, self.runtime, self.audit, pid=os.getpid(),
                          reporter=reporter, stop=stop)

    def journal_reporter(self) -> Reporter | None:
        """The host journal's reporter (structured entries per attempt and step); the
        simulator's switches stay out of the journal. Used by the idle watcher too."""
        if self.is_sim:
            return None
        sink = _load_backend("journal", "JournalSink")()
        return JournalReporter(sink, self.backend.clock)

    def observe(self) -> tuple[Observation, dict[str, Any]]:
        """A live observation (the observer only) and its JSON."""
        return readpath.observe_json(self.backend, self.policy, self.runtime)

    def host_clock(self) -> Clock:
        """The real clock, without loading the host backend (a recorded answer needs no
        D-Bus)."""
        if self._backend is not None:
            return self._backend.clock
        clock: Clock = importlib.import_module("backends.clock").RealClock()
        return clock

    def require_root(self, verb: str) -> None:
        if not self.is_sim and os.geteuid() != 0:
            raise _Exit(
                ExitCode.PERMISSION_DENIED,
                f"mode {verb} changes the host and needs root (try: sudo mode {verb} ...)",
            )

    @contextlib.contextmanager
    def mutating(self, verb: str) -> Iterator[None]:
        """Around a verb that changes the host: the root check.

        On the host, a verb run from inside a logind session (a terminal of the desktop)
        is handed off to a transient unit: ending the session must not kill the controller.
        """
        self.require_root(verb)
        if not self.is_sim:
            from backends import handoff

            if handoff.inside_session() and not handoff.handed_off():
                env = {k: v for k, v in os.environ.items()
                       if k.startswith("DUBNIUM_") or k in _HANDOFF_ENV}
                # The `mode` script itself (a Nix wrapper sets up its own Python path); the
                # module form only when run as `python -m dubnium.cli`.
                script = os.path.abspath(sys.argv[0])
                head = ([script] if os.access(script, os.X_OK) and not script.endswith(".py")
                        else [sys.executable, "-m", "dubnium.cli"])
                argv = [*head, *sys.argv[1:]]
                raise _Exit(handoff.run_handed_off(argv, f"mode-{verb}-{os.getpid()}", env))
        self.runtime.write_generated(self.policy)
        # The simulated world is written through by its backend at every call (a killed
        # process leaves it half-done, as a machine); no lock is held across the verb.
        yield

    def timestamp(self) -> str:
        return iso_timestamp(self.backend.clock.wall_ns())


# What a handed-off verb keeps of the caller's environment (sudo has already reset it).
_HANDOFF_ENV = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL")

# The backends, by name: the domain never imports one; the CLI loads the one asked for.
BACKEND_MODULES = {"sim": "simulator.persist", "host": "backends.host",
                   "journal": "backends.journald", "windows": "backends.windows"}
# What the `host` extra of pyproject.toml brings (import names).
HOST_EXTRA_MODULES = ("pystemd", "pynvml")


def _load_backend(name: str, attribute: str) -> Any:
    try:
        module = importlib.import_module(BACKEND_MODULES[name])
    except ImportError as exc:
        if name == "host" and (exc.name or "").split(".")[0] in HOST_EXTRA_MODULES:
            raise BackendUnavailable(
                f"the host backend needs {exc.name}, which is not installed: install the host "
                "extra (pip install 'dubnium[host]'; on NixOS the mode-tools package has it)"
            ) from None
        raise BackendUnavailable(f"the {name} backend is not available: {exc}") from None
    return getattr(module, attribute)


def _default_backend() -> str:
    """The live host where Dubnium is installed (its config exists); else the simulator."""
    return "host" if DEFAULT_CONFIG_PATH.exists() else "sim"


def _ctx(tctx: typer.Context) -> Context:
    obj = tctx.obj
    assert isinstance(obj, Context)
    return obj


# stdout for results: a closed or full stdout after the work is done is remembered, reported
# as one line on stderr at the end, and does not change the verb's exit code.
OUTPUT = console.Output()


def _emit(as_json: bool, data: Mapping[str, Any], text: str) -> None:
    OUTPUT.echo(render.dumps(data) if as_json else text)


def _mode(text: str) -> Mode:
    try:
        return Mode.parse(text)
    except ValueError as exc:
        raise _Exit(ExitCode.USAGE, str(exc)) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mode (dubnium) {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    backend: Annotated[
        str | None,
        typer.Option("--backend", envvar="DUBNIUM_BACKEND",
                     help="host (the live workstation) or sim (the simulated one). "
                          "Default: host where /etc/dubnium/config.json exists, else sim."),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", envvar="DUBNIUM_STATE_DIR",
                     help="Runtime state directory (default: /run/mode-controller on the "
                          "host, ~/.local/state/dubnium/sim for the simulator)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="DUBNIUM_CONFIG",
                     help="Policy file (default: /etc/dubnium/config.json; the simulator "
                          "embeds its own)."),
    ] = None,
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """Switch this workstation between desktop, studio-local and compute, safely."""
    ctx.obj = Context(backend, state_dir, config)


# ----------------------------------------------------------------------- verbs


def _transition(ctx: Context, verb: str, as_json: bool, quiet: bool,
                run: Callable[[Reconciler], Result]) -> NoReturn:
    """Run one mutating verb with live progress on stderr; print its record; exit its code.

    SIGINT, SIGTERM and SIGHUP stop it at the next step boundary and roll it back."""
    stops = StopRequests()
    with stops.installed():
        with ctx.mutating(verb):
            clock = ctx.backend.clock
            terminal = progress.for_terminal(clock, quiet=quiet or as_json)
            reporters: list[Reporter] = [terminal]
            journal = ctx.journal_reporter()
            if journal is not None:
                reporters.append(journal)
            if ctx.is_sim:  # faults added with `mode-sim fault add` that wait for a step
                reporters.append(ctx._sim_session().step_hook())
            with terminal:
                result = run(ctx.reconciler(progress.Tee(reporters), stop=stops))
        stops.finished = True  # the record is written and the lock released
        _emit(as_json, render.record_json(to_json(result.record)),
              render.record_text(result.record, result.summary))
        if result.outcome is Outcome.INTERRUPTED:
            raise _Exit(result.exit_code, f"stopped by {result.record.signal}: rolled back "
                        f"to {result.record.final_state}; the lock is released")
        raise _Exit(result.exit_code)


@app.command()
def request(
    tctx: typer.Context,
    mode: ModeArg,
    dry_run_flag: Annotated[bool, typer.Option(
        "--dry-run", "-n", help="Print the plan a request would run now; change nothing.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask before the graphical session is ended.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Switch to MODE now: guarded, locked, synchronous; success only when observed.

    On a terminal, a switch that ends the graphical session first lists what will close and
    asks (--yes skips); scripts, units and callers without a terminal are never asked.
    """
    ctx = _ctx(tctx)
    target = _mode(mode)
    if dry_run_flag:
        _print_plan(ctx, target, as_json)
        return
    if not views.confirm_before_gui(ctx, target, yes=yes):
        raise _Exit(ExitCode.CANCELLED, "not switched: you said no; nothing was changed")
    _transition(ctx, "request", as_json, quiet,
                lambda rec: rec.request(target, by="mode request"))


@app.command()
def reconcile(
    tctx: typer.Context,
    mode: OptModeArg = None,
    target: Annotated[str | None, typer.Option(
        "--target", click_type=ModeChoice(), metavar="MODE",
        help="The same as MODE (kept for scripts).")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Converge the host to MODE, else to the desired mode."""
    ctx = _ctx(tctx)
    if mode and target and mode != target:
        raise _Exit(ExitCode.USAGE, f"MODE {mode!r} and --target {target!r} disagree")
    chosen = mode or target
    wanted = _mode(chosen) if chosen else None
    _transition(ctx, "reconcile", as_json, quiet, lambda rec: rec.reconcile(wanted))


@app.command()
def boot(tctx: typer.Context, as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Boot normalisation: desired becomes the boot default (desktop) and is reconciled."""
    _transition(_ctx(tctx), "boot", as_json, quiet, lambda rec: rec.boot())


@app.command()
def current(
    tctx: typer.Context,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Observe now, never the recorded answer; as root (what the observer "
                          "timer runs) or in the simulator, also rewrite the recorded current "
                          "files and the metrics textfile.")] = False,
    textfile: Annotated[Path | None, typer.Option(
        "--textfile", help="With --refresh: where the node-exporter textfile goes "
                           "(default: mode.prom in the state directory).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The current state, derived from evidence (never from desired).

    On the host, the recorded observation (written by the observer timer and every
    transition) is served while younger than timeouts.current_max_age_s; the JSON says its
    source and age. A live observation that writes nothing needs no root.
    """
    ctx = _ctx(tctx)
    if refresh and not ctx.is_sim:  # the observer timer's job: it backs off in studio-local
        recorded = ctx.runtime.read_current()
        why = observer_backoff(recorded, ctx.host_clock().wall_ns(), ctx.policy)
        if recorded is not None and why is not None:
            _emit(as_json, recorded, f"{recorded['observed_state']}\n{why}")
            raise _Exit(ExitCode.OK)
    data = None
    if not refresh and not ctx.is_sim:
        # The simulator's clock stands still between commands while `mode-sim` changes
        # its world: there a recorded answer's age says nothing, so it always observes.
        data = readpath.recorded_if_fresh(
            ctx.runtime.read_json("current.json"), ctx.host_clock().wall_ns(),
            ctx.policy.timeouts.current_max_age_s)
    if data is None:
        obs, live = ctx.observe()
        live = render.stamp(live)
        if refresh and (ctx.is_sim or os.geteuid() == 0):
            ctx.runtime.write_current(live)
            views.write_metrics(ctx, obs, textfile or ctx.state_dir / "mode.prom")
        data = readpath.observed(live, ctx.backend.clock.wall_ns())
    _emit(as_json, data, str(data["observed_state"]))
    if not as_json:
        for line in readpath.notes(data):
            OUTPUT.echo(line, err=True)
    raise _Exit(readpath.exit_code(data))


@app.command()
def desired(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The desired mode (intent), as last written by a request."""
    ctx = _ctx(tctx)
    runtime = ctx.runtime
    mode = runtime.read_desired()
    twin = runtime.read_json("desired.json")
    data = render.stamp({"desired": mode.value if mode else None, "record": twin})
    _emit(as_json, data, mode.value if mode else "none (no request since boot)")


@app.command()
def status(
    tctx: typer.Context,
    as_json: JsonOpt = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Exit 26 when the observed state is not the desired mode.")] = False,
    waybar: Annotated[bool, typer.Option(
        "--waybar", help="One JSON object for a waybar custom module (text, alt, tooltip, "
                         "class).")] = False,
) -> None:
    """Desired, observed, converged or not, the last attempt, placement, the lock."""
    ctx = _ctx(tctx)
    view = views.status_view(ctx)
    if waybar:
        OUTPUT.echo(json.dumps(view.waybar(), sort_keys=True))
    else:
        _emit(as_json, view.to_json(), view.text())
    if check and not view.converged:
        raise _Exit(ExitCode.DIVERGED)


def _print_plan(ctx: Context, target: Mode, as_json: bool) -> None:
    _, plan, _ = ctx.reconciler().preview(target)
    _emit(as_json, render.plan_json(plan), "\n".join(render.plan_lines(plan)))


@app.command(name="dry-run")
def dry_run(tctx: typer.Context, mode: ModeArg, as_json: JsonOpt = False) -> None:
    """Print the plan a request for MODE would run now, without running it."""
    _print_plan(_ctx(tctx), _mode(mode), as_json)


@app.command()
def explain(tctx: typer.Context, mode: OptModeArg = None, as_json: JsonOpt = False) -> None:
    """Why the host is in its current state; with MODE, the plan and live guard verdicts."""
    ctx = _ctx(tctx)
    rec = ctx.reconciler()
    if mode is None:
        _, obs = rec.observe()
        lines = [render.observation_text(obs), "signals:"]
        lines += [f"  {k}: {v}" for k, v in sorted(obs.signals.items())]
        _emit(as_json, render.stamp(obs.to_json(ctx.timestamp())), "\n".join(lines))
        return
    target = _mode(mode)
    obs, plan, reports = rec.preview(target)
    blocking = [v for r in reports for v in r.blocking]
    data = render.stamp({
        "observed_state": obs.state.value, "target": target.value,
        "current": obs.to_json(ctx.timestamp()), "plan": render.plan_json(plan),
        "guards": [render.report_json(r) for r in reports],
        "blocking": [v.guard.value for v in blocking],
    })
    lines = render.plan_lines(plan, reports)
    lines.append("would be blocked by: " + ", ".join(v.guard.value for v in blocking)
                 if blocking else "no guard blocks this request now")
    if target is Mode.STUDIO_LOCAL:  # the audio readiness report (issue 15)
        audio = readiness.report(ctx.backend.audio_readiness(), ctx.policy)
        data["audio_readiness"] = audio.to_json()
        lines += audio.lines()
    _emit(as_json, data, "\n".join(lines))


@app.command()
def guards(tctx: typer.Context, mode: ModeArg, as_json: JsonOpt = False) -> None:
    """Evaluate the guards a request for MODE would check; exit with the first block."""
    ctx = _ctx(tctx)
    target = _mode(mode)
    _, plan, reports = ctx.reconciler().preview(target)
    merged = GuardReport(target, tuple(v for r in reports for v in r.verdicts))
    lines = [f"guards for {target.value}:"] + (
        ["  none: already there"] if plan.noop else render.report_lines(merged, "")
    )
    _emit(as_json, render.report_json(merged), "\n".join(lines))
    raise _Exit(merged.exit_code)


@app.command()
def history(
    tctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N attempts.")] = 20,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only attempts finished at or after this time (ISO 8601, UTC; a date "
                        "alone is midnight).")] = None,
    outcome: Annotated[list[str] | None, typer.Option(
        "--outcome", help="Only attempts with this outcome (repeatable): "
                          + ", ".join(o.value for o in Outcome) + ".")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="JSON Lines: one transition record a line.")] = False,
) -> None:
    """The last transition attempts from the audit log (newest last)."""
    ctx = _ctx(tctx)
    try:
        query = HistoryQuery.parse(limit, since, outcome or [], (o.value for o in Outcome))
    except QueryError as exc:
        raise _Exit(ExitCode.USAGE, str(exc)) from None
    entries = query.select_from_end(ctx.audit.newest_first())
    if as_json:
        for e in entries:
            OUTPUT.echo(render.json_line(
                render.record_json(e.record) if e.record is not None else
                render.stamp({"segment": e.segment, "offset": e.offset, "raw": e.raw})))
        return
    lines = [render.history_line(e.record, e.where) for e in entries]
    OUTPUT.echo("\n".join(lines) or "no transitions recorded")


@app.command()
def cancel(tctx: typer.Context) -> None:
    """Cancel the running switch during its grace period, before the GUI goes (exit 0 when
    asked; the switch then ends `cancelled`, exit 27, with the host untouched)."""
    ctx = _ctx(tctx)
    ctx.require_root("cancel")
    lock = ctx.runtime.store.lock_held()
    attempt = (lock or {}).get("attempt")
    if not attempt:
        raise _Exit(ExitCode.OK, "nothing to cancel: no transition is running")
    ctx.runtime.request_cancel(str(attempt), ctx.timestamp(), f"mode cancel (uid {os.getuid()})")
    OUTPUT.echo(f"cancel requested for the switch to {lock.get('target') if lock else '?'} "
               f"(attempt {attempt}); it takes effect if the grace period has not ended")


@app.command(name="last-transition")
def last_transition(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The record of the last transition attempt."""
    ctx = _ctx(tctx)
    last = ctx.runtime.last_transition()
    if last is None:
        _emit(as_json, render.stamp({"record": None}), "no transition recorded")
        return
    record = read_record(last)
    if not isinstance(record, AttemptRecord):
        raise StateCorrupt("last-transition.json is not a transition record")
    _emit(as_json, render.record_json(last), render.last_transition_text(record))


@app.command()
def doctor(tctx: typer.Context, as_json: JsonOpt = False, audio: Annotated[bool, typer.Option(
        "--audio", help="The audio readiness report (exit 28 when a check fails).")] = False,
           ) -> None:
    """What this backend can observe, what it cannot and why; config and state health."""
    ctx = _ctx(tctx)
    if audio:
        ready = readiness.report(ctx.backend.audio_readiness(), ctx.policy)
        _emit(as_json, render.stamp(ready.to_json()), "\n".join(ready.lines()))
        raise _Exit(ExitCode.OK if ready.ready else ExitCode.AUDIO_NOT_READY)
    report = diagnose(ctx.backend, ctx.policy, ctx.runtime, ctx.audit, ctx.state_dir,
                      simulated=ctx.is_sim)
    _emit(as_json, render.stamp(report.data), report.text)
    raise _Exit(ExitCode.EVIDENCE_UNAVAILABLE if report.missing else ExitCode.OK)


# ----------------------------------------------------------------------- entry point


def _fail(code: int, message: str) -> NoReturn:
    if message:
        console.error("mode", message)
    OUTPUT.report("mode")
    raise SystemExit(int(code))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: map every error to one line and its exit code."""
    if "_MODE_COMPLETE" in os.environ:  # shell completion asks (scripts from dubnium.docgen)
        from typer._completion_classes import completion_init

        completion_init()
    try:
        code = app(args=argv, prog_name="mode", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version, completion
        raise SystemExit(exc.exit_code) from None
    except click.UsageError as exc:  # unknown verb, bad MODE, bad option: one line
        _fail(ExitCode.USAGE, console.usage_line(exc, "mode", "-h"))
    except click.Abort:  # Ctrl-C at a prompt
        _fail(ExitCode.ERROR, "aborted")
    except (KeyboardInterrupt, console.Interrupted):  # a switch handles its own signals
        _fail(ExitCode.INTERRUPTED, "interrupted before a switch started; nothing was changed")
    except _Exit as exc:
        _fail(exc.code, exc.message)
    except ConfigError as exc:
        _fail(ExitCode.CONFIG_INVALID, f"invalid config: {exc}")
    except StateCorrupt as exc:
        _fail(ExitCode.STATE_CORRUPT, f"corrupt state file: {exc}")
    except StorageError as exc:
        _fail(ExitCode.STORAGE_FAILED, f"storage failed: {exc}")
    except BackendUnavailable as exc:
        _fail(ExitCode.BACKEND_UNAVAILABLE, str(exc))
    except LockBusy as exc:
        _fail(ExitCode.LOCK_BUSY, str(exc))
    except DubniumError as exc:
        _fail(ExitCode.ERROR, str(exc))
    except BrokenPipeError:
        # The reader went away (a handed-off verb whose terminal was closed with the
        # session): the work and its records are done; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(int(ExitCode.ERROR)) from None
    _fail(code if isinstance(code, int) else 0, "")


if __name__ == "__main__":  # pragma: no cover
    main()
