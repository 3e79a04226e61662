"""The pure and file-level parts of issue 15: cpufreq through a sysfs tree, the quiet GPU
reader, the readiness report, the observer's back-off."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from backends.cpufreq import CpuFreqAdapter
from backends.gpucache import QuietGpus
from backends.readiness import read_readiness
from dubnium import readiness
from dubnium.errors import BackendError
from dubnium.facts import GpuFact, Unavailable
from dubnium.policy import default_policy
from dubnium.readpath import observer_backoff
from dubnium.studiofacts import AudioReadiness, CpuFreq, CpuPolicy, CpuSetting

POLICY = default_policy()
GPU = GpuFact(0, "GPU-0", "stand-in", 600, 24000)


def sysfs(tmp_path: Path, epp: bool = True) -> Path:
    for i in range(2):
        d = tmp_path / f"devices/system/cpu/cpufreq/policy{i}"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text("powersave\n")
        (d / "scaling_available_governors").write_text("performance powersave\n")
        if epp:
            (d / "energy_performance_preference").write_text("balance_performance\n")
    return tmp_path


def test_cpufreq_reads_every_policy(tmp_path: Path) -> None:
    """Each policy's governor, EPP and available governors, in policy order."""
    expected = CpuFreq(tuple(CpuPolicy(f"policy{i}", "powersave", "balance_performance",
                                       ("performance", "powersave")) for i in range(2)))
    assert expected == CpuFreqAdapter(sysfs(tmp_path)).read()


def test_cpufreq_absent_reads_as_no_policies(tmp_path: Path) -> None:
    """A machine without cpufreq (this CI machine): no policies, not a failure."""
    assert CpuFreq(()) == CpuFreqAdapter(tmp_path).read()


def test_cpufreq_set_writes_governor_and_epp(tmp_path: Path) -> None:
    """Setting performance writes both files; the read-back shows them."""
    adapter = CpuFreqAdapter(sysfs(tmp_path))
    adapter.set(CpuSetting("policy1", "performance", "performance"))
    freq = adapter.read()
    assert isinstance(freq, CpuFreq)
    assert [("powersave", "balance_performance"), ("performance", "performance")] == [
        (p.governor, p.epp) for p in freq.policies]


def test_cpufreq_set_on_a_missing_policy_is_a_backend_error(tmp_path: Path) -> None:
    """A policy that does not exist is refused with its path, not a traceback."""
    with pytest.raises(BackendError, match="no policy policy7"):
        CpuFreqAdapter(sysfs(tmp_path)).set(CpuSetting("policy7", "performance"))


class CountingReader:
    def __init__(self) -> None:
        self.calls = 0

    def read(self) -> tuple[GpuFact, ...] | Unavailable:
        self.calls += 1
        return (GPU,)


def test_quiet_gpus_serve_the_last_reading_without_nvml(tmp_path: Path) -> None:
    """A fresh reading is kept; quiet readings come from it with its time, NVML untouched."""
    nvml = CountingReader()
    gpus = QuietGpus(nvml, tmp_path / "gpu-facts.json")
    assert ((GPU,), None) == gpus.read(quiet=False, now_ns=1_000)
    assert [((GPU,), 1_000)] * 3 == [gpus.read(quiet=True, now_ns=t) for t in (2, 3, 4)]
    assert (1, 1) == (nvml.calls, gpus.nvml_reads)


def test_quiet_gpus_without_a_reading_say_so(tmp_path: Path) -> None:
    """No earlier reading: Unavailable with the reason, and still no NVML call."""
    nvml = CountingReader()
    facts, at = QuietGpus(nvml, tmp_path / "gpu-facts.json").read(quiet=True, now_ns=5)
    assert (True, None, 0) == (isinstance(facts, Unavailable), at, nvml.calls)


READY = AudioReadiness(audio_user="owner", rtprio_limit=95, memlock_unlimited=True,
                       pipewire_rt_module=True, kernel_cmdline="quiet threadirqs",
                       preempt="PREEMPT_DYNAMIC", governors=("performance",), swappiness=10,
                       clocksource="tsc", high_res_timers=True, audio_group_member=True)


