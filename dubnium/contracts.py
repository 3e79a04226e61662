"""Each mode's contract, written once, as the owner would check it.

Called by the observer (`dubnium.observe.classify` decides the state from these reports), by
the reconciler (an "already" answer, the repair of a host short of its mode, the term named
when a return to desktop ends degraded) and, through the observation's JSON, by
`mode current --json`, which lists every term. Purely computational: a report is a value
derived from one `HostFacts` snapshot and the policy.

A contract is a tuple of terms; each term is `pass`, `fail` or `unreadable` (its evidence
could not be read) with a one-line detail. A mode holds only when every term passes:

- desktop: desktop.target and graphical.target active; the display manager active; at least
  one graphical session (wayland or x11, online or active, not closing) whose compositor (or
  leader) is alive; vLLM and EXO stopped and no compute memory on the display GPU; the
  studio overlay units inactive; the slices at desktop values (neither the studio nor the
  compute set of values in force; values someone else set stay, ADR 0007);
- studio-local: desktop's contract with the overlay units active and the studio slice values
  in force instead;
- compute: compute.target active and the desktop targets not; the display manager inactive;
  no graphical session (a closing one whose leader or compositor lives counts) and no
  compositor process; the overlay inactive; vLLM/EXO active, on every GPU of the profile (by
  UUID) and nowhere else; the display GPU released (the release predicate of
  `dubnium.evidence`) on the full profile.

The docs/architecture.md table is the same list; the simulator's oracle
(`simulator.oracle`) writes the same contracts again from the simulated world's physical
state without importing this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

import attrs

from dubnium import evidence as ev
from dubnium import tuning
from dubnium.facts import ActiveState, HostFacts, SessionFact, SliceSettings, Unavailable, Units
from dubnium.modes import Mode
from dubnium.policy import Policy

# "inactive" in a contract means stopped: a unit still deactivating (a hung stop) is not
_DOWN = (ActiveState.INACTIVE, ActiveState.FAILED)
# systemd's values for a weight that is not set (None in SliceSettings)
_SYSTEMD_DEFAULTS = {"cpu_weight": 100, "io_weight": 100}


class TermStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNREADABLE = "unreadable"


class TermId(StrEnum):
    """Every term of every contract (stable ids: they appear in records and JSON)."""

    DESKTOP_TARGET_ACTIVE = "desktop_target_active"
    GRAPHICAL_TARGET_ACTIVE = "graphical_target_active"
    DISPLAY_MANAGER_ACTIVE = "display_manager_active"
    GRAPHICAL_SESSION_ALIVE = "graphical_session_alive"
    COMPUTE_WORKLOADS_STOPPED = "compute_workloads_stopped"
    NO_COMPUTE_ON_DISPLAY_GPU = "no_compute_on_display_gpu"
    OVERLAY_INACTIVE = "overlay_inactive"
    SLICES_AT_DESKTOP_POLICY = "slices_at_desktop_policy"
    OVERLAY_ACTIVE = "overlay_active"
    SLICES_AT_STUDIO_POLICY = "slices_at_studio_policy"
    COMPUTE_TARGET_ACTIVE = "compute_target_active"
    DESKTOP_TARGETS_INACTIVE = "desktop_targets_inactive"
    DISPLAY_MANAGER_INACTIVE = "display_manager_inactive"
    NO_GRAPHICAL_SESSION = "no_graphical_session"
    NO_COMPOSITOR = "no_compositor"
    WORKLOADS_ACTIVE = "workloads_active"
    WORKLOADS_ON_PROFILED_GPUS = "workloads_on_profiled_gpus"
    FULL_GPU_PROFILE = "full_gpu_profile"
    DISPLAY_GPU_RELEASED = "display_gpu_released"
    STUDIO_TUNING_IN_FORCE = "studio_tuning_in_force"  # issue 15: quantum, rate, governor
    NO_STUDIO_TUNING = "no_studio_tuning"  # desktop: PipeWire clock not left forced


# What the owner can do about a missing desktop term (the one-line remedy of a degraded end).
REMEDIES: Mapping[TermId, str] = {
    TermId.DESKTOP_TARGET_ACTIVE: "run `sudo mode request desktop` (isolates desktop.target)",
    TermId.GRAPHICAL_TARGET_ACTIVE: "run `sudo mode request desktop` (starts graphical.target)",
    TermId.DISPLAY_MANAGER_ACTIVE: "check `journalctl -u display-manager.service`, then "
                                   "`sudo mode request desktop`",
    TermId.GRAPHICAL_SESSION_ALIVE: "log in on the console (the display manager is up), or "
                                    "check the compositor's log, then `sudo mode request desktop`",
    TermId.COMPUTE_WORKLOADS_STOPPED: "stop them: `sudo systemctl stop vllm.service exo.service`",
    TermId.NO_COMPUTE_ON_DISPLAY_GPU: "find the process with `nvidia-smi` and end it",
    TermId.OVERLAY_INACTIVE: "run `sudo mode request desktop` (stops the studio overlay)",
    TermId.SLICES_AT_DESKTOP_POLICY: "run `sudo mode request desktop` (applies the slice values)",
    TermId.NO_STUDIO_TUNING: "run `sudo mode request desktop` (restores the PipeWire clock)",
}


@attrs.frozen
class Term:
    id: TermId
    status: TermStatus
    detail: str

    @property
    def passed(self) -> bool:
        return self.status is TermStatus.PASS

    def to_json(self) -> dict[str, str]:
        return {"term": self.id.value, "status": self.status.value, "detail": self.detail}


@attrs.frozen
class ContractReport:
    """One contract evaluated on one snapshot."""

    mode: Mode
    terms: tuple[Term, ...]

    @property
    def holds(self) -> bool:
        return all(t.passed for t in self.terms)

    @property
    def failing(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.status is TermStatus.FAIL)

    @property
    def unreadable(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.status is TermStatus.UNREADABLE)

    @property
    def missing(self) -> tuple[Term, ...]:
        """Every term that does not pass (failing or unreadable), in contract order."""
        return tuple(t for t in self.terms if not t.passed)

    def term(self, term_id: TermId) -> Term:
        for t in self.terms:
            if t.id is term_id:
                return t
        raise KeyError(term_id)

    def summary(self) -> str:
        """`holds`, or the missing terms with their details, on one line."""
        if self.holds:
            return "holds"
        return "; ".join(f"{t.id.value} {t.status.value}: {t.detail}" for t in self.missing)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "holds": self.holds,
            "terms": [t.to_json() for t in self.terms],
        }


def _term(term_id: TermId, ok: bool, detail: str) -> Term:
    return Term(term_id, TermStatus.PASS if ok else TermStatus.FAIL, detail)


def _unreadable(term_id: TermId, reason: str) -> Term:
    return Term(term_id, TermStatus.UNREADABLE, reason)


def describe_sessions(sessions: Iterable[SessionFact]) -> str:
    """`session 2 of guest (wayland, closing, leader 1234)`, comma-separated."""
    return ", ".join(f"session {s.id} of {s.user} ({s.type}, {s.state}, leader {s.leader})"
                     for s in sessions) or "none"


# ------------------------------------------------------------------ shared terms


def _unit_term(facts: HostFacts, term_id: TermId, unit: str, want_active: bool) -> Term:
    if isinstance(facts.units, Unavailable):
        return _unreadable(term_id, f"unit states: {facts.units.reason}")
    state = facts.units.get(unit).active
    ok = _is_up(facts.units, unit) if want_active else state in _DOWN
    return _term(term_id, ok, f"{unit} {state.value}")


def _is_up(units: Units, name: str) -> bool:
    return units.is_active(name)


def _units_term(facts: HostFacts, term_id: TermId, names: Iterable[str],
                want_active: bool) -> Term:
    if isinstance(facts.units, Unavailable):
        return _unreadable(term_id, f"unit states: {facts.units.reason}")
    units = facts.units
    names = tuple(names)
    wrong = [n for n in names
             if (not _is_up(units, n) if want_active else units.get(n).active not in _DOWN)]
    states = ", ".join(f"{n} {units.get(n).active.value}" for n in names) or "none enabled"
    return _term(term_id, not wrong, states)


def _compositors(facts: HostFacts, policy: Policy) -> Term | tuple[int, ...]:
    named = ev.processes_named(facts, policy.processes.compositor)
    if isinstance(named, Unavailable):
        return _unreadable(TermId.NO_COMPOSITOR, f"processes: {named.reason}")
    return tuple(p.pid for p in named)


def _no_compute_on_display(facts: HostFacts, policy: Policy) -> Term:
    tid = TermId.NO_COMPUTE_ON_DISPLAY_GPU
    index = policy.hardware.display_gpu
    gpu = ev.gpu_by_index(facts, index)
    if isinstance(gpu, Unavailable):
        # Without GPU evidence, vLLM/EXO memory can only exist while their units run.
        running = _units_term(facts, tid, policy.compute_workloads, want_active=False)
        if running.passed:
            return _term(tid, True, f"{gpu.reason}; {running.detail or 'no workload enabled'}")
        return _unreadable(tid, gpu.reason)
    compute = gpu.compute_processes
    if compute:
        who = ", ".join(f"{p.name} pid {p.pid} ({p.used_mib} MiB)" for p in compute)
        return _term(tid, False, f"compute memory on display GPU {index}: {who}")
    return _term(tid, True, f"no compute process on display GPU {index}")


def _slice_mismatches(slices: Mapping[str, SliceSettings],
                      want: Mapping[str, SliceSettings]) -> list[str]:
    wrong = []
    for name, value in want.items():
        seen = slices.get(name)
        for field, wanted in value.items():
            if wanted is None:
                continue
            have = getattr(seen, field) if seen is not None else None
            if have is None:
                have = _SYSTEMD_DEFAULTS.get(field)
            if have != wanted:
                wrong.append(f"{name} {field}={have} (policy {wanted})")
    return wrong


def _slices_term(facts: HostFacts, term_id: TermId,
                 want: Mapping[str, SliceSettings]) -> Term:
    slices = facts.slice_settings()
    if isinstance(slices, Unavailable):
        return _unreadable(term_id, f"slice settings: {slices.reason}")
    wrong = _slice_mismatches(slices, want)
    return _term(term_id, not wrong, "; ".join(wrong) or "in force")


def _desktop_slices(facts: HostFacts, policy: Policy) -> Term:
    """The slices are at desktop values: not the studio squeeze, not the compute values.

    Values someone else set on purpose stay (leaving the overlay restores exactly what was
    found on entry, docs/decisions/0007): the term fails only while another mode's whole set
    of slice values is in force.
    """
    tid = TermId.SLICES_AT_DESKTOP_POLICY
    slices = facts.slice_settings()
    if isinstance(slices, Unavailable):
        return _unreadable(tid, f"slice settings: {slices.reason}")
    for mode in (Mode.STUDIO_LOCAL, Mode.COMPUTE):
        want = policy.slices.get(mode, {})
        if want and want != policy.slices.get(Mode.DESKTOP) \
                and not _slice_mismatches(slices, want):
            return _term(tid, False, f"the {mode.value} slice values are in force")
    differ = _slice_mismatches(slices, policy.slices.get(Mode.DESKTOP, {}))
    return _term(tid, True, "desktop policy values" if not differ else
                 "no other mode's values; set by someone else: " + "; ".join(differ))


def _session_alive(facts: HostFacts, policy: Policy) -> Term:
    tid = TermId.GRAPHICAL_SESSION_ALIVE
    if isinstance(facts.sessions, Unavailable):
        return _unreadable(tid, f"sessions: {facts.sessions.reason}")
    if isinstance(facts.processes, Unavailable):
        return _unreadable(tid, f"processes: {facts.processes.reason}")
    compositors = {p.pid: p for p in facts.processes if p.comm in policy.processes.compositor}
    in_session = {p.session_id for p in compositors.values()}
    open_sessions = [s for s in facts.sessions
                     if s.type in ("wayland", "x11") and s.state in ("online", "active")]
    live = [s for s in open_sessions if s.leader in compositors or s.id in in_session]
    if live:
        return _term(tid, True, describe_sessions(live))
    if open_sessions:
        return _term(tid, False, "no compositor alive for " + describe_sessions(open_sessions))
    closing = [s for s in facts.sessions if s.type in ("wayland", "x11")]
    return _term(tid, False, "no open graphical session" + (
        f" (closing: {describe_sessions(closing)})" if closing else ""))


def _desktop_common(facts: HostFacts, policy: Policy) -> list[Term]:
    u = policy.units
    return [
        _unit_term(facts, TermId.DESKTOP_TARGET_ACTIVE, u.desktop_target, True),
        _unit_term(facts, TermId.GRAPHICAL_TARGET_ACTIVE, u.graphical_target, True),
        _unit_term(facts, TermId.DISPLAY_MANAGER_ACTIVE, u.display_manager, True),
        _session_alive(facts, policy),
        _units_term(facts, TermId.COMPUTE_WORKLOADS_STOPPED, (u.vllm, u.exo), False),
        _no_compute_on_display(facts, policy),
    ]


# ------------------------------------------------------------------ the contracts

Contract = Callable[[HostFacts, Policy], ContractReport]


def _per_snapshot(contract: Contract) -> Contract:
    """`contract`, answered again for the very same snapshot and policy objects (a report
    is a frozen value of them): a simulated host hands out one facts object while nothing
    changes, and the executor, the observer and the guards each ask (issue 16)."""
    last: list[tuple[HostFacts, Policy, ContractReport]] = []

    @functools.wraps(contract)
    def evaluated(facts: HostFacts, policy: Policy) -> ContractReport:
        if last and last[0][0] is facts and last[0][1] is policy:
            return last[0][2]
        report = contract(facts, policy)
        last[:] = [(facts, policy, report)]
        return report

    return evaluated


def _studio_tuning(facts: HostFacts, policy: Policy) -> Term:
    """PipeWire's forced quantum/rate and the governor, as read back (issue 15)."""
    tid = TermId.STUDIO_TUNING_IN_FORCE
    missing, unknown = tuning.contract_terms(facts, policy)
    if unknown is not None:
        return _unreadable(tid, unknown)
    return _term(tid, not missing, "; ".join(missing) or tuning.describe_in_force(facts, policy))


