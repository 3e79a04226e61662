"""NVML: a clean report where there is no GPU; the real thing where one is lent.

Without a driver (this CI machine), the adapter must return Unavailable carrying NVML's
error value and text, never raise, and `describe()` must say the GPUs are not observable.
The adapter's ABI use (structs, versioned entry points) is exercised against the test
host's stand-in libnvidia-ml. Tests marked `gpu` need a real NVIDIA driver: they say so and
do not run elsewhere (docs/nvml.md records where they ran).
"""

from __future__ import annotations

import ctypes.util
import json
import sys

import pytest

from backends.nvml import NvmlAdapter
from dubnium.facts import GpuFact, Unavailable
from tests.host.testhost import INNER, REPO, TestHost


def real_nvml() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


needs_no_driver = pytest.mark.skipif(
    real_nvml(), reason="a real libnvidia-ml.so.1 is present: the no-driver report is moot"
)
needs_gpu = pytest.mark.skipif(
    not real_nvml(), reason="no NVIDIA driver (libnvidia-ml.so.1) on this machine"
)


@needs_no_driver
def test_no_driver_is_a_clean_unavailable() -> None:
    """No driver: Unavailable with NVML's value 12 and its text, not an exception."""
    assert Unavailable("NVML error 12: NVML Shared Library Not Found") == NvmlAdapter().read()


@needs_no_driver
def test_no_driver_library_search_is_what_pynvml_does() -> None:
    """The report is true: the loader cannot find the library pynvml asks for."""
    assert ctypes.util.find_library("nvidia-ml") is None


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


@pytest.mark.gpu
@needs_gpu
def test_real_gpus_report_uuid_and_memory() -> None:
    """On a machine with an NVIDIA driver: every GPU has a UUID and sane memory numbers."""
    gpus = NvmlAdapter().read()
    assert isinstance(gpus, tuple)
    assert all(isinstance(g, GpuFact) for g in gpus)
    assert all(g.uuid.startswith("GPU-") for g in gpus)
    assert all(0 <= g.memory_used_mib <= g.memory_total_mib for g in gpus)
    print(json.dumps([[g.index, g.uuid, g.name, g.memory_total_mib] for g in gpus]),
          file=sys.stderr)
