"""`python -m dubnium_app`: the full `mode` CLI (what a handed-off verb runs when `mode` was
not started as its console script)."""

from dubnium_app.compose import main

main()