def _no_studio_tuning(facts: HostFacts, policy: Policy) -> Term:
    """The desktop does not keep studio-local's forced PipeWire clock (a controller stopped
    between forcing it and starting the overlay, or between stopping it and restoring)."""
    left = tuning.clock_leftover(facts, policy)
    return _term(TermId.NO_STUDIO_TUNING, left is None, left or "PipeWire clock not forced "
                 "to the studio-local values")


@_per_snapshot
def desktop(facts: HostFacts, policy: Policy) -> ContractReport:
    u = policy.units
    return ContractReport(Mode.DESKTOP, (
        *_desktop_common(facts, policy),
        _units_term(facts, TermId.OVERLAY_INACTIVE, (u.studio_policy, u.audio_priority), False),
        _desktop_slices(facts, policy),
        _no_studio_tuning(facts, policy),
    ))


@_per_snapshot
def studio_local(facts: HostFacts, policy: Policy) -> ContractReport:
    u = policy.units
    return ContractReport(Mode.STUDIO_LOCAL, (
        *_desktop_common(facts, policy),
        _units_term(facts, TermId.OVERLAY_ACTIVE, (u.studio_policy, u.audio_priority), True),
        _slices_term(facts, TermId.SLICES_AT_STUDIO_POLICY, policy.slices[Mode.STUDIO_LOCAL]),
        _studio_tuning(facts, policy),
    ))


