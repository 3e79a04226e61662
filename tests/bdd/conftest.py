"""The Gherkin scenarios' fixture: one `Scene` per scenario.

The step definitions live in tests/bdd/steps/, one module per feature (`workstation` holds
the steps every feature shares); tests/conftest.py registers them all through
`pytest_plugins`, so every test module finds every step. Steps are thin: they call the world
API of `simulator.world.World` or the controller through `simulator.harness.Station` (the
same objects the hypothesis state machine and the campaigns drive), or run the real `mode`
and `mode-sim` commands as processes; they never reach into the simulator's models.
"""

from __future__ import annotations

import pytest

from tests.bdd.scene import Scene


@pytest.fixture
def scene() -> Scene:
    return Scene()
