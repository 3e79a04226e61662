"""The composition root: a `dubnium.session.Session` for the global options, and `mode`.

Called by `dubnium_app.entry` (the console script, for everything but the fast path) and by
`python -m dubnium_app`. It is the only code that picks a backend, by name (`--backend
host|sim`, env `DUBNIUM_BACKEND`; by default the live host where /etc/dubnium/config.json
exists, else the simulator): `simulator.session.SimulatedSession` or
`backends.session.HostSession`. Each is imported only when chosen, so the simulator's world
code is never loaded on the host, nor D-Bus in the simulator.
"""

from __future__ import annotations

from dubnium import cli
from dubnium.codes import ExitCode
from dubnium.policy import DEFAULT_CONFIG_PATH
from dubnium.session import Session, VerbExit

BACKENDS = ("sim", "host")


def default_backend() -> str:
    """The live host where Dubnium is installed (its config exists); else the simulator."""
    return "host" if DEFAULT_CONFIG_PATH.exists() else "sim"


def open_session(options: cli.Options) -> Session:
    """The session `options` ask for (nothing is loaded until a verb uses it)."""
    name = options.backend or default_backend()
    if name == "sim":
        from simulator.session import SimulatedSession

        return SimulatedSession(options.state_dir, options.config)
    if name == "host":
        from backends.session import HostSession

        return HostSession(options.state_dir, options.config)
    raise VerbExit(ExitCode.USAGE, f"unknown backend {name!r}; use sim or host")


def main(argv: list[str] | None = None) -> None:
    """`mode` with `argv` (default: the process's arguments); exits with the verb's code."""
    cli.main(argv, open_session)
