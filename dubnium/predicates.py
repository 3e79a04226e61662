"""Unit and session predicates over one snapshot: pure, total (unavailable evidence is False).

Called by the step executor's bounded waits and the attempt's decisions; one place for the
questions "is this unit up / failed / stopped" and "is there a graphical session".
"""

from __future__ import annotations

from dubnium import evidence as ev
from dubnium.facts import ActiveState, HostFacts, Unavailable


def unit_active(facts: HostFacts, unit: str) -> bool:
    """The unit is active (unreadable unit states: not known to be)."""
    return not isinstance(facts.units, Unavailable) and facts.units.is_active(unit)


def unit_failed(facts: HostFacts, unit: str) -> bool:
    """The unit is in the failed state."""
    return not isinstance(facts.units, Unavailable) and (
        facts.units.get(unit).active is ActiveState.FAILED
    )


def unit_stopped(facts: HostFacts, unit: str) -> bool:
    """The unit is inactive or failed: nothing of it runs."""
    return not isinstance(facts.units, Unavailable) and facts.units.get(unit).active in (
        ActiveState.INACTIVE, ActiveState.FAILED
    )


def has_graphical(facts: HostFacts) -> bool:
    """A graphical session is present (unreadable sessions: not known to be)."""
    sessions = ev.graphical_sessions(facts)
    return not isinstance(sessions, Unavailable) and bool(sessions)


def unit_starting_or_active(facts: HostFacts, unit: str) -> bool:
    """A start of the unit has taken effect: it is active or on its way there."""
    return not isinstance(facts.units, Unavailable) and facts.units.get(unit).active in (
        ActiveState.ACTIVE, ActiveState.RELOADING, ActiveState.ACTIVATING
    )


def unit_stopping_or_stopped(facts: HostFacts, unit: str) -> bool:
    """A stop of the unit has taken effect: it is inactive, failed or on its way down."""
    return not isinstance(facts.units, Unavailable) and facts.units.get(unit).active in (
        ActiveState.INACTIVE, ActiveState.FAILED, ActiveState.DEACTIVATING
    )
