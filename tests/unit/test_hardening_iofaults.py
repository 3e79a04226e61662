"""I/O faults as data: the campaign's simulated disk and the invariants that judge it.

The disk (`simulator.iofaults.SimDisk`) runs `dubnium.fsutil.write_all` with short writes,
then ENOSPC or EIO; each fault kind ends the request with a storage failure (exit 8 for
`mode`) and every invariant holds: no success record without `last-transition.json`, every
state file parses (no short file in place), the audit keeps every earlier line.
"""

from __future__ import annotations

import errno

import pytest

from dubnium.modes import Mode
from simulator.campaign import Run
from simulator.faults import FaultKind, FaultPlan, fault, request
from simulator.iofaults import HOWS, SimDisk


@pytest.mark.parametrize("how", HOWS)
def test_each_storage_fault_stops_the_request_and_every_invariant_holds(how: str) -> None:
    """Full, EIO on write, EIO on fsync, read-only: storage-failed, no violation, healed."""
    ops = (request("studio-local"), fault("storage_fault", how=how, free_bytes=200, times=5),
           request("compute"), request("desktop"))
    run = Run(FaultPlan(3, 2, (FaultKind.STORAGE_FAULT,), ops))
    result = run.run()
    assert (list(result.violations), result.crash) == ([], None)
    assert run.log[:2] == ["converged", "storage-failed"]
    # after healing, liveness asks for desktop (the last request): it is reached
    assert run.log[-1] in ("converged", "already-converged")


def test_a_nearly_full_disk_takes_small_files_and_refuses_large_ones_whole() -> None:
    """200 bytes free: 8 bytes fit; 20 KB raise ENOSPC after short writes, nothing kept."""
    disk = SimDisk(free_bytes=200)
    disk.write_file(b"compute\n")
    with pytest.raises(OSError, match="No space") as raised:
        disk.write_file(b"x" * 20_000)
    assert (raised.value.errno, disk.free_bytes, disk.failures) == (errno.ENOSPC, 192, 1)


def test_an_fsync_error_is_not_taken_for_success() -> None:
    """EIO at fsync: the write raises (the temp file is never renamed into place)."""
    disk = SimDisk(eio_fsyncs=1)
    with pytest.raises(OSError, match="Input/output error"):
        disk.write_file(b"{}")
    disk.write_file(b"{}")  # the next one succeeds
    assert disk.failures == 1


def test_the_durability_invariant_catches_a_success_without_its_record() -> None:
    """A converged record whose last-transition.json is missing is a safety violation."""
    run = Run(FaultPlan(1, 2, (), (request("compute"),)))
    run.run()
    run.store.remove("last-transition.json")
    run.checker.check_durable({"attempt": "x", "outcome": "converged"})
    assert [v.rule for v in run.checker.violations] == ["no success without durable state"]


def test_the_audit_invariant_catches_a_lost_earlier_line() -> None:
    """Rewriting an earlier audit line (what a truncating writer would do) is a violation."""
    run = Run(FaultPlan(1, 2, (), (request(Mode.COMPUTE), request(Mode.DESKTOP))))
    run.run()
    run.station.audit.lines[0] = run.station.audit.lines[0][:20]
    run.checker.check_audit()
    assert [v.rule for v in run.checker.violations] == ["the audit never loses an earlier line"]
