"""The audio readiness report: `mode doctor --audio`, also shown by `mode explain studio-local`.

Pure. Takes the `AudioReadiness` a backend read (`Backend.audio_readiness()`) and the
policy, and judges each thing a low-latency audio machine needs, the way rtcqs and musnix
look at it: RT priority and memlock limits of the audio user's PipeWire, threaded IRQs,
the cpufreq governor, swappiness, high-resolution timers and the clocksource, membership
of the audio group, PipeWire's RT module. Each check passes, fails, cannot tell (and says
why) or does not apply, and a failing one names its remedy: the NixOS option, and the
musnix option where musnix has one. Called by the CLI.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs

from dubnium.policy import Policy
from dubnium.studiofacts import AudioReadiness

RTPRIO_MIN = 88  # PipeWire's module-rt asks for rt.prio 88 by default
SWAPPINESS_MAX = 10  # musnix's value


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # could not be read
    NOT_APPLICABLE = "n/a"  # the machine has nothing to check (no cpufreq)


@attrs.frozen
class Check:
    id: str
    status: Status
    found: str
    remedy: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status.value, "found": self.found,
                "remedy": self.remedy}

    def line(self) -> str:
        text = f"[{self.status.value:>4}] {self.id}: {self.found}"
        if self.status in (Status.FAIL, Status.UNKNOWN) and self.remedy:
            text += f"\n         remedy: {self.remedy}"
        return text


@attrs.frozen
class Report:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(c.status in (Status.PASS, Status.NOT_APPLICABLE) for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.FAIL)

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": [c.to_json() for c in self.checks]}

    def lines(self) -> list[str]:
        head = "audio readiness: " + ("ready" if self.ready else "NOT ready")
        return [head, *(c.line() for c in self.checks)]


def _check(id_: str, ok: bool | None, found: str, remedy: str, why: str = "") -> Check:
    if ok is None:
        return Check(id_, Status.UNKNOWN, f"cannot tell: {why or 'not readable here'}", remedy)
    return Check(id_, Status.PASS if ok else Status.FAIL, found, remedy)


def report(r: AudioReadiness, policy: Policy) -> Report:
    """Judge every readiness item of `r`."""
    user = r.audio_user or policy.studio.audio_user
    limits = ('security.pam.loginLimits = [ { domain = "@audio"; item = "rtprio"; '
              'type = "-"; value = "99"; } ]; or security.rtkit.enable = true; '
              "(musnix: musnix.enable = true;)")
    checks = [
        _check("rtprio_limit",
               None if r.rtprio_limit is None else r.rtprio_limit >= RTPRIO_MIN,
               f"RLIMIT_RTPRIO of {user}'s PipeWire is {r.rtprio_limit} "
               f"(wanted >= {RTPRIO_MIN})", limits,
               f"no running PipeWire of {user} to read /proc/<pid>/limits of"),
        _check("memlock",
               r.memlock_unlimited,
               "RLIMIT_MEMLOCK of the audio user's PipeWire is "
               + ("unlimited" if r.memlock_unlimited else "limited"),
               'security.pam.loginLimits = [ { domain = "@audio"; item = "memlock"; '
               'type = "-"; value = "unlimited"; } ]; (musnix: musnix.enable = true;)',
               "no running PipeWire of the audio user"),
        _threadirqs(r),
        _governor(r),
        _check("swappiness",
               None if r.swappiness is None else r.swappiness <= SWAPPINESS_MAX,
               f"vm.swappiness is {r.swappiness} (wanted <= {SWAPPINESS_MAX})",
               'boot.kernel.sysctl."vm.swappiness" = 10; (musnix: musnix.enable = true;)',
               "/proc/sys/vm/swappiness unreadable"),
        _check("timers",
               r.high_res_timers,
               f"high-resolution timers {'on' if r.high_res_timers else 'off'}, clocksource "
               f"{r.clocksource or 'unknown'}",
               "a kernel with CONFIG_HIGH_RES_TIMERS (every NixOS kernel; musnix: "
               "musnix.kernel.realtime = true; for PREEMPT_RT)",
               "/proc/timer_list unreadable (needs root)"),
        _check("audio_group",
               r.audio_group_member,
               f"{user} is {'in' if r.audio_group_member else 'not in'} group audio",
               f'users.users.{user}.extraGroups = [ "audio" ];',
               "/etc/group unreadable"),
        _check("pipewire_rt_module",
               r.pipewire_rt_module,
               "libpipewire-module-rt " + ("loaded" if r.pipewire_rt_module else "not loaded"),
               "services.pipewire.enable = true; with security.rtkit.enable = true; "
               "(NixOS's PipeWire config loads module-rt)",
               f"no PipeWire of {user} to ask"),
    ]
    return Report(tuple(checks))


def _threadirqs(r: AudioReadiness) -> Check:
    remedy = 'boot.kernelParams = [ "threadirqs" ]; (musnix: musnix.enable = true;)'
    if r.kernel_cmdline is None:
        return _check("threadirqs", None, "", remedy, "/proc/cmdline unreadable")
    threaded = "threadirqs" in r.kernel_cmdline.split() or r.preempt == "PREEMPT_RT"
    how = ("threadirqs on the kernel command line" if "threadirqs" in r.kernel_cmdline.split()
           else "PREEMPT_RT kernel (IRQs threaded)" if r.preempt == "PREEMPT_RT"
           else "IRQs not threaded (no threadirqs, not PREEMPT_RT)")
    return _check("threadirqs", threaded, how, remedy)


def _governor(r: AudioReadiness) -> Check:
    remedy = ('powerManagement.cpuFreqGovernor = "performance"; (musnix: musnix.enable = '
              'true;); studio-local sets it at run time when studio.governor is set')
    if r.governors is None:
        return _check("governor", None, "", remedy, "cpufreq unreadable")
    if not r.governors:
        return Check("governor", Status.NOT_APPLICABLE,
                     "this machine has no cpufreq (no governor to set)")
    others = sorted({g for g in r.governors if g != "performance"})
    return _check("governor", not others,
                  "governor performance on every CPU" if not others
                  else f"governor {', '.join(others)} on some CPUs", remedy)
