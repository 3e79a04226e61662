"""`mode-sim` verbs that change one part of the simulated workstation: audio streams, JACK
clients, REAPER, logind sessions, user jobs, GPU release behaviour, load, RAM and the seat's
idle side (hints, inhibitor locks, keys, applications).

Each is a sub-app that `simulator.cli` mounts (`mode-sim audio start NAME`, ...); each verb
loads the world, calls one `simulator.world.World` method, saves it and prints what happened
(`simulator.cli_common.change`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from dubnium.codes import ExitCode
from simulator.cli_common import (
    MAX_ADVANCE_S,
    MAX_DELAY_S,
    MAX_LOAD,
    MAX_MIB,
    Name,
    change,
    checked_name,
    fail,
    finite,
)
from simulator.gpu import ReleaseKind
from simulator.world import World

audio_app = typer.Typer(help="Audio streams (PipeWire).", no_args_is_help=True)
jack_app = typer.Typer(help="JACK clients.", no_args_is_help=True)
reaper_app = typer.Typer(help="The REAPER process.", no_args_is_help=True)
session_app = typer.Typer(help="logind sessions.", no_args_is_help=True)
job_app = typer.Typer(help="Long-running user jobs (builds).", no_args_is_help=True)
gpu_app = typer.Typer(help="GPU behaviour.", no_args_is_help=True)
load_app = typer.Typer(help="CPU load.", no_args_is_help=True)
memory_app = typer.Typer(help="RAM.", no_args_is_help=True)
seat_app = typer.Typer(help="The seat's idle side: idle hints, inhibitor locks, console keys, "
                            "applications (idle automation).", no_args_is_help=True)
# The order `mode-sim --help` lists them in (after `fault`, from `simulator.cli_faults`).
SUBAPPS = (("seat", seat_app), ("audio", audio_app), ("jack", jack_app),
           ("reaper", reaper_app), ("session", session_app), ("job", job_app),
           ("gpu", gpu_app), ("load", load_app), ("memory", memory_app))


class SessionType(StrEnum):
    WAYLAND = "wayland"
    X11 = "x11"
    TTY = "tty"


@audio_app.command("start")
def audio_start(ctx: typer.Context, name: Name) -> None:
    """An application starts playing audio."""
    change(ctx, lambda w: f"audio stream {name} playing (pid {w.start_audio_stream(name)})")


@audio_app.command("stop")
def audio_stop(ctx: typer.Context, name: Name) -> None:
    """The application playing NAME exits."""
    def act(w: World) -> str:
        w.stop_audio_stream(name)
        return f"audio stream {name} stopped"

    change(ctx, act)


@jack_app.command("start")
def jack_start(ctx: typer.Context, name: Name) -> None:
    """A JACK client starts."""
    change(ctx, lambda w: f"JACK client {name} running (pid {w.start_jack_client(name)})")


@jack_app.command("stop")
def jack_stop(ctx: typer.Context, name: Name) -> None:
    """The JACK client NAME exits."""
    def act(w: World) -> str:
        w.stop_jack_client(name)
        return f"JACK client {name} stopped"

    change(ctx, act)


@reaper_app.command("start")
def reaper_start(ctx: typer.Context) -> None:
    """REAPER starts."""
    change(ctx, lambda w: f"REAPER running (pid {w.start_reaper()})")


@reaper_app.command("stop")
def reaper_stop(ctx: typer.Context) -> None:
    """REAPER exits."""
    def act(w: World) -> str:
        w.stop_reaper()
        return "REAPER stopped"

    change(ctx, act)


@session_app.command("add")
def session_add(
    ctx: typer.Context,
    type_: Annotated[SessionType, typer.Option("--type")] = SessionType.TTY,
    user: Annotated[str, typer.Option(callback=checked_name)] = "owner",
) -> None:
    """Someone logs in (tty/ssh, or a second graphical session)."""
    change(ctx, lambda w: f"session {w.add_session(type_.value, user)} ({type_.value}, {user})")


@session_app.command("remove")
def session_remove(
    ctx: typer.Context, session_id: Annotated[str, typer.Argument(metavar="ID")],
) -> None:
    """The session ID ends now (its processes exit)."""
    def act(w: World) -> str:
        w.remove_session(session_id)
        return f"session {session_id} removed"

    change(ctx, act)


@job_app.command("add")
def job_add(
    ctx: typer.Context,
    comm: Name,
    runtime_s: Annotated[float, typer.Option(
        help="How long it has been running.", callback=finite(0, 10 * MAX_ADVANCE_S))] = 3600.0,
) -> None:
    """A long-running user job (e.g. cargo) that started RUNTIME_S seconds ago."""
    change(ctx, lambda w: f"user job {comm} running (pid {w.add_user_job(comm, runtime_s)})")


@job_app.command("remove")
def job_remove(ctx: typer.Context, comm: Name) -> None:
    """Every user job called COMM ends."""
    def act(w: World) -> str:
        w.remove_user_job(comm)
        return f"user job {comm} ended"

    change(ctx, act)


@gpu_app.command("release")
def gpu_release(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(min=0, max=63)],
    behaviour: ReleaseKind,
    delay_s: Annotated[float, typer.Option(
        help="delayed: seconds until freed.", callback=finite(0, MAX_DELAY_S))] = 5.0,
    residual_mib: Annotated[int, typer.Option(
        min=0, max=MAX_MIB, help="partial: MiB that stay held.")] = 512,
) -> None:
    """How GPU INDEX releases the compositor's memory when it exits."""
    def act(w: World) -> str:
        value = w.set_gpu_release(index, behaviour, delay_s=delay_s, residual_mib=residual_mib)
        detail = {ReleaseKind.DELAYED: f" after {value.delay_s} s",
                  ReleaseKind.PARTIAL: f", {value.residual_mib} MiB stay"}.get(value.kind, "")
        return f"GPU {index} releases {value.kind.value}{detail}"

    change(ctx, act)


