"""The `mode` console script: the read verbs on the host answered before the full CLI loads.

`mode current` is the verb scripts and status bars run most often, and on the live host its
answer is usually already on disk (`current.json`, see `dubnium.readpath`). This entry reads
exactly that invocation — global `--backend`, `--state-dir`, `--config` (or their
environment variables), the verb `current`, and `--json` / `--refresh` (but `--refresh` as
root, the observer timer's run, which records the observation and the metrics textfile,
goes to the full CLI) — and answers it with the standard library, the policy file, and,
when a live observation is needed, only the observer and the host backend. The other read
verbs — `status [--json|--waybar|--check]`, `desired`, `history [--json] [--limit N]
[--since T] [--outcome O]...` and `last-transition` — are answered the same way by
`dubnium.readverbs`, which imports what each uses and no typer, planner, guards or
reconciler. Everything else, and anything unusual on the way (help, another verb, the
simulator, a config or state file that does not read cleanly, any error), is handed to the
full CLI (`dubnium_app.compose.main`, typer), which answers it, errors included, as it always has;
nothing has been printed or written by then. `tests/unit/test_readpath.py` and
`tests/unit/test_readverbs.py` keep both ways' output equal.

It also guards the whole process, start-up included: a Ctrl-C while the CLI is still being
imported (typer, click, the domain take a while) is one line on stderr and exit 28 (nothing
had been changed), never a traceback; a switch in progress handles its own signals
(`dubnium.stopping`).
"""

from __future__ import annotations

import json
import os
import stat
import sys

from dubnium import readpath, strictjson

# No typing, pathlib or fsutil (tempfile) at run time: a recorded answer is served with as
# little imported as its reading needs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

# dubnium.policy.DEFAULT_CONFIG_PATH, spelled here so this module need not import the policy
# (attrs) to serve a recorded answer; a test keeps the two equal.
DEFAULT_CONFIG = "/etc/dubnium/config.json"
_OPTIONS = {"--backend": "DUBNIUM_BACKEND", "--state-dir": "DUBNIUM_STATE_DIR",
            "--config": "DUBNIUM_CONFIG"}
INTERRUPTED = 28  # dubnium.codes.ExitCode.INTERRUPTED (kept equal by a test)


# The read verbs the fast path answers, and the flags each takes (anything else, -h
# included, goes to the full CLI).
_VERB_FLAGS = {"current": {"--json", "--refresh"}, "status": {"--json", "--check", "--waybar"},
               "desired": {"--json"}, "last-transition": {"--json"}, "history": {"--json"}}
_HISTORY_OPTIONS = {"--limit": "limit", "--since": "since", "--outcome": "outcomes"}
_ALL_FLAGS = ("--json", "--refresh", "--check", "--waybar")


def parse(args: Sequence[str], env: dict[str, str]) -> dict[str, Any] | None:
    """The options of a plain `mode [global options] VERB [options]` call on the host
    backend for a read verb (`current`, `status`, `desired`, `history`, `last-transition`),
    or None for anything else (the full CLI answers those)."""
    given = {name: env.get(var) or None for name, var in _OPTIONS.items()}
    i = 0
    while i < len(args) and args[i].startswith("--"):
        name, eq, value = args[i].partition("=")
        if name not in _OPTIONS:
            return None
        if not eq:
            if i + 1 >= len(args):
                return None
            i += 1
            value = args[i]
        if not value:
            return None
        given[name] = value
        i += 1
    verb = args[i] if i < len(args) else ""
    flags = _verb_options(verb, args[i + 1:])
    if flags is None:
        return None
    config = given["--config"]
    backend = given["--backend"] or ("host" if os.path.exists(DEFAULT_CONFIG) else "sim")
    if backend != "host":
        return None
    return {"verb": verb, "config": config or DEFAULT_CONFIG, "state_dir": given["--state-dir"],
            **flags}


