"""NVML on the test host: the adapter's ABI use (structs, versioned entry points) against
the host's stand-in libnvidia-ml (tests/host/fake_nvml.c). The tests that need no daemon
(no driver; a real GPU where one is lent) are in tests/adapters/test_nvml.py.
"""

from __future__ import annotations

import json

import pytest

from tests.host.testhost import INNER, REPO, TestHost


@pytest.mark.host
def test_adapter_against_the_stand_in_library(host: TestHost) -> None:
    """Through nvidia-ml-py's real ABI: 2 GPUs, the compositor as a graphics process."""
    code = (
        "import json; from backends.nvml import NvmlAdapter; i = NvmlAdapter().info(); "
        "print(json.dumps([i.driver_version, [[g.index, g.uuid, g.memory_total_mib, "
        "[[p.kind.value, p.name, p.used_mib] for p in g.processes]] for g in i.gpus]]))"
    )
    out = host.run(str(REPO / ".venv/bin/python"), "-c", code, gpus=True,
                   env={"PYTHONPATH": str(REPO)}).stdout
    assert ["0.0-dubnium-stand-in", [
        [0, "GPU-d0b00000-0000-4000-8000-000000000000", 24576,
         [["graphics", "Hyprland", 512]]],
        [1, "GPU-d0b00000-0000-4000-8000-000000000001", 24576, []],
    ]] == json.loads(out)
    assert (INNER / "lib").name == "lib"


def test_preflight_inventory_against_the_stand_in_library(host: TestHost) -> None:
    """The hardware preflight asks NVML through the same adapter (`inventory()`): the
    stand-in's driver version and both GPUs with their UUIDs and memory."""
    code = (
        "import json; from backends.preflight import read_nvml; r = read_nvml(); "
        "print(json.dumps([r.available, r.driver_version, "
        "[[g.index, g.uuid, g.memory_total_mib] for g in r.gpus]]))"
    )
    out = host.run(str(REPO / ".venv/bin/python"), "-c", code, gpus=True,
                   env={"PYTHONPATH": str(REPO)}).stdout
    assert [True, "0.0-dubnium-stand-in", [
        [0, "GPU-d0b00000-0000-4000-8000-000000000000", 24576],
        [1, "GPU-d0b00000-0000-4000-8000-000000000001", 24576],
    ]] == json.loads(out)