@load_app.command("set")
def load_set(
    ctx: typer.Context,
    load1: Annotated[float, typer.Argument(callback=finite(0, MAX_LOAD))],
    load5: Annotated[float | None, typer.Option(callback=finite(0, MAX_LOAD))] = None,
    load15: Annotated[float | None, typer.Option(callback=finite(0, MAX_LOAD))] = None,
    cpus: Annotated[int | None, typer.Option(min=1, max=4096)] = None,
) -> None:
    """Set the load averages (5 and 15 follow LOAD1 unless given)."""
    def act(w: World) -> str:
        w.set_load(load1, load5, load15, cpus)
        load = w.host.load
        return f"load {load.load1} {load.load5} {load.load15} on {load.cpus} CPUs"

    change(ctx, act)


@memory_app.command("fill")
def memory_fill(
    ctx: typer.Context, mib: Annotated[int, typer.Argument(min=0, max=MAX_MIB)],
) -> None:
    """Something takes MIB of RAM."""
    def act(w: World) -> str:
        w.fill_memory(mib)
        return f"{w.host.memory.available_mib} MiB of {w.host.memory.total_mib} available"

    change(ctx, act)


@memory_app.command("set")
def memory_set(
    ctx: typer.Context, available_mib: Annotated[int, typer.Argument(min=0, max=MAX_MIB)],
) -> None:
    """Set the available RAM."""
    def act(w: World) -> str:
        w.set_memory(available_mib)
        return f"{w.host.memory.available_mib} MiB of {w.host.memory.total_mib} available"

    change(ctx, act)


@seat_app.command("idle-hint")
def seat_idle_hint(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(metavar="on|off")],
    session: Annotated[str | None, typer.Option(help="One session (default: every "
                                                     "graphical one).")] = None,
) -> None:
    """The idle daemon sets (on) or input clears (off) logind's IdleHint."""
    if value not in ("on", "off"):
        fail(ExitCode.USAGE, f"idle-hint takes on or off, not {value!r}")
    change(ctx, lambda w: f"IdleHint={'yes' if value == 'on' else 'no'} on session(s) "
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
    change(ctx, lambda w: f"{who} holds {what} ({mode}), pid "
                           f"{w.seat.take_inhibitor(what, who, why, mode)}")


@seat_app.command("release")
def seat_release(ctx: typer.Context, who: str) -> None:
    """WHO releases its inhibitor locks."""
    def act(w: World) -> str:
        w.seat.release_inhibitor(who)
        return f"{who} released its inhibitor locks"

    change(ctx, act)


@seat_app.command("key")
def seat_key(ctx: typer.Context) -> None:
    """Someone presses a key at the seat (console tty; clears graphical idle hints)."""
    def act(w: World) -> str:
        w.seat.press_key()
        return f"key pressed at t = {w.now_ns / 1e9:.3f} s"

    change(ctx, act)


@seat_app.command("app-start")
def seat_app_start(ctx: typer.Context, comm: str) -> None:
    """An application (e.g. an exclusive one: a game, REAPER) starts."""
    change(ctx, lambda w: f"{comm} started, pid {w.seat.start_app(comm)}")


@seat_app.command("app-stop")
def seat_app_stop(ctx: typer.Context, comm: str) -> None:
    """The application COMM exits."""
    def act(w: World) -> str:
        w.seat.stop_app(comm)
        return f"{comm} stopped"

    change(ctx, act)