def _no_graphical_session(facts: HostFacts) -> Term:
    tid = TermId.NO_GRAPHICAL_SESSION
    sessions = ev.graphical_sessions(facts)
    if isinstance(sessions, Unavailable):
        return _unreadable(tid, f"sessions: {sessions.reason}")
    return _term(tid, not sessions, describe_sessions(sessions))


def _no_compositor(facts: HostFacts, policy: Policy) -> Term:
    found = _compositors(facts, policy)
    if isinstance(found, Term):
        return found
    return _term(TermId.NO_COMPOSITOR, not found,
                 ", ".join(f"compositor pid {p}" for p in found) or "none")


def _placement(facts: HostFacts, policy: Policy) -> Term:
    tid = TermId.WORKLOADS_ON_PROFILED_GPUS
    if not policy.vllm.enable:
        return _term(tid, True, "vLLM disabled")
    profile = facts.vllm_profile
    if isinstance(profile, Unavailable):
        return _unreadable(tid, f"vLLM profile: {profile.reason}")
    if profile is None or not profile.gpu_uuids:
        return _term(tid, False, "no vLLM GPU profile written")
    if isinstance(facts.gpus, Unavailable):
        return _unreadable(tid, f"GPU evidence: {facts.gpus.reason}")
    holding = {g.uuid for g in facts.gpus if g.compute_processes}
    wanted = set(profile.gpu_uuids)
    missing = sorted(wanted - holding)
    extra = sorted(holding - wanted) if not policy.exo.enable else []
    detail = f"profile {profile.name} on {sorted(wanted)}"
    if missing:
        detail += f"; no compute memory on {missing}"
    if extra:
        detail += f"; compute memory outside the profile on {extra}"
    return _term(tid, not missing and not extra, detail)


