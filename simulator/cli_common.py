"""What the verbs of `mode-sim` share: the world file of `--state-dir`, the argument checks
(every number finite and bounded, every name printable and short, before the world is
touched: `advance 1e30` or `--delay-s nan` once broke every later verb), stdout, and the
mapping of Dubnium's errors to one line and their exit code. Used by `simulator.cli`,
`simulator.cli_world` and `simulator.cli_faults`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer

from dubnium import console
from dubnium.codes import ExitCode
from dubnium.errors import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    DubniumError,
    StateCorrupt,
    StorageError,
)
from simulator.persist import WorldFile
from simulator.world import World, WorldError

MAX_ADVANCE_S = 365 * 86400.0
MAX_DELAY_S = 86400.0
MAX_MIB = 1 << 24  # 16 TiB in MiB
MAX_LOAD = 1e6
MAX_NAME = 64


def finite(low: float, high: float) -> Callable[[float | None], float | None]:
    def check(value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise typer.BadParameter(f"expected a finite number from {low:g} to {high:g}, "
                                     f"got {value!r}")
        return value

    return check


def checked_name(value: str) -> str:
    if not value or len(value) > MAX_NAME or not value.isprintable() or "/" in value:
        raise typer.BadParameter(f"expected a name of 1 to {MAX_NAME} printable characters "
                                 "without '/'")
    return value


Name = Annotated[str, typer.Argument(callback=checked_name)]


def world_file(ctx: typer.Context) -> WorldFile:
    obj = ctx.find_root().obj
    assert isinstance(obj, WorldFile)
    return obj


# Results on stdout; a closed or full stdout is one line on stderr, not a traceback.
OUTPUT = console.Output()


def fail(code: ExitCode, message: str) -> NoReturn:
    console.error("mode-sim", message)
    raise typer.Exit(int(code))


@contextmanager
def errors() -> Iterator[None]:
    """Map Dubnium's errors to one line and their exit code."""
    try:
        yield
    except ConfigError as exc:  # a ValueError: first
        fail(ExitCode.CONFIG_INVALID, str(exc))
    except (WorldError, ValueError) as exc:
        fail(ExitCode.USAGE, str(exc))
    except StateCorrupt as exc:
        fail(ExitCode.STATE_CORRUPT, str(exc))
    except StorageError as exc:
        fail(ExitCode.STORAGE_FAILED, str(exc))
    except BackendUnavailable as exc:
        fail(ExitCode.BACKEND_UNAVAILABLE, str(exc))
    except (BackendError, DubniumError, OSError) as exc:
        fail(ExitCode.ERROR, str(exc))


def change(ctx: typer.Context, action: Callable[[World], str]) -> None:
    """Load the world, apply `action`, save, print what it says."""
    file = world_file(ctx)
    with errors(), file.locked():
        world = file.load()
        message = action(world)
        file.save(world)
    OUTPUT.echo(message)
