"""pytest fixtures around the test host, shared by tests/host and tests/contract.

Booting needs root and the Debian packages of scripts/apt-packages.txt. Where it cannot
boot, a host test is skipped with the reason, except under CI=true, where the host tests
must run: there the reason fails the test loudly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.host.testhost import TestHost, can_boot, running_test_host


def require_test_host() -> None:
    """Skip (or, under CI=true, fail) with the reason this machine cannot boot one."""
    why = can_boot()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must boot the test host, but: {why}")
    pytest.skip(f"cannot boot the test host here: {why}")


def booted_host() -> Iterator[TestHost]:
    """Generator body of the host fixtures (one host per fixture scope)."""
    require_test_host()
    with running_test_host() as host:
        yield host