def _verb_options(verb: str, rest: Sequence[str]) -> dict[str, Any] | None:
    """The flags (and `history`'s --limit/--since/--outcome) after VERB, or None."""
    allowed = _VERB_FLAGS.get(verb)
    if allowed is None:
        return None
    found: dict[str, Any] = {"limit": 20, "since": None, "outcomes": []}
    seen: set[str] = set()
    i = 0
    while i < len(rest):
        name, eq, value = rest[i].partition("=")
        if verb == "history" and name in _HISTORY_OPTIONS:
            if not eq:
                if i + 1 >= len(rest):
                    return None
                i += 1
                value = rest[i]
            key = _HISTORY_OPTIONS[name]
            if key == "limit":
                if not value.isdigit() or int(value) < 1 or not value.isascii():
                    return None
                found[key] = int(value)
            elif key == "since":
                found[key] = value
            else:
                found[key].append(value)
        elif rest[i] in allowed:
            seen.add(rest[i])
        else:
            return None
        i += 1
    return {**found, **{flag[2:]: flag in seen for flag in _ALL_FLAGS}}


def _read_regular(path: str, *, follow: bool = False) -> bytes | None:
    """The bytes of the regular file `path` (never through a link unless `follow`: the
    config, which NixOS links; never a FIFO; at most `strictjson.MAX_BYTES`), or None for
    anything else: the full CLI then reads it with `dubnium.fsutil` and reports what is
    wrong."""
    nofollow = 0 if follow else os.O_NOFOLLOW
    try:
        fd = os.open(path, os.O_RDONLY | nofollow | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, strictjson.MAX_BYTES + 1)
        return None if len(data) > strictjson.MAX_BYTES else data
    except OSError:
        return None
    finally:
        os.close(fd)


# What `_settings` reads from the policy file, and the policy's defaults for each (a test
# keeps them equal to `dubnium.policy.Policy()`'s).
DEFAULT_STATE_DIR = "/run/mode-controller"
_BOUNDS = {"max_age": ("timeouts", "current_max_age_s", 5.0),
           "server": ("timeouts", "current_server_s", 10.0),
           "backoff": ("studio", "observe_backoff_s", 600.0)}


def _settings(config: str) -> dict[str, Any] | None:
    """The state directory and the bounds of `_BOUNDS` from the policy file, read without
    validating the rest; None when they are not plainly there (the full CLI then reports
    the file)."""
    try:
        data = strictjson.loads(_read_regular(config, follow=True) or b"")
        found: dict[str, Any] = {"state_dir": data.get("paths", {}).get(
            "state_dir", DEFAULT_STATE_DIR)}
        for name, (section, key, default) in _BOUNDS.items():
            found[name] = data.get(section, {}).get(key, default)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(found["state_dir"], str):
        return None
    if any(isinstance(found[n], bool) or not isinstance(found[n], int | float)
           for n in _BOUNDS):
        return None
    return found


def _read_recorded(state_dir: str) -> Any:
    """current.json as parsed JSON (a regular file, never through a link, strictly parsed);
    None when it cannot be read (the live path then answers)."""
    data = _read_regular(os.path.join(state_dir, "current.json"))
    try:
        return None if data is None else strictjson.loads(data)
    except ValueError:
        return None


