"""What `mode doctor --audio` judges, read from one host: /proc, /sys, /etc/group, PipeWire.

Called by `backends.host.HostBackend.audio_readiness()`. The checks themselves (pass or
fail, and the remedy) are pure and live in `dubnium.readiness`; this module only reads.
Anything that cannot be read is None (the report says "cannot tell" and why), never a guess.
The RT limits are those of the audio user's running PipeWire (`/proc/<pid>/limits`): what
the audio threads actually got, which is what rtkit, PAM limits or musnix change.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from dubnium.studiofacts import AudioReadiness

RT_MODULE = "libpipewire-module-rt"


def _text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _limit(limits: str, name: str) -> str | None:
    for line in limits.splitlines():
        if line.startswith(name):
            fields = line[len(name):].split()
            return fields[0] if fields else None
    return None


def pipewire_pid(proc_root: Path, uid: int) -> int | None:
    """The pid of `uid`'s `pipewire` daemon in `proc_root`, or None."""
    with contextlib.suppress(OSError):
        for entry in proc_root.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if (entry / "comm").read_text().strip() != "pipewire":
                    continue
                status = (entry / "status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("Uid:") and int(line.split()[1]) == uid:
                    return int(entry.name)
    return None


def read_readiness(
    *, proc_root: Path, sys_root: Path, fs_root: Path, uid: int, user: str,
    modules: tuple[str, ...] | None, governors: tuple[str, ...] | None,
) -> AudioReadiness:
    rtprio: int | None = None
    memlock: bool | None = None
    pid = pipewire_pid(proc_root, uid)
    limits = _text(proc_root / str(pid) / "limits") if pid is not None else None
    if limits is not None:
        soft = _limit(limits, "Max realtime priority")
        rtprio = int(soft) if soft is not None and soft.isdigit() else None
        lock = _limit(limits, "Max locked memory")
        memlock = None if lock is None else lock == "unlimited"
    cmdline = _text(proc_root / "cmdline")
    version = _text(proc_root / "version") or ""
    preempt = next((w for w in ("PREEMPT_RT", "PREEMPT_DYNAMIC", "PREEMPT")
                    if w in version.split()), None) if version else None
    swappiness_text = _text(proc_root / "sys/vm/swappiness")
    swappiness = (int(swappiness_text) if swappiness_text and swappiness_text.strip().isdigit()
                  else None)
    clocksource_text = _text(sys_root / "devices/system/clocksource/clocksource0/"
                                        "current_clocksource")
    timer_list = _text(proc_root / "timer_list")
    high_res = None if timer_list is None else ".resolution: 1 nsecs" in timer_list
    group = _text(fs_root / "etc/group")
    member: bool | None = None
    if group is not None:
        member = False
        for line in group.splitlines():
            fields = line.split(":")
            if len(fields) >= 4 and fields[0] == "audio":
                member = user in fields[3].split(",")
    return AudioReadiness(
        audio_user=user,
        rtprio_limit=rtprio,
        memlock_unlimited=memlock,
        pipewire_rt_module=None if modules is None else RT_MODULE in modules,
        kernel_cmdline=cmdline.strip() if cmdline is not None else None,
        preempt=preempt,
        governors=governors,
        swappiness=swappiness,
        clocksource=clocksource_text.strip() if clocksource_text else None,
        high_res_timers=high_res,
        audio_group_member=member,
    )
