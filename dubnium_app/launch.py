"""The `mode` console script: the start-up guard around `dubnium_app.entry`.

Imports nothing but `os` at module level, so the guard is in place a few statements after
the interpreter starts: a Ctrl-C while `dubnium_app.entry` (or, from there, the full CLI) is
being imported is one line on stderr and exit 28 (nothing had been changed), never a
traceback. `dubnium_app.entry.main` guards the rest of the start-up the same way, and a switch in
progress handles its own signals (`dubnium.stopping`).
"""

from __future__ import annotations

import os

INTERRUPTED = 28  # dubnium.codes.ExitCode.INTERRUPTED (kept equal by a test)


def main() -> None:
    try:
        from dubnium_app.entry import main as entry_main
    except KeyboardInterrupt:
        try:
            os.write(2, b"mode: interrupted before a switch started; nothing was changed\n")
        finally:
            raise SystemExit(INTERRUPTED) from None
    entry_main()
