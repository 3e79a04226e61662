"""Shell completion scripts and the man page, generated from the CLI itself.

Run at build time (`python -m dubnium.docgen OUTDIR`, called by `scripts/gen-docs` and the Nix
package's postInstall): writes `completions/mode.bash`, `completions/_mode` (zsh),
`completions/mode.fish` and `man/mode.1`. Nothing here is typed twice: the verbs, their
options, arguments and help come from the click command that `mode` runs, so the man page
cannot drift from `mode -h`. The completion scripts call `mode` back with `_MODE_COMPLETE`
set (typer's protocol; `dubnium.cli.main` answers it), so MODE completes to the modes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer

from dubnium import __version__
from dubnium.cli import app

SHELLS = {"bash": "mode.bash", "zsh": "_mode", "fish": "mode.fish"}
EXIT_CODES_NOTE = ("Exit codes are listed in the README (0 success, 2 usage, 3 permission, "
                   "4 backend unavailable, 5 lock busy, 10-19 one per guard, 21 rolled back, "
                   "22 failed transition, 23 degraded, 26 diverged).")


def command() -> click.Group:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    return group


def completion_script(shell: str) -> str:
    from typer._completion_classes import completion_init
    from typer._completion_shared import get_completion_script

    completion_init()
    return get_completion_script(prog_name="mode", complete_var="_MODE_COMPLETE", shell=shell)


def _esc(text: str) -> str:
    """Escape text for roff: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line
                     for line in text.splitlines())


def _params(cmd: click.Command, ctx: click.Context) -> list[str]:
    out = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if isinstance(param, click.Argument):
            help_text = getattr(param, "help", None) or ""
            out += [".TP", f".B {_esc(param.make_metavar(ctx))}", _esc(help_text)]
        elif record is not None:
            names, help_text = record
            out += [".TP", f".B {_esc(names)}", _esc(help_text)]
    return out


def man_page() -> str:
    group = command()
    root = click.Context(group, info_name="mode", help_option_names=["-h", "--help"])
    lines = [
        f'.TH MODE 1 "" "dubnium {__version__}" "User Commands"',
        ".SH NAME",
        "mode \\- " + _esc(group.help or ""),
        ".SH SYNOPSIS",
        ".B mode",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH OPTIONS",
        *_params(group, root),
        ".SH COMMANDS",
    ]
    for name in group.list_commands(root):
        cmd = group.get_command(root, name)
        if cmd is None or cmd.hidden:
            continue
        sub = click.Context(cmd, info_name=name, parent=root)
        usage = " ".join(cmd.collect_usage_pieces(sub))
        lines += [".SS " + _esc(f"mode {name} {usage}"), _esc(cmd.help or ""),
                  *_params(cmd, sub)]
    lines += [".SH EXIT STATUS", _esc(EXIT_CODES_NOTE),
              ".SH ENVIRONMENT",
              ".TP", ".B DUBNIUM_BACKEND, DUBNIUM_STATE_DIR, DUBNIUM_CONFIG",
              "Defaults of \\-\\-backend, \\-\\-state\\-dir and \\-\\-config.",
              ".TP", ".B NO_COLOR", "No colour in the progress lines.",
              ".SH SEE ALSO", "mode\\-sim(1), journalctl(1)"]
    return "\n".join(lines) + "\n"


def write_all(outdir: Path) -> list[Path]:
    written = []
    for shell, name in SHELLS.items():
        path = outdir / "completions" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(completion_script(shell) + "\n")
        written.append(path)
    man = outdir / "man" / "mode.1"
    man.parent.mkdir(parents=True, exist_ok=True)
    man.write_text(man_page())
    written.append(man)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m dubnium.docgen OUTDIR", file=sys.stderr)
        return 2
    for path in write_all(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
