"""Every scenario in features/, bound to the shared steps in tests/bdd/conftest.py."""

from pytest_bdd import scenarios

scenarios(".")
