"""Every scenario in features/, bound to the shared steps in tests/bdd/conftest.py."""

from pytest_bdd import scenarios

scenarios(".")

# The idle automation steps live in their own module; pytest-bdd finds steps among this
# module's names.
from tests.bdd.idle_steps import *  # noqa: E402, F403
from tests.bdd.journal_steps import *  # noqa: E402, F403
