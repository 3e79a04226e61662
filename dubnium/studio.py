"""The studio tuning steps of a transition: save, apply (verified by reading back), restore.

Called by the reconciler for the plan steps `SaveStudioTuning`, `ApplyStudioTuning` and
`RestoreStudioTuning` (dubnium.plan). What was in force before studio-local (PipeWire's
clock.force-quantum / clock.force-rate, each cpufreq policy's governor and EPP) and the
xrun count at entry are saved in the runtime state before anything changes, so leaving
restores those exact values, also when the controller that entered was killed: the next
one finds the snapshot and restores from it. A call that reports success is not evidence:
every apply and restore is read back through `Backend.observe()`.

A step that cannot do its job raises `TuningFailed`; the reconciler turns it into a failed
step (and rolls back). `act(call, what)` is the reconciler's bounded retry of one action.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from dubnium.backend import Backend
from dubnium.errors import StateCorrupt, TuningFailed
from dubnium.facts import Unavailable
from dubnium.policy import Policy
from dubnium.state import RuntimeState
from dubnium.studiofacts import AudioClock, CpuFreq, CpuSetting
from dubnium.tuning import (
    SAVED_TUNING,
    Tuning,
    in_force,
    missing_terms,
    wanted_cpu,
    xruns_since,
)

Act = Callable[[Callable[[], None], str], None]


def saved_tuning(state: RuntimeState) -> Tuning | None:
    """The snapshot saved on entry; StateCorrupt when it is unreadable."""
    data = state.read_json(SAVED_TUNING)
    if data is None:
        return None
    try:
        return Tuning.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateCorrupt(f"{SAVED_TUNING}: {exc}") from None


def xruns_since_entry(state: RuntimeState, evidence: Mapping[str, Any]) -> int | None:
    """xruns since studio-local was entered (`mode status`, from an observation's evidence);
    None when not known."""
    raw = evidence.get("audio_clock")
    try:
        clock = AudioClock(**raw) if isinstance(raw, Mapping) else None
        return xruns_since(saved_tuning(state), clock)
    except (StateCorrupt, TypeError):
        return None


def _readings(backend: Backend) -> tuple[AudioClock | None, CpuFreq]:
    facts = backend.observe()
    clock, freq = facts.audio_clock, facts.cpufreq
    if isinstance(clock, Unavailable):
        raise TuningFailed(f"cannot read PipeWire's clock settings: {clock.reason}")
    if isinstance(freq, Unavailable):
        raise TuningFailed(f"cannot read cpufreq: {freq.reason}")
    return clock, freq or CpuFreq(())


def save(backend: Backend, state: RuntimeState, policy: Policy, now: str,
         notes: list[str]) -> str:
    """Remember what is in force (and the xrun count) before studio-local changes it."""
    clock, freq = _readings(backend)
    try:
        earlier = saved_tuning(state)
    except StateCorrupt as exc:
        notes.append(f"replaced unreadable saved studio tuning ({exc})")
        earlier = None
    if earlier is not None and in_force(clock, freq, policy):
        return "kept the tuning saved by an earlier, unfinished entry"
    touches_clock = policy.studio.quantum is not None or policy.studio.rate is not None
    tuning = Tuning(
        force_quantum=clock.force_quantum if clock is not None and touches_clock else None,
        force_rate=clock.force_rate if clock is not None and touches_clock else None,
        cpu=tuple(CpuSetting(p.name, p.governor, p.epp) for p in freq.policies)
        if policy.studio.governor is not None else (),
        xruns=clock.xruns if clock is not None else None,
        saved_at=now,
    )
    state.write_json(SAVED_TUNING, tuning.to_json())
    return (f"saved clock.force-quantum={tuning.force_quantum}, clock.force-rate="
            f"{tuning.force_rate}, governors {_governors(tuning.cpu)}, xruns {tuning.xruns}")


def apply(backend: Backend, policy: Policy, act: Act) -> str:
    """Force the policy's quantum/rate and governor, then read them back."""
    studio = policy.studio
    clock, freq = _readings(backend)
    done = []
    if studio.quantum is not None or studio.rate is not None:
        if clock is None:
            raise TuningFailed(f"no PipeWire of uid {studio.audio_uid} to force the clock of")
        quantum = clock.force_quantum if studio.quantum is None else studio.quantum
        rate = clock.force_rate if studio.rate is None else studio.rate
        act(functools.partial(backend.set_audio_clock, quantum, rate),
            f"pw-metadata clock.force-quantum={quantum} clock.force-rate={rate}")
        done.append(f"clock.force-quantum={quantum} clock.force-rate={rate}")
    settings = wanted_cpu(policy, freq)
    for setting in settings:
        act(functools.partial(backend.set_cpu_policy, setting),
            f"cpufreq {setting.policy} governor {setting.governor}")
    if studio.governor is not None:
        done.append(f"governor {studio.governor} on {len(settings)} cpufreq policies"
                    if settings else "no cpufreq on this machine: governor left alone")
    after_clock, after_freq = _readings(backend)
    wrong = missing_terms(after_clock, after_freq, policy)
    if wrong:
        raise TuningFailed("not in force after the calls: " + "; ".join(wrong))
    return ("; ".join(done) or "nothing to tune") + " (read back)"


def restore(backend: Backend, state: RuntimeState, policy: Policy, act: Act,
            notes: list[str]) -> str:
    """Put back exactly what was saved on entry.

    With no snapshot, only a clock that still carries studio-local's own forced values is
    un-forced (0); anything else (an owner's own setting, the governors) is left alone.
    """
    try:
        saved = saved_tuning(state)
    except StateCorrupt as exc:
        notes.append(f"saved studio tuning unreadable ({exc}); un-forced the PipeWire clock "
                     "and left the governors")
        saved = None
    try:
        clock, freq = _readings(backend)
    except TuningFailed as exc:
        if saved is None:  # nothing of ours to restore: do not fail a leg over it
            return f"nothing saved to restore ({exc})"
        raise
    quantum: int | None
    rate: int | None
    if saved is not None:
        quantum, rate = saved.force_quantum, saved.force_rate
    elif clock is not None and policy.studio.quantum is not None and (
            clock.force_quantum == policy.studio.quantum):
        quantum, rate = 0, 0 if policy.studio.rate is not None else clock.force_rate
    else:
        quantum = rate = None
    done = []
    if clock is not None and quantum is not None and rate is not None and (
            (clock.force_quantum, clock.force_rate) != (quantum, rate)):
        act(functools.partial(backend.set_audio_clock, quantum, rate),
            f"pw-metadata clock.force-quantum={quantum} clock.force-rate={rate}")
    if quantum is not None and rate is not None:
        done.append(f"clock.force-quantum={quantum} clock.force-rate={rate}")
    cpu = saved.cpu if saved is not None else ()
    current = {p.name: p for p in freq.policies}
    for setting in cpu:
        now = current.get(setting.policy)
        if now is None or (now.governor, now.epp) != (setting.governor, setting.epp):
            act(functools.partial(backend.set_cpu_policy, setting),
                f"cpufreq {setting.policy} governor {setting.governor}")
    if cpu:
        done.append(f"governors {_governors(cpu)}")
    after_clock, after_freq = _readings(backend)
    problems = []
    if after_clock is not None and quantum is not None and rate is not None and (
            (after_clock.force_quantum, after_clock.force_rate) != (quantum, rate)):
        problems.append(f"PipeWire clock is force-quantum={after_clock.force_quantum} "
                        f"force-rate={after_clock.force_rate}, not {quantum}/{rate}")
    seen = {p.name: (p.governor, p.epp) for p in after_freq.policies}
    for setting in cpu:
        if seen.get(setting.policy) != (setting.governor, setting.epp):
            problems.append(f"cpufreq {setting.policy} is {seen.get(setting.policy)}, not "
                            f"{(setting.governor, setting.epp)}")
    if problems:
        raise TuningFailed("not restored: " + "; ".join(problems))
    xruns = _xrun_note(saved, after_clock)
    state.store.remove(SAVED_TUNING)
    restored = "restored " + ("; ".join(done) or "nothing (no tuning saved)")
    return f"{restored} (read back){xruns}"


def _xrun_note(saved: Tuning | None, clock: AudioClock | None) -> str:
    if clock is None or clock.xruns is None:
        return "; xruns: not exposed by this PipeWire"
    if saved is None or saved.xruns is None:
        return f"; xruns at exit {clock.xruns} (no count at entry)"
    return (f"; xruns during studio-local: {max(0, clock.xruns - saved.xruns)} "
            f"(entry {saved.xruns}, exit {clock.xruns})")


def _governors(cpu: tuple[CpuSetting, ...]) -> str:
    if not cpu:
        return "(none)"
    kinds = sorted({(c.governor, c.epp) for c in cpu}, key=str)
    return ", ".join(f"{g}" + (f"/{e}" if e else "") for g, e in kinds)
