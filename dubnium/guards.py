"""Guards: one guard checks one thing and returns a Verdict.

Called by the reconciler (before each leg's actions, and `gpu_display_released` after the GUI
is gone) and by the CLI (`mode guards`, `mode explain`). A verdict carries a stable id, its
severity (hard blocks, soft warns), an exit code (0 pass, 10-19 or 30-39 the guard's own block code,
20 when its evidence could not be read) and the evidence it saw. A guard whose evidence is
unavailable never passes: a check error blocks whatever the guard's severity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from dubnium import evidence as ev
from dubnium.codes import GuardId
from dubnium.facts import ActiveState, HostFacts, LoadState, Unavailable
from dubnium.modes import Mode
from dubnium.policy import Policy
from dubnium.verdicts import SCHEMA_VERSION as SCHEMA_VERSION  # noqa: PLC0414 (re-exported)
from dubnium.verdicts import GuardReport as GuardReport  # noqa: PLC0414
from dubnium.verdicts import Phase as Phase  # noqa: PLC0414
from dubnium.verdicts import Severity as Severity  # noqa: PLC0414
from dubnium.verdicts import Status as Status  # noqa: PLC0414
from dubnium.verdicts import Verdict as Verdict  # noqa: PLC0414


class _Check:
    """Builds the verdict of one guard with the severity the policy gives it."""

    def __init__(self, guard: GuardId, policy: Policy) -> None:
        self.guard = guard
        self.severity = Severity.SOFT if guard.value in policy.thresholds.soft else Severity.HARD

    def passed(self, reason: str, **evidence: Any) -> Verdict:
        return Verdict(self.guard, self.severity, Status.PASS, reason, evidence)

    def blocked(self, reason: str, **evidence: Any) -> Verdict:
        return Verdict(self.guard, self.severity, Status.BLOCK, reason, evidence)

    def error(self, missing: Unavailable | str) -> Verdict:
        why = missing.reason if isinstance(missing, Unavailable) else missing
        return Verdict(
            self.guard, self.severity, Status.ERROR, f"cannot check: {why}", {"unavailable": why}
        )


GuardFn = Callable[[HostFacts, Policy, Mode], Verdict]


def target_reachable(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """The units the target needs are installed (loaded, not masked or missing)."""
    check = _Check(GuardId.TARGET_REACHABLE, policy)
    if isinstance(facts.units, Unavailable):
        return check.error(facts.units)
    names = policy.units
    needed = {
        Mode.DESKTOP: [names.desktop_target, names.graphical_target],
        Mode.STUDIO_LOCAL: [names.desktop_target, names.studio_policy, names.audio_priority],
        Mode.COMPUTE: [names.compute_target, *policy.compute_workloads],
    }[target]
    states = {n: facts.units.get(n).load.value for n in needed}
    bad = {n: s for n, s in states.items() if s != LoadState.LOADED.value}
    if bad:
        listed = ", ".join(f"{n} is {s}" for n, s in bad.items())
        return check.blocked(f"{target.value} is not reachable: {listed}", units=states)
    return check.passed(f"{', '.join(needed)} loaded", units=states)


def audio_idle(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """G1: no running audio stream, no JACK client, no REAPER process."""
    check = _Check(GuardId.AUDIO_IDLE, policy)
    activity = ev.audio_activity(facts, policy)
    if isinstance(activity, Unavailable):
        return check.error(activity)
    if not activity.active:
        return check.passed("no audio streams, JACK clients or REAPER", **activity.to_json())
    parts = [f"audio stream {n.name!r}" for n in activity.streams]
    parts += [f"JACK client {n.name!r}" for n in activity.jack_clients]
    parts += [f"REAPER (pid {p.pid})" for p in activity.reaper]
    return check.blocked("audio is active: " + ", ".join(parts), **activity.to_json())


def graphical_session_terminable(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """Every graphical session has a known leader and belongs to one user."""
    check = _Check(GuardId.GRAPHICAL_SESSION_TERMINABLE, policy)
    sessions = ev.graphical_sessions(facts)
    if isinstance(sessions, Unavailable):
        return check.error(sessions)
    listed = [{"id": s.id, "user": s.user, "class": s.class_, "leader": s.leader}
              for s in sessions]
    unknown_leader = [s.id for s in sessions if s.leader <= 0]
    if unknown_leader:
        return check.blocked(
            f"session(s) {', '.join(unknown_leader)} have no known leader: their end could "
            "not be verified", sessions=listed,
        )
    users = sorted({s.user for s in sessions if s.class_ == "user"})
    if len(users) > 1:
        return check.blocked(
            f"graphical sessions of {len(users)} users ({', '.join(users)}): not ending "
            "another person's session", sessions=listed,
        )
    return check.passed(f"{len(sessions)} graphical session(s), terminable", sessions=listed)


def gpu_display_released(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """G2, post-action: no compositor, no graphics process, residual under the threshold."""
    check = _Check(GuardId.GPU_DISPLAY_RELEASED, policy)
    release = ev.display_release(facts, policy)
    if release.status is ev.ReleaseStatus.UNKNOWN:
        return check.error(release.reason)
    if release.status is ev.ReleaseStatus.RELEASED:
        return check.passed(f"display GPU {release.gpu_index} released: {release.reason}",
                            release=release.to_json())
    return check.blocked(
        f"display GPU {release.gpu_index} not released: {release.reason}",
        release=release.to_json(),
    )


def cpu_load_safe(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """G3: one-minute load per core under the policy threshold."""
    check = _Check(GuardId.CPU_LOAD_SAFE, policy)
    if isinstance(facts.load, Unavailable):
        return check.error(facts.load)
    limit = policy.thresholds.cpu_load_per_core_max
    per_core = round(facts.load.per_core, 3)
    evidence = {"load1": facts.load.load1, "cpus": facts.load.cpus, "per_core": per_core,
                "max_per_core": limit}
    if per_core > limit:
        return check.blocked(f"load {per_core} per core above {limit}", **evidence)
    return check.passed(f"load {per_core} per core within {limit}", **evidence)


def user_jobs_safe(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """G4: no known long-running user job (build tools past the runtime threshold)."""
    check = _Check(GuardId.USER_JOBS_SAFE, policy)
    jobs = ev.user_jobs(facts, policy)
    if isinstance(jobs, Unavailable):
        return check.error(jobs)
    listed = [{"pid": p.pid, "comm": p.comm, "runtime_s": round(p.runtime_s)} for p in jobs]
    if jobs:
        names = ", ".join(f"{p.comm} (pid {p.pid}, {round(p.runtime_s)} s)" for p in jobs)
        return check.blocked(f"long-running user job(s): {names}", jobs=listed)
    return check.passed("no long-running user jobs", jobs=listed)


def memory_headroom(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """G5: enough available RAM for the switch."""
    check = _Check(GuardId.MEMORY_HEADROOM, policy)
    if isinstance(facts.memory, Unavailable):
        return check.error(facts.memory)
    minimum = policy.thresholds.memory_available_min_mib
    evidence = {"available_mib": facts.memory.available_mib, "min_mib": minimum}
    if facts.memory.available_mib < minimum:
        return check.blocked(
            f"{facts.memory.available_mib} MiB available, {minimum} MiB required", **evidence
        )
    return check.passed(f"{facts.memory.available_mib} MiB available", **evidence)


def vllm_drainable(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """vLLM (and EXO where enabled) can be stopped: not stuck mid-start or mid-stop."""
    check = _Check(GuardId.VLLM_DRAINABLE, policy)
    if isinstance(facts.units, Unavailable):
        return check.error(facts.units)
    units = [facts.units.get(name) for name in policy.compute_workloads or (policy.units.vllm,)]
    evidence = {u.name: {"active": u.active.value, "load": u.load.value} for u in units}
    busy = [u for u in units if u.active in (ActiveState.ACTIVATING, ActiveState.DEACTIVATING)]
    if busy:
        listed = ", ".join(f"{u.name} is {u.active.value}" for u in busy)
        return check.blocked(f"{listed}: wait for it to settle", units=evidence)
    listed = ", ".join(f"{u.name} {u.active.value}" for u in units)
    return check.passed(f"can be stopped ({listed})", units=evidence)


def capability_local(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """check_studio/compute_capability_local: the capability is placed on this host."""
    check = _Check(GuardId.CAPABILITY_LOCAL, policy)
    capability = {Mode.STUDIO_LOCAL: "studio", Mode.COMPUTE: "compute"}.get(target)
    if capability is None:
        return check.passed("desktop is always local", capability=None)
    placed = getattr(policy.placement, capability)
    if placed != "local":
        return check.blocked(
            f"the {capability} capability is placed {placed}: {target.value} is disabled here",
            capability=capability, placement=placed,
        )
    return check.passed(f"the {capability} capability is local", capability=capability,
                        placement=placed)


def persistence_paths_ready(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """Model store, state directory and audit directory exist and are writable."""
    check = _Check(GuardId.PERSISTENCE_PATHS_READY, policy)
    if isinstance(facts.paths, Unavailable):
        return check.error(facts.paths)
    problems = []
    listed = []
    for p in facts.paths:
        listed.append(attrs.asdict(p))
        if not p.exists:
            problems.append(f"{p.path} does not exist")
        elif not p.writable:
            problems.append(f"{p.path} is not writable")
        elif (
            p.path == policy.paths.model_store
            and p.free_mib is not None
            and p.free_mib < policy.thresholds.model_store_free_min_mib
        ):
            problems.append(
                f"{p.path} has {p.free_mib} MiB free, "
                f"{policy.thresholds.model_store_free_min_mib} MiB required"
            )
    if problems:
        return check.blocked("; ".join(problems), paths=listed)
    return check.passed(f"{len(listed)} path(s) ready", paths=listed)


def model_present(facts: HostFacts, policy: Policy, target: Mode) -> Verdict:
    """The configured vLLM model is in the local model store: vLLM never downloads it
    (HF_HUB_OFFLINE), so without it compute would fail after the GUI is gone."""
    check = _Check(GuardId.MODEL_PRESENT, policy)
    if not policy.vllm.enable or target is not Mode.COMPUTE:
        return check.passed("vLLM is not part of this target")
    if facts.model is None:
        return check.error(f"the model at {policy.vllm_model_path} was not looked at")
    if isinstance(facts.model, Unavailable):
        return check.error(facts.model)
    model = facts.model
    seen = attrs.asdict(model)
    if not model.present:
        return check.blocked(
            f"model {policy.vllm.model} is not in the model store ({model.path} has no "
            "config.json and weights); seed it first: docs/runbooks/model-seeding.md",
            model=seen)
    return check.passed(f"model {policy.vllm.model} is present ({model.weight_files} weight "
                        f"file(s), {model.size_mib} MiB)", model=seen)


GUARDS: dict[GuardId, GuardFn] = {
    GuardId.TARGET_REACHABLE: target_reachable,
    GuardId.AUDIO_IDLE: audio_idle,
    GuardId.GRAPHICAL_SESSION_TERMINABLE: graphical_session_terminable,
    GuardId.GPU_DISPLAY_RELEASED: gpu_display_released,
    GuardId.CPU_LOAD_SAFE: cpu_load_safe,
    GuardId.USER_JOBS_SAFE: user_jobs_safe,
    GuardId.MEMORY_HEADROOM: memory_headroom,
    GuardId.VLLM_DRAINABLE: vllm_drainable,
    GuardId.CAPABILITY_LOCAL: capability_local,
    GuardId.PERSISTENCE_PATHS_READY: persistence_paths_ready,
    GuardId.MODEL_PRESENT: model_present,
}

PHASES: dict[GuardId, Phase] = dict.fromkeys(GuardId, Phase.PRE) | {
    GuardId.GPU_DISPLAY_RELEASED: Phase.POST
}


def evaluate(
    ids: Sequence[GuardId], facts: HostFacts, policy: Policy, target: Mode
) -> GuardReport:
    """Run the named guards, in order, on one snapshot."""
    return GuardReport(target, tuple(GUARDS[g](facts, policy, target) for g in ids))
