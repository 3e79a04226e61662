"""The `mode` program: the composition root that wires a backend into the controller.

`dubnium` (the controller, its verbs and its CLI) imports neither `backends` nor `simulator`;
this package is the one place that knows both (`dubnium_app.compose`), and the console
script's start-up (`dubnium_app.launch` → `dubnium_app.entry`, the fast path for `mode
current`). Import-linter keeps it that way (pyproject.toml).
"""
