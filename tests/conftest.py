"""Shared pytest configuration: hypothesis profiles, and the rule that GPU tests say why."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The Gherkin step definitions, one module per feature (tests/bdd/steps/): registered here so
# that every feature file finds every step.
pytest_plugins = [
    f"tests.bdd.steps.{name}"
    for name in ("workstation", "guards", "gpu_release", "observer", "control", "cli", "exo",
                 "regressions", "contracts", "journal", "idle", "terminal")
]
