"""The config loader: /etc/dubnium/config.json (schema-versioned JSON) into a `Policy`.

Called by the CLI (`load_policy`), the simulated world and the fault-plan checker
(`load_policy_data`). Validation is strict and precise: a hand-written walk over the document
(`dubnium.configread.Reader`) with one check per kind of value, so every error names the
dotted key, what was expected and what was found, and an unknown key is refused with the
keys known there (ADR 0012 says why this is not attrs validators or cattrs). Missing keys
take the defaults of `Policy()`.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from dubnium import cpuset, fsutil, strictjson
from dubnium.codes import GUARD_IDS
from dubnium.configread import Reader as _Reader
from dubnium.configread import absolute_path as _absolute_path
from dubnium.configread import boolean as _bool
from dubnium.configread import choice as _choice
from dubnium.configread import integer as _int
from dubnium.configread import kind as _kind
from dubnium.configread import list_of as _list
from dubnium.configread import number as _number
from dubnium.configread import optional_int as _optional_int
from dubnium.configread import string as _str
from dubnium.configread import unit_name as _unit
from dubnium.errors import ConfigError
from dubnium.facts import SliceSettings
from dubnium.modes import Mode
from dubnium.policy import (
    DAYS,
    IDLE_KINDS,
    SCHEMA_VERSION,
    SLICES,
    WAKE_SOURCES,
    Audit,
    Exo,
    GpuRelease,
    Hardware,
    Idle,
    Paths,
    Placement,
    Policy,
    ProcessNames,
    Studio,
    Thresholds,
    Timeouts,
    UnitNames,
    Vllm,
)

CONFIG_LIMIT = 1024 * 1024


def load_policy(path: Path) -> Policy:
    """Read and validate the config file at `path`; ConfigError says what is wrong where.

    The file may be a symbolic link (NixOS links /etc/dubnium/config.json to /etc/static,
    which links into the store); what it leads to must be a regular file."""
    try:
        raw = fsutil.read_regular(path, limit=CONFIG_LIMIT, follow=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    if raw is None:
        raise ConfigError(f"{path}: config file not found")
    try:
        data = strictjson.loads(raw, max_bytes=CONFIG_LIMIT, max_depth=16)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return load_policy_data(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _slice_settings(value: object, key: str) -> SliceSettings:
    r = _Reader(value, key)
    opt = _optional_int(1)
    settings = SliceSettings(
        cpu_weight=r.get("cpu_weight", _optional_int(1, 10000), None),
        io_weight=r.get("io_weight", _optional_int(1, 10000), None),
        cpu_quota_percent=r.get("cpu_quota_percent", opt, None),
        memory_high_mib=r.get("memory_high_mib", opt, None),
        memory_max_mib=r.get("memory_max_mib", opt, None),
        allowed_cpus=r.get("allowed_cpus", _optional_cpus, None),
    )
    r.finish()
    return settings


def _optional_cpus(value: object, key: str) -> str | None:
    """A CPU list ("0-3,6"), canonical; null: no restriction."""
    if value is None:
        return None
    text = _str(value, key)
    try:
        return cpuset.canonical(text)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _check_audio_cpus(policy: Policy) -> None:
    """CPUs reserved for audio are kept free of ai.slice and platform.slice in studio-local."""
    if policy.studio.audio_cpus is None:
        return
    audio = cpuset.parse(policy.studio.audio_cpus)
    studio = policy.slices.get(Mode.STUDIO_LOCAL, {})
    for name in ("ai.slice", "platform.slice"):
        allowed = studio.get(name, SliceSettings()).allowed_cpus
        if allowed is None or audio & cpuset.parse(allowed):
            raise ConfigError(
                f"slices.studio-local.{name}.allowed_cpus: {allowed or 'every CPU'} includes "
                f"CPUs reserved for audio (studio.audio_cpus {policy.studio.audio_cpus}); set "
                "it to the other CPUs")


def load_policy_data(data: object) -> Policy:
    """Validate parsed JSON into a Policy. Missing keys take the defaults of `Policy()`."""
    d = Policy()
    top = _Reader(data, "")
    version = top.get("schema_version", _int(), -1)
    if version == -1:
        raise ConfigError("schema_version: missing (expected 1)")
    if version != SCHEMA_VERSION:
        raise ConfigError(f"schema_version: expected {SCHEMA_VERSION}, got {version}")

    boot = top.section("boot")
    mode_names = tuple(m.value for m in Mode)
    boot_mode = Mode(boot.get("default_mode", _choice(*mode_names), d.boot_default_mode.value))
    boot.finish()

    hw = top.section("hardware")
    gpu_list = _list(_int(0, 63), maximum=64)
    hardware = Hardware(
        present_gpus=hw.get("present_gpus", gpu_list, d.hardware.present_gpus),
        display_gpu=hw.get("display_gpu", _int(0, 63), d.hardware.display_gpu),
        compute_gpus=hw.get("compute_gpus", gpu_list, d.hardware.compute_gpus),
        planned_gpu_count=hw.get("planned_gpu_count", _int(1, 64), d.hardware.planned_gpu_count),
    )
    hw.finish()
    _check_hardware(hardware)

    pl = top.section("capability_placement")
    where = _choice("local", "remote")
    placement = Placement(
        studio=pl.get("studio", where, d.placement.studio),
        compute=pl.get("compute", where, d.placement.compute),
    )
    pl.finish()

    un = top.section("units")
    units = UnitNames(**{
        f.name: un.get(f.name, _unit("target" if f.name.endswith("target") else "service"),
                       getattr(d.units, f.name)) for f in attrs.fields(UnitNames)
    })
    un.finish()

    vl = top.section("vllm")
    vllm = Vllm(
        enable=vl.get("enable", _bool, d.vllm.enable),
        model=vl.get("model", _str, d.vllm.model),
        extra_args=vl.get("extra_args", _list(_str), d.vllm.extra_args),
        memory_per_gpu_mib=vl.get("memory_per_gpu_mib", _int(1), d.vllm.memory_per_gpu_mib),
        profile_path=vl.get("profile_path", _absolute_path, d.vllm.profile_path),
    )
    vl.finish()

    ex = top.section("exo")
    exo = Exo(
        enable=ex.get("enable", _bool, d.exo.enable),
        gpu_share=ex.get("gpu_share", _choice("shared", "split"), d.exo.gpu_share),
        memory_per_gpu_mib=ex.get("memory_per_gpu_mib", _int(1), d.exo.memory_per_gpu_mib),
        profile_path=ex.get("profile_path", _absolute_path, d.exo.profile_path),
    )
    ex.finish()

    k3 = top.section("k3s")
    k3s_enable = k3.get("enable", _bool, d.k3s_enable)
    k3.finish()

    sl = top.section("slices")
    slices = {mode: dict(per) for mode, per in d.slices.items()}
    for mode in Mode:
        per_mode = sl.section(mode.value)
        for name in SLICES:
            slices[mode][name] = per_mode.get(name, _slice_settings, slices[mode][name])
        per_mode.finish()
    sl.finish()

    studio = _load_studio(top.section("studio"), d.studio)

    gu = top.section("guards")
    th = d.thresholds
    thresholds = Thresholds(
        cpu_load_per_core_max=gu.get("cpu_load_per_core_max", _number(0, 1024, positive=True),
                                     th.cpu_load_per_core_max),
        memory_available_min_mib=gu.get(
            "memory_available_min_mib", _int(), th.memory_available_min_mib
        ),
        user_job_min_runtime_s=gu.get("user_job_min_runtime_s", _int(0, 10 * 365 * 86400),
                                      th.user_job_min_runtime_s),
        user_job_names=gu.get("user_job_names", _list(_str), th.user_job_names),
        model_store_free_min_mib=gu.get(
            "model_store_free_min_mib", _int(), th.model_store_free_min_mib
        ),
        soft=gu.get("soft", _list(_choice(*GUARD_IDS)), th.soft),
    )
    gu.finish()

    gr = top.section("gpu_release")
    release = GpuRelease(
        timeout_s=gr.get("timeout_s", _number(positive=True), d.gpu_release.timeout_s),
        poll_interval_s=gr.get("poll_interval_s", _number(0.001, 60.0),
                               d.gpu_release.poll_interval_s),
        residual_threshold_mib=gr.get(
            "residual_threshold_mib", _int(), d.gpu_release.residual_threshold_mib
        ),
        degraded_residual_max_mib=gr.get(
            "degraded_residual_max_mib", _int(), d.gpu_release.degraded_residual_max_mib
        ),
    )
    gr.finish()
    if release.degraded_residual_max_mib < release.residual_threshold_mib:
        raise ConfigError(
            "gpu_release.degraded_residual_max_mib: expected >= gpu_release."
            f"residual_threshold_mib ({release.residual_threshold_mib}), "
            f"got {release.degraded_residual_max_mib}"
        )

    to = top.section("timeouts")
    timeouts = Timeouts(**{
        # current_max_age_s may be 0 (`mode current` then always observes), grace_s too (no
        # grace period), current_server_s too (never ask the resident observer); every
        # other bound is above 0
        f.name: to.get(f.name, _int(1) if f.type in (int, "int") else _number(
            positive=f.name not in ("current_max_age_s", "grace_s", "current_server_s")),
                       getattr(d.timeouts, f.name))
        for f in attrs.fields(Timeouts)
    })
    to.finish()

    pr = top.section("processes")
    processes = ProcessNames(**{
        f.name: pr.get(f.name, _list(_str), getattr(d.processes, f.name))
        for f in attrs.fields(ProcessNames)
    })
    pr.finish()

    pa = top.section("paths")
    paths = Paths(**{
        f.name: pa.get(f.name, _absolute_path, getattr(d.paths, f.name))
        for f in attrs.fields(Paths)
    })
    pa.finish()

    idle = _idle(top.section("idle"), d.idle)
    au = top.section("audit")
    audit = Audit(rotate_mib=au.get("rotate_mib", _int(1), d.audit.rotate_mib))
    au.finish()
    top.finish()

    policy = Policy(
        boot_default_mode=boot_mode,
        hardware=hardware,
        placement=placement,
        units=units,
        vllm=vllm,
        exo=exo,
        k3s_enable=k3s_enable,
        slices=slices,
        studio=studio,
        thresholds=thresholds,
        gpu_release=release,
        timeouts=timeouts,
        processes=processes,
        paths=paths,
        idle=idle,
        audit=audit,
    )
    _check_audio_cpus(policy)
    return policy


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _window(value: object, key: str) -> str:
    text = _str(value, key)
    if not _WINDOW.match(text) or text[:5] == text[6:]:
        raise ConfigError(f"{key}: expected \"HH:MM-HH:MM\" (two different times), "
                          f"got {_kind(value)}")
    return text


def _timezone(value: object, key: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = _str(value, key)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown time zone {text!r}") from None
    return text


def _idle(r: _Reader, d: Idle) -> Idle:
    idle = Idle(
        enable=r.get("enable", _bool, d.enable),
        after_s=r.get("after_s", _number(positive=True), d.after_s),
        cooldown_s=r.get("cooldown_s", _number(), d.cooldown_s),
        poll_interval_s=r.get("poll_interval_s", _number(0.1, 3600.0), d.poll_interval_s),
        inhibitor_kinds=r.get("inhibitor_kinds", _list(_choice(*IDLE_KINDS)),
                              d.inhibitor_kinds),
        exclusive_apps=r.get("exclusive_apps", _list(_str), d.exclusive_apps),
        load_per_core_max=r.get("load_per_core_max", _number(0, 1024, positive=True),
                                d.load_per_core_max),
        windows=r.get("windows", _list(_window), d.windows),
        days=r.get("days", _list(_choice(*DAYS)), d.days),
        timezone=r.get("timezone", _timezone, d.timezone),
        wake_on=r.get("wake_on", _list(_choice(*WAKE_SOURCES)), d.wake_on),
    )
    r.finish()
    return idle


def _load_studio(st: _Reader, d: Studio) -> Studio:
    weight = st.section("audio_weight")
    audio_weight = SliceSettings(
        cpu_weight=weight.get("cpu_weight", _optional_int(1, 10000), d.audio_weight.cpu_weight),
        io_weight=weight.get("io_weight", _optional_int(1, 10000), d.audio_weight.io_weight),
    )
    weight.finish()
    studio = Studio(
        audio_uid=st.get("audio_uid", _int(1), d.audio_uid),
        audio_user=st.get("audio_user", _str, d.audio_user),
        audio_units=st.get("audio_units", _list(_unit_name), d.audio_units),
        audio_weight=audio_weight,
        quantum=st.get("quantum", _optional_int(8, 8192), d.quantum),
        rate=st.get("rate", _optional_int(8000, 768000), d.rate),
        governor=st.get("governor", _optional_str, d.governor),
        epp=st.get("epp", _optional_str, d.epp),
        observe_backoff_s=st.get("observe_backoff_s", _number(positive=True),
                                 d.observe_backoff_s),
        audio_cpus=st.get("audio_cpus", _optional_cpus, d.audio_cpus),
    )
    st.finish()
    return studio


def _unit_name(value: object, key: str) -> str:
    text = _unit("slice", "service", "scope")(value, key)
    if text in SLICES:
        raise ConfigError(f"{key}: {text} is one of Dubnium's own slices")
    return text


def _optional_str(value: object, key: str) -> str | None:
    return None if value is None else _str(value, key)


def _check_hardware(hw: Hardware) -> None:
    if not hw.present_gpus:
        raise ConfigError("hardware.present_gpus: expected at least one GPU index, got []")
    if len(set(hw.present_gpus)) != len(hw.present_gpus):
        raise ConfigError(f"hardware.present_gpus: duplicate GPU index in {list(hw.present_gpus)}")
    if hw.display_gpu not in hw.present_gpus:
        raise ConfigError(
            f"hardware.display_gpu: GPU {hw.display_gpu} is not in hardware.present_gpus "
            f"{list(hw.present_gpus)}"
        )
    missing = [g for g in hw.compute_gpus if g not in hw.present_gpus]
    if missing:
        raise ConfigError(
            f"hardware.compute_gpus: GPU(s) {missing} not in hardware.present_gpus "
            f"{list(hw.present_gpus)}"
        )
    if len(hw.present_gpus) > hw.planned_gpu_count:
        raise ConfigError(
            f"hardware.planned_gpu_count: {hw.planned_gpu_count} is fewer than the "
            f"{len(hw.present_gpus)} GPU(s) present"
        )
