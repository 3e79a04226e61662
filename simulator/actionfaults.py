"""Action-fault injection: a backend call that fails, times out after taking effect, or
reports success while doing nothing.

The faults are data (`ActionFault`, a frozen attrs value) so a fault plan and a saved world
carry them as JSON. `World.inject_action_fault` queues one (a recorded world change);
`SimBackend` passes every action through `perform`, which consumes the first matching fault
and applies its effect. Nothing here knows the world or the backend: the queue is a plain
list the world owns.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import attrs

from dubnium.errors import BackendError


class FaultEffect(StrEnum):
    ERROR = "error"  # the call fails and nothing happens
    TIMEOUT = "timeout"  # the call takes effect, then reports a (temporary) timeout
    IGNORED = "ignored"  # the call reports success and nothing happens


@attrs.frozen
class ActionFault:
    """An injected fault on a backend action: which action, on what, how, how many times."""

    action: str  # start_unit, stop_unit, isolate, set_slice_properties, terminate_session,
    #              write_vllm_profile
    effect: FaultEffect = FaultEffect.ERROR
    target: str = ""  # the unit, slice or session id; "" for any
    temporary: bool = True
    times: int = 1  # how many calls it hits; -1 for every call


def take(faults: list[ActionFault], action: str, target: str) -> ActionFault | None:
    """The fault that hits this call, if any (consuming one of its `times` from `faults`)."""
    for i, fault in enumerate(faults):
        if fault.action == action and fault.target in ("", target):
            if fault.times > 0:
                if fault.times == 1:
                    del faults[i]
                else:
                    faults[i] = attrs.evolve(fault, times=fault.times - 1)
            return fault
    return None


def perform(faults: list[ActionFault], action: str, target: str,
            effect: Callable[[], None]) -> None:
    """Run `effect` for the call `action` on `target`, as the first matching fault says.

    No fault: the effect runs. IGNORED: nothing runs, success is reported. TIMEOUT: the
    effect runs, then a temporary BackendError. ERROR: a BackendError, nothing runs.
    """
    fault = take(faults, action, target)
    if fault is None:
        effect()
        return
    if fault.effect is FaultEffect.IGNORED:
        return
    if fault.effect is FaultEffect.TIMEOUT:
        effect()
        raise BackendError(f"{action} {target}: Connection timed out", temporary=True)
    raise BackendError(f"{action} {target}: injected failure", temporary=fault.temporary)
