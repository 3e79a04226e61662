"""The idle side of both backends (`idle_facts()`): the simulator's seat against real logind.

Same harness as test_backend_contract.py: the simulator always, the live backend on its own
test host (marked `host`). Ordered: the first test needs the boot's untouched session.
"""

from __future__ import annotations

from dubnium.facts import Unavailable
from dubnium.idle import IdleFacts, IdleSource, Inhibitor, SessionIdle
from tests.contract.harness import Harness


def idle_facts(harness: Harness) -> IdleFacts:
    backend = harness.backend
    assert isinstance(backend, IdleSource)
    return backend.idle_facts()


def graphical(facts: IdleFacts) -> list[SessionIdle]:
    assert not isinstance(facts.sessions, Unavailable), facts.sessions
    return [s for s in facts.sessions if s.graphical]


def idle_locks(facts: IdleFacts) -> list[Inhibitor]:
    assert not isinstance(facts.inhibitors, Unavailable), facts.inhibitors
    return [x for x in facts.inhibitors if "idle" in x.what]


def test_a_fresh_wayland_session_has_never_set_the_idle_hint(harness: Harness) -> None:
    """After boot: one local wayland session, IdleHint no, IdleSinceHint 0; no idle lock."""
    facts = idle_facts(harness)
    assert ([("wayland", "user", False, False, 0)], []) == (
        [(s.type, s.class_, s.remote, s.idle_hint, s.idle_since_ns) for s in graphical(facts)],
        idle_locks(facts))


def test_an_idle_hint_set_inside_the_session_is_read_with_its_time(harness: Harness) -> None:
    """SetIdleHint(true) from the session: IdleHint yes, IdleSinceHint the wall time it
    happened (between two readings of the backend's clock)."""
    before = harness.backend.clock.wall_ns()
    harness.set_idle_hint(True)
    after = harness.backend.clock.wall_ns()
    [session] = graphical(idle_facts(harness))
    assert (True, True) == (session.idle_hint,
                            before - 1_000_000 <= session.idle_since_ns <= after + 1_000_000)


def test_an_idle_inhibitor_is_listed_with_its_holder(harness: Harness) -> None:
    """`systemd-inhibit --what=idle --who=render --why=Baking` is one block-mode idle lock
    naming its holder, the reason and a live pid."""
    with harness.inhibitor("render", "Baking"):
        locks = idle_locks(idle_facts(harness))
    assert [(("idle",), "render", "Baking", "block", True)] == [
        (x.what, x.who, x.why, x.mode, x.pid > 0) for x in locks]
