"""The automation campaign (simulator/idle_campaign.py): it acts, it holds, and it can fail."""

from __future__ import annotations

from dubnium.idle import BY
from dubnium.idlewatch import IdleWatcher, Tick
from dubnium.modes import Mode
from simulator.idle_campaign import IdleRun, run_idle_campaign, summary


class Reckless(IdleWatcher):
    """A broken watcher: requests compute whenever the owner's session says idle, ignoring
    locks, pauses and the studio (what the invariant exists to catch)."""

    def tick(self) -> Tick:
        ev = self.evaluate()
        held = {c.id.value: c.held for c in ev.inputs.conditions}
        result = None
        if held["session_idle"] and ev.observation.state.value in ("desktop", "studio-local"):
            result = self.rec.request(Mode.COMPUTE, by=BY)
        self.write_state(ev.decision.state)
        return Tick(ev, result)


def test_the_campaign_holds_with_automation_acting() -> None:
    """40 seeds of automation ops (`mode-sim idle-campaign` runs more): 0 violations, and
    automation did promote and wake."""
    result = summary(run_idle_campaign(range(40)))
    assert [] == result["violations"]
    assert (True, True) == (result["promotions"] >= 5, result["wakes"] >= 1), result


def test_the_invariant_catches_a_watcher_that_ignores_its_blocks() -> None:
    """The reckless watcher is caught requesting compute from studio-local, under an
    inhibitor lock and during a pause."""
    rules = {v["rule"] for v in summary(run_idle_campaign(range(30), watcher=Reckless))[
        "violations"]}
    assert {"never-from-studio-local", "never-while-inhibited", "never-while-paused"} <= rules


def test_a_seed_replays_identically() -> None:
    """The same seed draws the same operations and ends with the same audit log."""
    first, second = IdleRun(7), IdleRun(7)
    first.run()
    second.run()
    assert (first.result.trail, first.station.audit.lines) == (
        second.result.trail, second.station.audit.lines)