def _print(data: dict[str, Any], as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(f"{data['observed_state']}\n")
        for line in readpath.notes(data):
            sys.stderr.write(line + "\n")
    sys.stdout.flush()
    return readpath.exit_code(data)


def _print_backoff(record: dict[str, Any], why: str, as_json: bool) -> int:
    """The recorded answer as the observer's backoff gives it (`dubnium.verbs_read.current`):
    the record with its source and age, or its state and why; exit 0."""
    text = json.dumps(record, indent=2, sort_keys=True) if as_json else (
        f"{record['observed_state']}\n{why}")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0


def current(request: dict[str, Any]) -> int | None:
    """Answer `mode current` on the host, or None to hand it to the full CLI.

    `--refresh` as root (the observer timer) goes to the full CLI, which also records the
    observation and writes the metrics textfile."""
    if request["refresh"] and os.geteuid() == 0:
        return None
    settings = _settings(request["config"])
    if settings is None:
        return None
    state_dir = request["state_dir"] or settings["state_dir"]
    from backends.clock import RealClock

    clock = RealClock()
    record = _read_recorded(state_dir)
    record = record if isinstance(record, dict) else None
    if request["refresh"]:  # studio-local's audio is left alone (`dubnium.verbs_read.current`)
        why = readpath.observer_backoff(record, clock.wall_ns(), settings["backoff"])
        if record is not None and why is not None:
            return _print_backoff(readpath.backed_off(record, clock.wall_ns()), why,
                                  request["json"])
    else:
        fresh = readpath.recorded_if_fresh(record, clock.wall_ns(), settings["max_age"])
        if fresh is not None:
            return _print(fresh, request["json"])
    from dubnium_app import currentclient

    answer = currentclient.ask(request["config"], state_dir, settings["server"])
    if answer is not None:  # the resident observer looked, after we asked
        return _print(readpath.observed(answer, clock.wall_ns()), request["json"])
    return _live(request, state_dir)


def _live(request: dict[str, Any], state_dir_name: str) -> int | None:
    from pathlib import Path

    from dubnium.errors import DubniumError
    from dubnium.policyload import load_policy
    from dubnium.state import DirectoryStore, RuntimeState

    state_dir = Path(state_dir_name)
    try:
        policy = load_policy(Path(request["config"]))
        runtime = RuntimeState(DirectoryStore(state_dir), state_dir_name)
        from backends.host import HostBackend  # pystemd missing: the full CLI says so

        backend = HostBackend(policy)
        _, data = readpath.observe_json(backend, policy, runtime)
    except (DubniumError, ValueError, OSError, ImportError):
        return None  # the full CLI reports it, in its words and with its exit code
    return _print(readpath.observed(data, backend.clock.wall_ns()), request["json"])


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: the fast path for `mode current`, else the full CLI; a Ctrl-C
    before a switch starts is one line and exit 28, never a traceback."""
    try:
        _main(argv)
    except KeyboardInterrupt:
        try:
            os.write(2, b"mode: interrupted before a switch started; nothing was changed\n")
        finally:
            raise SystemExit(INTERRUPTED) from None


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else argv
    request = parse(args, dict(os.environ))
    if request is not None:
        try:
            code = current(request) if request["verb"] == "current" else _read_verb(request)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(1) from None
        if code is not None:
            raise SystemExit(code)
    full = _import_full_cli()
    full(args)


def _import_full_cli() -> Callable[[list[str]], None]:
    """The full CLI, imported with SIGINT held back: a Ctrl-C that lands while typer, click
    and the domain load is delivered when the import is done, as a KeyboardInterrupt that
    `main` turns into its one line. Delivered during the import, Python itself may report it
    from inside the import machinery ("Exception ignored in ...", with a traceback) and go on."""
    import signal

    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        from dubnium_app.compose import main as full
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return full


def _read_verb(request: dict[str, Any]) -> int | None:
    """`status`, `desired`, `history`, `last-transition` by `dubnium.readverbs`, or None."""
    from dubnium import readverbs
    from dubnium.output import Output

    try:
        config = strictjson.loads(_read_regular(request["config"], follow=True) or b"")
    except ValueError:
        return None
    paths = readverbs.paths_from(config) if isinstance(config, dict) else None
    if paths is None:
        return None
    output = Output()
    code: int | None = readverbs.answer(request, paths, output, _host_backend)
    if code is not None:
        output.report("mode")
    return code


def _host_backend(policy: Any) -> Any:
    """The live host's backend (`mode status` observes), wired in here, not in `dubnium`."""
    from backends.host import HostBackend  # pystemd missing: the full CLI says so

    return HostBackend(policy)


if __name__ == "__main__":  # pragma: no cover
    main()