def test_readiness_all_pass() -> None:
    """A musnix-like machine passes every check."""
    report = readiness.report(READY, POLICY)
    assert (True, ["pass"] * 8) == (report.ready, [c.status.value for c in report.checks])


def test_readiness_failures_name_their_remedies() -> None:
    """Each failing item fails with the NixOS (or musnix) option that fixes it."""
    bad = AudioReadiness(audio_user="owner", rtprio_limit=0, memlock_unlimited=False,
                         pipewire_rt_module=False, kernel_cmdline="quiet", preempt="PREEMPT",
                         governors=("powersave",), swappiness=60, clocksource="jiffies",
                         high_res_timers=False, audio_group_member=False)
    report = readiness.report(bad, POLICY)
    assert (False, 8) == (report.ready, len(report.failed))
    remedies = {c.id: c.remedy for c in report.failed}
    assert 'boot.kernelParams = [ "threadirqs" ];' in remedies["threadirqs"]
    assert 'boot.kernel.sysctl."vm.swappiness" = 10;' in remedies["swappiness"]
    assert 'users.users.owner.extraGroups = [ "audio" ];' == remedies["audio_group"]
    assert "musnix.enable = true;" in remedies["rtprio_limit"]


def test_readiness_without_cpufreq_is_not_applicable_and_unreadable_is_unknown() -> None:
    """No cpufreq: the governor check does not apply; what cannot be read is 'unknown'."""
    report = readiness.report(attrs.evolve(READY, governors=(), swappiness=None), POLICY)
    status = {c.id: c.status.value for c in report.checks}
    assert ("n/a", "unknown", False) == (status["governor"], status["swappiness"], report.ready)


def test_readiness_reader_finds_the_audio_users_pipewire(tmp_path: Path) -> None:
    """/proc/<pid>/limits of the user's pipewire, the cmdline, swappiness, /etc/group."""
    proc, etc = tmp_path / "proc", tmp_path / "etc"
    (proc / "77").mkdir(parents=True)
    (proc / "77/comm").write_text("pipewire\n")
    (proc / "77/status").write_text("Name:\tpipewire\nUid:\t4242\t4242\t4242\t4242\n")
    (proc / "77/limits").write_text(
        "Limit                     Soft Limit           Hard Limit           Units\n"
        "Max locked memory         unlimited            unlimited            bytes\n"
        "Max realtime priority     95                   95\n")
    (proc / "cmdline").write_text("quiet threadirqs\n")
    (proc / "sys/vm").mkdir(parents=True)
    (proc / "sys/vm/swappiness").write_text("10\n")
    etc.mkdir()
    (etc / "group").write_text("audio:x:29:alice,bob\n")
    r = read_readiness(proc_root=proc, sys_root=tmp_path / "sys", fs_root=tmp_path, uid=4242,
                       user="alice", modules=("libpipewire-module-rt",), governors=())
    assert (95, True, True, "quiet threadirqs", 10, True, None) == (
        r.rtprio_limit, r.memlock_unlimited, r.pipewire_rt_module, r.kernel_cmdline,
        r.swappiness, r.audio_group_member, r.high_res_timers)


def test_observer_backs_off_only_in_studio_local_within_the_interval() -> None:
    """The timer's refresh is skipped while studio-local was recorded less than the back-off
    ago; any other state, or an older record, is observed again."""
    recorded = {"observed_state": "studio-local", "timestamp": "2026-01-01T00:00:00.000Z"}
    at = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
    backoff_s = POLICY.studio.observe_backoff_s
    assert (True, None, None) == (
        observer_backoff(recorded, at + 60 * 10**9, backoff_s) is not None,
        observer_backoff(recorded, at + 601 * 10**9, backoff_s),
        observer_backoff({**recorded, "observed_state": "desktop"}, at, backoff_s))


def test_gpu_cache_file_is_json_with_its_reading_time(tmp_path: Path) -> None:
    """The kept reading is a small schema-versioned JSON file."""
    QuietGpus(CountingReader(), tmp_path / "g.json").read(quiet=False, now_ns=7)
    data = json.loads((tmp_path / "g.json").read_text())
    assert (1, 7, ["GPU-0"]) == (data["schema_version"], data["read_at_ns"],
                                 [g["uuid"] for g in data["gpus"]])
