"""Fixtures of the host tests: one booted test host per test module (see testhost.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.host.fixtures import booted_host
from tests.host.testhost import TestHost


@pytest.fixture(scope="module")
def host() -> Iterator[TestHost]:
    yield from booted_host()
