"""Every scenario in features/, bound to the steps in tests/bdd/steps/ (see conftest.py)."""

from pytest_bdd import scenarios

scenarios(".")
