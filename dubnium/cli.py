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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from dubnium.audit import AuditLog, FileAuditLog
from dubnium.backend import (
    Backend,
    BackendUnavailable,
    DubniumError,
    StateCorrupt,
    iso_timestamp,
)
from dubnium.codes import ExitCode
from dubnium.facts import Unavailable
from dubnium.guards import PHASES, GuardReport, Phase
from dubnium.modes import Mode
from dubnium.observe import Observation
from dubnium.policy import DEFAULT_CONFIG_PATH, ConfigError, Policy, load_policy
from dubnium.reconcile import Reconciler, Result
from dubnium.state import DirectoryStore, LockBusy, RuntimeState

SIM_STATE_DIR = Path("~/.local/state/dubnium/sim").expanduser()

app = typer.Typer(
    name="mode",
    help="Switch this workstation between desktop, studio-local and compute, safely.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    def audit(self) -> AuditLog:
        """The simulator's log lives beside its world; the host's where the policy says."""
        if self.is_sim:
            return FileAuditLog(self.state_dir / "events.jsonl")
        return FileAuditLog(Path(self.policy.paths.audit_log))

    def reconciler(self) -> Reconciler:
        return Reconciler(self.backend, self.policy, self.runtime, self.audit, pid=os.getpid())

    def require_root(self, verb: str) -> None:
        if not self.is_sim and os.geteuid() != 0:
            raise _Exit(
                ExitCode.PERMISSION_DENIED,
                f"mode {verb} changes the host and needs root (try: sudo mode {verb} ...)",
            )

    @contextlib.contextmanager
    def mutating(self, verb: str) -> Iterator[None]:
        """Around a verb that changes the host: root check; the sim world saved after.

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
        if self.is_sim:
            session = self._sim_session()
            with session.exclusive():
                yield
                session.save()
        else:
            yield

    def timestamp(self) -> str:
        return iso_timestamp(self.backend.clock.wall_ns())


# What a handed-off verb keeps of the caller's environment (sudo has already reset it).
_HANDOFF_ENV = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL")

# The backends, by name: the domain never imports one; the CLI loads the one asked for.
BACKEND_MODULES = {"sim": "simulator.persist", "host": "backends.host"}


def _load_backend(name: str, attribute: str) -> Any:
    try:
        module = importlib.import_module(BACKEND_MODULES[name])
    except ImportError as exc:
        raise BackendUnavailable(f"the {name} backend is not available: {exc}") from None
    return getattr(module, attribute)


def _default_backend() -> str:
    """The live host where Dubnium is installed (its config exists); else the simulator."""
    return "host" if DEFAULT_CONFIG_PATH.exists() else "sim"


def _ctx(tctx: typer.Context) -> Context:
    obj = tctx.obj
    assert isinstance(obj, Context)
    return obj


def _emit(as_json: bool, data: Mapping[str, Any] | list[Any], text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        typer.echo(text)


def _mode(text: str) -> Mode:
    try:
        return Mode.parse(text)
    except ValueError as exc:
        raise _Exit(ExitCode.USAGE, str(exc)) from None


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


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
) -> None:
    """Switch this workstation between desktop, studio-local and compute, safely."""
    ctx.obj = Context(backend, state_dir, config)


# ----------------------------------------------------------------------- rendering


def _observation_text(obs: Observation) -> str:
    lines = [f"{obs.state.value} (confidence {obs.confidence.value})"]
    lines += [f"  conflict: {c}" for c in obs.conflicts]
    missing = obs.evidence.get("unavailable") or {}
    lines += [f"  unavailable: {k}: {v}" for k, v in missing.items()]
    return "\n".join(lines)


def _result_text(result: Result) -> str:
    record = result.record
    lines = [f"{result.outcome.value}: {result.summary}"]
    for step in record.get("steps", []):
        mark = "ok " if step["status"] == "ok" else "ERR"
        lines.append(f"  [{mark}] {step['leg']}: {step['step']} -> {step['detail']}")
    for verdict in record.get("guards", []):
        if verdict["status"] != "pass":
            lines.append(f"  guard {verdict['guard']} ({verdict['severity']}): "
                         f"{verdict['status']} [{verdict['exit_code']}] {verdict['reason']}")
    if "final_state" in record:
        lines.append(f"  observed now: {record['final_state']}")
    return "\n".join(lines)


def _report_text(report: GuardReport, leg: str) -> list[str]:
    lines = []
    for v in report.verdicts:
        phase = PHASES[v.guard]
        lines.append(f"  {leg} {v.guard.value:30} {v.severity.value:4} {v.status.value:5} "
                     f"[{v.exit_code:2}] {v.reason}" + (
                         " (checked after the GUI is gone)" if phase is Phase.POST else ""))
    return lines


def _current_exit(obs: Observation) -> int:
    """0 only for a mode seen with all evidence read; otherwise say what is missing."""
    if obs.degraded:
        return ExitCode.DEGRADED
    if obs.evidence.get("unavailable"):
        return ExitCode.EVIDENCE_UNAVAILABLE
    if obs.state.mode is not None:
        return ExitCode.OK
    return ExitCode.NOT_CONVERGED


# ----------------------------------------------------------------------- verbs


@app.command()
def request(
    tctx: typer.Context,
    mode: Annotated[str, typer.Argument(help="desktop, studio-local or compute")],
    as_json: JsonOpt = False,
) -> None:
    """Switch to MODE now: guarded, locked, synchronous; success only when observed."""
    ctx = _ctx(tctx)
    target = _mode(mode)
    with ctx.mutating("request"):
        result = ctx.reconciler().request(target, by="mode request")
    _emit(as_json, dict(result.record), _result_text(result))
    raise _Exit(result.exit_code)


@app.command()
def reconcile(
    tctx: typer.Context,
    target: Annotated[str | None, typer.Option("--target", help="Mode to converge to.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Converge the host to the desired mode (or --target)."""
    ctx = _ctx(tctx)
    wanted = _mode(target) if target else None
    with ctx.mutating("reconcile"):
        result = ctx.reconciler().reconcile(wanted)
    _emit(as_json, dict(result.record), _result_text(result))
    raise _Exit(result.exit_code)


@app.command()
def boot(
    tctx: typer.Context,as_json: JsonOpt = False) -> None:
    """Boot normalisation: desired becomes the boot default (desktop) and is reconciled."""
    ctx = _ctx(tctx)
    with ctx.mutating("boot"):
        result = ctx.reconciler().boot()
    _emit(as_json, dict(result.record), _result_text(result))
    raise _Exit(result.exit_code)


@app.command()
def current(
    tctx: typer.Context,
    refresh: Annotated[bool, typer.Option("--refresh",
                                          help="Also rewrite the recorded current files.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The current state, derived from evidence now (never from desired)."""
    ctx = _ctx(tctx)
    if refresh:
        ctx.require_root("current --refresh")
    _, obs = ctx.reconciler().observe()
    data = obs.to_json(ctx.timestamp())
    if refresh:
        ctx.runtime.write_current(data)
    _emit(as_json, data, obs.state.value)
    if not as_json:
        for line in _observation_text(obs).splitlines()[1:]:
            typer.echo(line.strip(), err=True)
    raise _Exit(_current_exit(obs))


@app.command()
def desired(
    tctx: typer.Context,as_json: JsonOpt = False) -> None:
    """The desired mode (intent), as last written by a request."""
    ctx = _ctx(tctx)
    runtime = ctx.runtime
    mode = runtime.read_desired()
    twin = runtime.read_json("desired.json")
    data = {"desired": mode.value if mode else None, "record": twin}
    _emit(as_json, data, mode.value if mode else "none (no request since boot)")


@app.command()
def status(
    tctx: typer.Context,as_json: JsonOpt = False) -> None:
    """Desired, current, last transition, blocking guards, capability placement."""
    ctx = _ctx(tctx)
    runtime = ctx.runtime
    rec = ctx.reconciler()
    _, obs = rec.observe()
    want = runtime.read_desired()
    last = runtime.last_transition()
    guards = runtime.last_guards()
    lock = runtime.store.lock_held()
    policy = ctx.policy
    data: dict[str, Any] = {
        "backend": ctx.backend_name,
        "desired": want.value if want else None,
        "current": obs.to_json(ctx.timestamp()),
        "converged": want is not None and obs.state.mode is want,
        "last_transition": None if last is None else {
            k: last.get(k) for k in ("requested", "from", "outcome", "exit_code", "summary",
                                     "started_at", "finished_at", "final_state")
        },
        "blocking_guards": (guards or {}).get("blocking", []),
        "capability_placement": {"studio": policy.placement.studio,
                                 "compute": policy.placement.compute},
        "lock": lock,
    }
    lines = [
        f"desired:   {data['desired'] or 'none'}",
        f"current:   {_observation_text(obs)}",
    ]
    if last:
        lines.append(f"last:      {last.get('outcome')} ({last.get('requested')}, "
                     f"{last.get('finished_at')}): {last.get('summary')}")
    if data["blocking_guards"]:
        lines.append(f"blocking:  {', '.join(data['blocking_guards'])}")
    lines.append(f"placement: studio {policy.placement.studio}, "
                 f"compute {policy.placement.compute}")
    if lock:
        lines.append(f"lock:      held by pid {lock.get('pid')} (to {lock.get('target')})")
    _emit(as_json, data, "\n".join(lines))


@app.command(name="dry-run")
def dry_run(
    tctx: typer.Context,mode: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Print the plan a request for MODE would run now, without running it."""
    ctx = _ctx(tctx)
    target = _mode(mode)
    obs, plan, _ = ctx.reconciler().preview(target)
    lines = [f"from {obs.state.value} to {target.value}"]
    if plan.noop:
        lines.append("  nothing to do")
    for leg in plan.legs:
        lines.append(f"  leg {leg.name}: {leg.source} -> {leg.target.value}")
        lines += [f"    {i}. {s.describe()}" for i, s in enumerate(leg.steps, 1)]
    _emit(as_json, plan.to_json(), "\n".join(lines))


@app.command()
def explain(
    tctx: typer.Context,
    mode: Annotated[str | None, typer.Argument()] = None, as_json: JsonOpt = False
) -> None:
    """Why the host is in its current state; with MODE, the plan and live guard verdicts."""
    ctx = _ctx(tctx)
    rec = ctx.reconciler()
    if mode is None:
        _, obs = rec.observe()
        data = obs.to_json(ctx.timestamp())
        lines = [_observation_text(obs), "signals:"]
        lines += [f"  {k}: {v}" for k, v in sorted(obs.signals.items())]
        _emit(as_json, data, "\n".join(lines))
        return
    target = _mode(mode)
    obs, plan, reports = rec.preview(target)
    data = {"current": obs.to_json(ctx.timestamp()), "plan": plan.to_json(),
            "guards": [r.to_json() for r in reports]}
    lines = [f"from {obs.state.value} to {target.value}"]
    if plan.noop:
        lines.append("  already there: nothing to do")
    for leg, report in zip(plan.legs, reports, strict=True):
        lines.append(f"  leg {leg.name}: {leg.source} -> {leg.target.value}")
        lines += [f"    {i}. {s.describe()}" for i, s in enumerate(leg.steps, 1)]
        lines += _report_text(report, f"    {leg.name}")
    blocking = [v for r in reports for v in r.blocking]
    lines.append("would be blocked by: " + ", ".join(v.guard.value for v in blocking)
                 if blocking else "no guard blocks this request now")
    _emit(as_json, data, "\n".join(lines))


@app.command()
def guards(
    tctx: typer.Context,target: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Evaluate the guards a request for TARGET would check; exit with the first block."""
    ctx = _ctx(tctx)
    mode = _mode(target)
    _, plan, reports = ctx.reconciler().preview(mode)
    merged = GuardReport(mode, tuple(v for r in reports for v in r.verdicts))
    lines = [f"guards for {mode.value}:"] + (
        ["  none: already there"] if plan.noop else _report_text(merged, "")
    )
    _emit(as_json, merged.to_json(), "\n".join(lines))
    raise _Exit(merged.exit_code)


@app.command()
def history(
    tctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20, as_json: JsonOpt = False
) -> None:
    """The last transition attempts from the audit log (newest last)."""
    ctx = _ctx(tctx)
    entries = list(ctx.audit.entries())[-limit:]
    data = [e.record if e.record is not None else {"damaged_line": e.line_no, "raw": e.raw}
            for e in entries]
    lines = []
    for e in entries:
        r = e.record
        if r is None:
            lines.append(f"line {e.line_no}: damaged (kept as written)")
        else:
            lines.append(f"{r.get('finished_at', '?')}  {r.get('requested', '?'):12} "
                         f"{r.get('outcome', '?'):17} {r.get('summary', '')}")
    _emit(as_json, data, "\n".join(lines) or "no transitions recorded")


@app.command(name="last-transition")
def last_transition(
    tctx: typer.Context,as_json: JsonOpt = False) -> None:
    """The record of the last transition attempt."""
    ctx = _ctx(tctx)
    last = ctx.runtime.last_transition()
    if last is None:
        _emit(as_json, {}, "no transition recorded")
        return
    text = (f"{last.get('outcome')}: {last.get('summary')}\n"
            f"  requested {last.get('requested')} from {last.get('from')} at "
            f"{last.get('started_at')}, finished {last.get('finished_at')}")
    _emit(as_json, last, text)


@app.command()
def doctor(
    tctx: typer.Context,as_json: JsonOpt = False) -> None:
    """What this backend can observe, what it cannot and why; config and state health."""
    ctx = _ctx(tctx)
    policy = ctx.policy
    backend = ctx.backend
    facts = backend.observe()
    problems: list[str] = []
    files: dict[str, str] = {}
    runtime = ctx.runtime
    for name in ("desired.json", "current.json", "last-transition.json", "last-guards.json"):
        try:
            files[name] = "missing" if runtime.read_json(name) is None else "ok"
        except StateCorrupt as exc:
            files[name] = f"corrupt: {exc}"
            problems.append(str(exc))
    damaged = [e.line_no for e in ctx.audit.entries() if e.damaged]
    seen = None if isinstance(facts.gpus, Unavailable) else [g.index for g in facts.gpus]
    topology = {
        "configured_present": list(policy.hardware.present_gpus),
        "display_gpu": policy.hardware.display_gpu,
        "compute_gpus": list(policy.hardware.compute_gpus),
        "seen": seen,
        "matches": seen is not None and sorted(seen) == sorted(policy.hardware.present_gpus),
    }
    missing = facts.unavailable()
    problems += [f"{k} unavailable: {v}" for k, v in missing.items()]
    if seen is not None and not topology["matches"]:
        problems.append(f"GPU topology: configured {topology['configured_present']}, seen {seen}")
    evidence = {k: ("unavailable: " + missing[k]) if k in missing else "ok"
                for k in ("units", "sessions", "processes", "audio", "gpus", "load",
                          "memory", "pressure", "slices", "paths")}
    data = {
        "backend": dict(backend.describe()),
        "evidence": evidence,
        "state_dir": str(ctx.state_dir),
        "state_files": files,
        "audit_log": {"damaged_lines": damaged},
        "gpu_topology": topology,
        "problems": problems,
    }
    lines = [f"backend: {ctx.backend_name}"]
    lines += [f"  {k}: {v}" for k, v in evidence.items()]
    lines.append(f"state dir {ctx.state_dir}: " + ", ".join(f"{k} {v}" for k, v in files.items()))
    lines.append(f"GPU topology: configured {topology['configured_present']}, seen {seen}")
    lines += [f"problem: {p}" for p in problems] or ["no problems found"]
    _emit(as_json, data, "\n".join(lines))
    raise _Exit(ExitCode.EVIDENCE_UNAVAILABLE if missing else ExitCode.OK)


# ----------------------------------------------------------------------- entry point


def _fail(code: int, message: str) -> NoReturn:
    if message:
        typer.echo(f"mode: {message}", err=True)
    raise SystemExit(int(code))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: map every error to one line and its exit code."""
    try:
        app(args=argv, prog_name="mode")
    except _Exit as exc:
        _fail(exc.code, exc.message)
    except ConfigError as exc:
        _fail(ExitCode.CONFIG_INVALID, f"invalid config: {exc}")
    except StateCorrupt as exc:
        _fail(ExitCode.STATE_CORRUPT, f"corrupt state file: {exc}")
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
    raise SystemExit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