def _full_profile(facts: HostFacts, policy: Policy) -> Term:
    tid = TermId.FULL_GPU_PROFILE
    profile = facts.vllm_profile
    if not policy.vllm.enable:
        return _term(tid, True, "vLLM disabled")
    if isinstance(profile, Unavailable):
        return _unreadable(tid, f"vLLM profile: {profile.reason}")
    if profile is None:
        return _term(tid, False, "no vLLM GPU profile written")
    want = policy.gpu_split(tuple(policy.hardware.compute_gpus))[0]  # vLLM's share
    ok = profile.name == "compute" and tuple(sorted(profile.gpu_indices)) == tuple(sorted(want))
    return _term(tid, ok, f"profile {profile.name} on GPUs {list(profile.gpu_indices)}")


def _released(facts: HostFacts, policy: Policy) -> Term:
    tid = TermId.DISPLAY_GPU_RELEASED
    release = ev.display_release(facts, policy)
    if release.status is ev.ReleaseStatus.UNKNOWN:
        return _unreadable(tid, release.reason)
    return _term(tid, release.status is ev.ReleaseStatus.RELEASED,
                 f"{release.status.value}: {release.reason}")


@_per_snapshot
def compute(facts: HostFacts, policy: Policy) -> ContractReport:
    u = policy.units
    return ContractReport(Mode.COMPUTE, (
        _unit_term(facts, TermId.COMPUTE_TARGET_ACTIVE, u.compute_target, True),
        _units_term(facts, TermId.DESKTOP_TARGETS_INACTIVE,
                    (u.desktop_target, u.graphical_target), False),
        _unit_term(facts, TermId.DISPLAY_MANAGER_INACTIVE, u.display_manager, False),
        _no_graphical_session(facts),
        _no_compositor(facts, policy),
        _units_term(facts, TermId.OVERLAY_INACTIVE, (u.studio_policy, u.audio_priority), False),
        _units_term(facts, TermId.WORKLOADS_ACTIVE, policy.compute_workloads, True),
        _placement(facts, policy),
        _full_profile(facts, policy),
        _released(facts, policy),
    ))


CONTRACTS = {Mode.DESKTOP: desktop, Mode.STUDIO_LOCAL: studio_local, Mode.COMPUTE: compute}


def evaluate(mode: Mode, facts: HostFacts, policy: Policy) -> ContractReport:
    """The contract of `mode` on this snapshot."""
    return CONTRACTS[mode](facts, policy)


def evaluate_all(facts: HostFacts, policy: Policy) -> dict[Mode, ContractReport]:
    return {mode: fn(facts, policy) for mode, fn in CONTRACTS.items()}
