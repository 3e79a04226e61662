"""NVML without daemons: a clean report where there is no GPU; the real thing where one is lent.

Without a driver (this CI machine), the adapter must return Unavailable carrying NVML's
error value and text, never raise. Tests marked `gpu` need a real NVIDIA driver: they say so
and do not run elsewhere (docs/nvml.md records where they ran). The adapter against the test
host's stand-in libnvidia-ml is in tests/host/test_nvml.py.
"""

from __future__ import annotations

import ctypes.util
import json
import sys

import pytest

from backends.nvml import NvmlAdapter
from dubnium.facts import GpuFact, Unavailable


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
