"""The contract suite's fixture: one harness per backend (simulator always, the real
backend on a booted test host, marked `host`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.harness import Harness, HostHarness, SimHarness
from tests.host.fixtures import booted_host
from tests.host.testhost import TestHost


@pytest.fixture(scope="module")
def contract_test_host() -> Iterator[TestHost]:
    yield from booted_host()


@pytest.fixture(params=["sim", pytest.param("host", marks=pytest.mark.host)])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "sim":
        yield SimHarness()
        return
    host = request.getfixturevalue("contract_test_host")
    h = HostHarness(host)
    try:
        yield h
    finally:
        h.restore()
