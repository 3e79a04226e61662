"""`mode-sim`: create and change the simulated workstation from the shell.

A thin typer layer over `simulator.world.World` and `simulator.persist.WorldFile`: each verb
loads the world from `--state-dir`, calls one world method, and saves it. The `mode` CLI
(with `--backend sim`, through `simulator.session`) drives the same world file. This module
holds the app, the world as a whole (create, show, advance, reboot, model) and `main`; the
verbs for one part of the world are in `simulator.cli_world`, faults and campaigns in
`simulator.cli_faults`, what they share in `simulator.cli_common`. Errors are one line on
stderr with a stable exit code from `dubnium.codes.ExitCode` (usage 2, backend unavailable 4,
config invalid 6, state corrupt 7), never a traceback. `campaign` and `replay` exit with
`simulator.campaign.CampaignExit`; they need no world file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dubnium import console
from dubnium.codes import ExitCode
from dubnium.policyload import load_policy
from simulator import cli_faults, cli_world
from simulator.cli_common import MAX_ADVANCE_S, OUTPUT, change, errors, finite, world_file
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
for _name, _sub in (("fault", cli_faults.fault_app), *cli_world.SUBAPPS):
    app.add_typer(_sub, name=_name)


@app.callback()
def _root(
    ctx: typer.Context,
    state_dir: Annotated[Path, typer.Option(
        "--state-dir", envvar="DUBNIUM_STATE_DIR",
        help="Where the world file (sim-world.json) lives.")] = DEFAULT_STATE_DIR,
) -> None:
    ctx.obj = WorldFile(state_dir.expanduser())


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
    file = world_file(ctx)
    with errors(), file.locked():
        if file.exists() and not force:
            raise WorldError(f"a simulated world already exists at {file.path}; "
                             "use --force to replace it")
        policy = load_policy(config) if config is not None else None
        world = World.create(seed, gpus=gpus, policy=policy)
        file.save(world)
    OUTPUT.echo(f"created world (seed {seed}, {len(world.gpus)} GPU(s)) at {file.path}")


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

    change(ctx, act)


@app.command()
def advance(
    ctx: typer.Context,
    seconds: Annotated[float, typer.Argument(callback=finite(0, MAX_ADVANCE_S))],
) -> None:
    """Let SECONDS of virtual time pass (pending jobs, logins, releases happen)."""
    def act(w: World) -> str:
        count = w.advance(seconds)
        return f"t = {w.now_ns / 1e9:.3f} s ({count} event(s) ran)"

    change(ctx, act)


@app.command()
def reboot(ctx: typer.Context) -> None:
    """Reboot: every process gone, the boot target started, runtime state lost."""
    def act(w: World) -> str:
        w.reboot()
        return f"rebooted (boot {w.boot_count}, boot id {w.boot_id})"

    change(ctx, act)


@app.command()
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The whole world.")] = False,
) -> None:
    """Print the world: a summary, or with --json everything (pending events included)."""
    file = world_file(ctx)
    with errors():
        world = file.load()
    if as_json:
        OUTPUT.echo(world_json_text(world))
        return
    for key, value in world.summary().items():
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        OUTPUT.echo(f"{key}: {text or '-'}")


app.command(name="idle-campaign")(cli_faults.idle_campaign)
app.command()(cli_faults.campaign)
app.command(name="campaign-merge")(cli_faults.campaign_merge)
app.command()(cli_faults.replay)


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
