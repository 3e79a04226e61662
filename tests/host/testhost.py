"""The test host: real systemd, journald, D-Bus, logind and a user manager with PipeWire and
WirePlumber, booted as PID 1 of a PID+mount namespace on this machine (root, no VM).

Used by the host tests (`tests/host/conftest.py` fixtures), the benchmark
(`benchmarks/observe_host.py`) and people (`scripts/test-host`). Recipes and traps:
/work/shared/notes/test-host.md and docs/host-backend.md.

What it loads: Dubnium's targets, slices and services rendered from the NixOS pure-data
unit graph by `scripts/render-units` (base target `dubnium-base.target`, the vLLM stand-in
as vllm.service's command), plus the test host's own units: the base target (journald,
dbus, logind), a `graphical.target` that wants `display-manager.service`, and that service,
which stands in for the display manager's autologin: a PAM `login` session of type wayland
for the namespace-only user `alice`, whose leader is the compositor stand-in (comm
`Hyprland`). Ending it ends the session; starting desktop.target again logs alice in again.
GPUs are stand-ins too: `libnvidia-ml.so.1` built from fake_nvml.c, loaded by commands run
with `TestHost.run(..., gpus=True)` (the `mode` CLI in the end-to-end tests).

Cleanup is by pid: the namespace's systemd is SIGKILLed (which ends every process of the
namespace), the launcher is reaped, and the cgroups created for it are removed, also when
a test fails. Nothing on the outside is mounted or changed except those cgroup directories
and the work directory.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INNER = Path("/run/testhost")  # the work directory, as seen inside the namespace
USER, UID = "alice", 4242
HIERARCHIES = (
    "systemd", "unified", "cpu", "cpuacct", "memory", "blkio", "devices", "pids", "freezer",
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
BASE_TARGET = "dubnium-base.target"
MODE_UNITS = ("desktop.target", "compute.target", "vllm.service", "studio-local-policy.service",
              "audio-priority.service")


class TestHostError(RuntimeError):
    """The test host could not be booted or driven; the message says which step failed."""


def can_boot() -> str | None:
    """None when this machine can boot a test host, else why not."""
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN to create PID and mount namespaces)"
    for tool in ("unshare", "nsenter", "pw-dump", "pw-play", "wireplumber", "gcc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/bootstrap installs it)"
    if not Path("/lib/systemd/systemd").exists():
        return "systemd is not installed"
    if not (CGROUP_ROOT / "systemd").is_dir() and not (CGROUP_ROOT / "cgroup.procs").exists():
        return "no cgroup hierarchy for systemd at /sys/fs/cgroup"
    return None


class TestHost:
    """A booted test host. Construct with `boot()`; leave with `stop()` (or the context)."""

    __test__ = False  # not a pytest class

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.name = name
        self.launcher: subprocess.Popen[bytes] | None = None
        self.pid = 0  # the namespace's systemd, in our PID namespace
        self.cgroups: list[Path] = []
        self.config_path = INNER / "config.json"  # inside
        self.state_dir = INNER / "state"  # inside

    # ------------------------------------------------------------------ paths

    @property
    def root(self) -> Path:
        """The namespace's root directory, seen from outside."""
        return Path(f"/proc/{self.pid}/root")

    @property
    def proc_root(self) -> Path:
        return self.root / "proc"

    @property
    def bus_address(self) -> str:
        return f"unix:path={self.root}/run/dbus/system_bus_socket"

    @property
    def runtime_dir(self) -> Path:
        """alice's XDG_RUNTIME_DIR, seen from outside."""
        return self.root / "run" / "user" / str(UID)

    def outside(self, inner: Path) -> Path:
        """A path under /run/testhost (inside) as seen from outside."""
        return self.workdir / inner.relative_to(INNER)

    # ------------------------------------------------------------------ running things

    def run(
        self, *argv: str, check: bool = True, timeout: float = 30.0, gpus: bool = False,
        env: dict[str, str] | None = None, as_user: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the namespace (nsenter -p -m), as root or as alice."""
        full_env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "SYSTEMD_PAGER": "",
            "SYSTEMD_COLORS": "0",
        }
        if gpus:
            full_env["LD_LIBRARY_PATH"] = str(INNER / "lib")
        full_env.update(env or {})
        prefix = ["nsenter", "-t", str(self.pid), "-p", "-m", "--"]
        if as_user:
            prefix += ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
                       "env", f"XDG_RUNTIME_DIR=/run/user/{UID}",
                       f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{UID}/bus"]
        proc = subprocess.run(
            [*prefix, *argv], env=full_env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        if check and proc.returncode != 0:
            raise TestHostError(
                f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"
            )
        return proc

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--no-pager", *args, check=check)

    def is_active(self, unit: str) -> str:
        return self.systemctl("is-active", unit, check=False).stdout.strip()

    def mode_argv(self, *args: str) -> list[str]:
        """The `mode` command line for this host: host backend, its config and state dir."""
        return [str(REPO / ".venv/bin/mode"), "--backend", "host", "--state-dir",
                str(self.state_dir), "--config", str(self.config_path), *args]

    def mode(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """The `mode` CLI inside the test host."""
        return self.run(*self.mode_argv(*args), check=False, timeout=timeout, gpus=True)

    def sessions(self) -> list[dict[str, str]]:
        out = self.run("loginctl", "list-sessions", "--no-legend").stdout
        return [{"id": line.split()[0], "user": line.split()[2]}
                for line in out.splitlines() if line.strip()]

    def wait_for(
        self, what: str, ready: Callable[[], bool], timeout: float = 20.0,
        interval: float = 0.05,
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except (TestHostError, subprocess.SubprocessError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TestHostError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(interval)

    # ------------------------------------------------------------------ the desktop

    def wait_for_desktop(self, timeout: float = 30.0) -> None:
        """desktop.target active, alice's wayland session present, her PipeWire answering."""
        self.wait_for("desktop.target", lambda: self.is_active("desktop.target") == "active",
                      timeout)
        self.wait_for("alice's session", lambda: bool(self.sessions()), timeout)
        self.wait_for("alice's PipeWire", self._pipewire_ready, timeout)

    def _pipewire_ready(self) -> bool:
        dump = self.pw_dump()
        return any(
            (o.get("info") or {}).get("props", {}).get("node.name") == "dubnium-null-sink"
            for o in dump
        )

    def pw_dump(self) -> list[dict[str, Any]]:
        proc = self.run("pw-dump", "-N", env={"XDG_RUNTIME_DIR": f"/run/user/{UID}"},
                        timeout=10)
        from backends.pipewire import parse_dump  # pw-dump may print several arrays

        data: list[dict[str, Any]] = parse_dump(proc.stdout)
        return data

    @contextlib.contextmanager
    def playing_audio(self) -> Iterator[str]:
        """A real `pw-play` stream from alice, running until the block ends (a unit)."""
        unit = f"dubnium-test-audio-{secrets.token_hex(3)}"
        self.run(
            "systemd-run", f"--unit={unit}", f"--uid={UID}", f"--gid={UID}",
            f"--setenv=XDG_RUNTIME_DIR=/run/user/{UID}", "--collect", "--quiet",
            "pw-play", str(INNER / "tone.wav"),
        )
        try:
            self.wait_for("a running pw-play stream", self._stream_running, 10)
            yield unit
        finally:
            self.systemctl("stop", f"{unit}.service", check=False)

    def _stream_running(self) -> bool:
        for obj in self.pw_dump():
            info = obj.get("info") or {}
            props = info.get("props") or {}
            if props.get("media.class") == "Stream/Output/Audio" and info.get("state") == "running":
                return True
        return False

    def restore_desktop(self) -> None:
        """Back to the boot state: desktop.target isolated, overlay off, default slices."""
        self.systemctl("isolate", "desktop.target", check=False)
        for unit in ("vllm.service", "studio-local-policy.service", "audio-priority.service"):
            self.systemctl("stop", unit, check=False)
        for slice_name in ("interactive.slice", "ai.slice", "platform.slice"):
            self.systemctl(
                "set-property", "--runtime", slice_name, "CPUWeight=100", "IOWeight=100",
                "CPUQuota=", "MemoryHigh=infinity", "MemoryMax=infinity", check=False,
            )
        for unit in ("user.slice", f"user@{UID}.service"):  # studio-local's audio units
            self.systemctl("set-property", "--runtime", unit, "CPUWeight=", "IOWeight=",
                           check=False)
        if self.is_active("dbus.service") != "active":
            self.systemctl("start", "dbus.socket", "dbus.service")
            self.systemctl("restart", "systemd-logind.service")
        self.systemctl("start", f"user@{UID}.service", check=False)
        self.wait_for("alice's session", lambda: bool(self.sessions()), 30)
        self.run("systemctl", "--user", "start", "pipewire.socket", "pipewire.service",
                 "wireplumber.service", as_user=True, check=False)
        self.wait_for_desktop()
        for key in ("clock.force-quantum", "clock.force-rate"):
            self.pw_metadata(key, 0)

    def pw_metadata(self, key: str, value: int) -> None:
        """Set one entry of alice's PipeWire `settings` metadata (as alice)."""
        self.run("pw-metadata", "-n", "settings", "0", key, str(value), as_user=True)

    def pw_settings(self) -> dict[str, object]:
        """alice's PipeWire `settings` metadata as pw-dump shows it (subject 0)."""
        for obj in self.pw_dump():
            if (obj.get("type") == "PipeWire:Interface:Metadata"
                    and (obj.get("props") or {}).get("metadata.name") == "settings"):
                return {e["key"]: e["value"] for e in obj.get("metadata") or ()
                        if e.get("subject") == 0}
        raise TestHostError("alice's PipeWire has no settings metadata")

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Kill the namespace by its init's pid, reap the launcher, remove the cgroups."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self.launcher is not None:
            try:
                self.launcher.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.launcher.kill()
                self.launcher.wait(timeout=10)
        for cgroup in self.cgroups:
            _remove_cgroup(cgroup)
        self.cgroups = []
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> TestHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _remove_cgroup(path: Path) -> None:
    """Remove `path` and the cgroups systemd created below it, deepest first."""
    if not path.is_dir():
        return
    for _ in range(50):
        dirs = sorted((p for p in path.rglob("*") if p.is_dir()),
                      key=lambda p: len(p.parts), reverse=True)
        try:
            for d in [*dirs, path]:
                d.rmdir()
            return
        except OSError:
            time.sleep(0.1)  # processes still exiting
    print(f"testhost: could not remove cgroup {path}", file=sys.stderr)


# ---------------------------------------------------------------------- building the host


# The seed's shell observer (loginctl + systemctl + pw-dump), the peer the benchmarks time
# `mode current` against inside the test host.
SHELL_OBSERVER = f"""\
set -u
for id in $(loginctl list-sessions --no-legend | awk '{{print $1}}'); do
  loginctl show-session "$id" -p Type -p Class -p State -p Leader >/dev/null
done
systemctl is-active desktop.target compute.target graphical.target vllm.service \\
  studio-local-policy.service audio-priority.service >/dev/null
XDG_RUNTIME_DIR=/run/user/{UID} pw-dump -N >/dev/null
"""


def host_policy_json(workdir_inner: Path = INNER) -> dict[str, Any]:
    """The config file of the test host: the default policy, with paths and timeouts scaled
    to it (and load/memory guards relaxed: other work shares this 2-core machine)."""
    from dubnium.policy import default_policy

    data = default_policy().to_json()
    data["paths"] = {
        "state_dir": str(workdir_inner / "state"),
        "audit_log": str(workdir_inner / "audit" / "events.jsonl"),
        "model_store": str(workdir_inner / "models"),
    }
    data["timeouts"] = {
        "unit_start_s": 20.0, "unit_stop_s": 20.0, "session_exit_s": 10.0,
        "vllm_ready_s": 20.0, "graphical_ready_s": 30.0, "lock_stale_s": 900.0,
    }
    data["gpu_release"] = {**data["gpu_release"], "timeout_s": 10.0, "poll_interval_s": 0.2}
    data["guards"] = {**data["guards"], "cpu_load_per_core_max": 1000.0,
                      "memory_available_min_mib": 64, "model_store_free_min_mib": 1}
    # studio-local tunes alice's audio: her user manager, user.slice, her PipeWire's clock.
    # CPU 1 is kept for her audio in studio-local, ai and platform on CPU 0 (2-core machine).
    data["studio"] = {**data["studio"], "audio_uid": UID, "audio_user": USER,
                      "audio_units": ["user.slice", f"user@{UID}.service"], "audio_cpus": "1"}
    for name in ("ai.slice", "platform.slice"):
        data["slices"]["studio-local"][name]["allowed_cpus"] = "0"
    return data


_OWN_UNITS = {
    BASE_TARGET: """\
[Unit]
Description=Dubnium test host base (journald, dbus, logind)
Wants=systemd-journald.service dbus.socket dbus.service systemd-logind.service
After=systemd-journald.service dbus.service systemd-logind.service
""",
    "graphical.target": """\
[Unit]
Description=Graphical interface (test host: the display manager stand-in)
Requires=dubnium-base.target
Wants=display-manager.service
After=dubnium-base.target display-manager.service
AllowIsolate=yes
""",
    "display-manager.service": f"""\
[Unit]
Description=Display manager stand-in: autologin of {USER} into a wayland session
After=systemd-logind.service dbus.service
[Service]
User={USER}
PAMName=login
Environment=XDG_SESSION_TYPE=wayland XDG_SESSION_CLASS=user XDG_SESSION_DESKTOP=Hyprland
ExecStart={INNER}/bin/Hyprland infinity
""",
    # The resident observer's socket in this host's state directory (NixOS: the unit's
    # own, in /run/mode-controller).
    "mode-current.socket.d/10-test-host.conf":
        f"[Socket]\nListenStream=\nListenStream={INNER}/state/current.sock\n",
    # ... and the NVML stand-in, as `TestHost.mode` gives the CLI (gpus=True).
    "mode-current.service.d/10-test-host.conf":
        f"[Service]\nEnvironment=LD_LIBRARY_PATH={INNER}/lib\n",
    "service.d/10-nodefaultdeps.conf": "[Unit]\nDefaultDependencies=no\n",
    "socket.d/10-nodefaultdeps.conf": "[Unit]\nDefaultDependencies=no\n",
}
_MASKED = ("modprobe@.service", "systemd-journald-dev-log.socket",
           "systemd-journald-audit.socket")
_NULL_SINK = """\
context.objects = [
  { factory = adapter
    args = { factory.name = support.null-audio-sink node.name = "dubnium-null-sink"
             media.class = Audio/Sink object.linger = true audio.position = [ FL FR ]
             node.driver = true priority.driver = 1000 priority.session = 1000 } }
]
"""
_INIT = """\
#!/bin/bash
# PID 1 of the test host until it execs systemd (written by tests/host/testhost.py).
set -euo pipefail
W="$1"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p {inner} && mount --bind "$W" {inner}
# The checkout (its .venv) must stay visible even when it lives under /tmp (a CI clone).
mkdir -p /run/dubnium-repo && mount --bind {repo} /run/dubnium-repo
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mkdir -p {repo} && mount --bind /run/dubnium-repo {repo}
for f in passwd group shadow; do mount --bind {inner}/etc/$f /etc/$f; done
{python_reachable}mkdir -p /run/systemd/system
cp -a {inner}/units/. /run/systemd/system/
mkdir -p /run/systemd/journald.conf.d
printf '[Journal]\\nStorage=volatile\\n' > /run/systemd/journald.conf.d/10-volatile.conf
export container=other
exec /lib/systemd/systemd --system --unit=desktop.target
"""


def _python_reachable() -> str:
    """Lines of init.sh that let every user run this interpreter inside the namespace.

    The checkout's .venv links to a base interpreter that may live under a home only root
    may enter (pyenv under /root, mode 0700). Inside the namespace that directory becomes a
    tmpfs others may pass through, holding only the interpreter's tree, so alice can run
    `mode` as an ordinary user would. Nothing outside the namespace changes."""
    base = Path(os.path.realpath(sys.base_prefix))
    closed = next((d for d in reversed(base.parents) if d != Path("/")
                   and not os.stat(d).st_mode & 0o001), None)
    if closed is None:
        return ""
    b, c = shlex.quote(str(base)), shlex.quote(str(closed))
    return (f"mkdir -p /run/dubnium-python && mount --bind {b} /run/dubnium-python\n"
            f"mount -t tmpfs -o mode=755 tmpfs {c}\n"
            f"mkdir -p {b} && mount --bind /run/dubnium-python {b}\n")


def render_units(out: Path) -> None:
    """Dubnium's units from the NixOS unit graph (scripts/render-units), for this host."""
    mode_cmd = (f"{REPO}/.venv/bin/mode --backend host --config {INNER}/config.json "
                f"--state-dir {INNER}/state")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts/render-units"), "--out", str(out),
         "--set", f"baseTarget={BASE_TARGET}",
         "--set", f"exec.vllm={INNER}/bin/vllm infinity",
         "--set", f"exec.mode={mode_cmd}",
         "--set", f"vllm.modelStore={INNER}/models"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if proc.returncode != 0:
        raise TestHostError(f"scripts/render-units failed: {proc.stderr.strip()}")
    # The boot normaliser and the observer timer would run `mode` on their own during the
    # tests; the tests drive the CLI themselves.
    for link in out.glob("*.wants/mode-*"):
        link.unlink()


def _write_tone(path: Path, seconds: int = 60) -> None:
    rate = 48000
    period = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 441 * i / rate)))
        for i in range(rate // 441)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(period * (441 * seconds))


def prepare(workdir: Path) -> None:
    """Fill the work directory: units, users, stand-ins, PipeWire config, config.json."""
    units = workdir / "units"
    units.mkdir()
    render_units(units)
    for rel, text in _OWN_UNITS.items():
        (units / rel).parent.mkdir(parents=True, exist_ok=True)
        (units / rel).write_text(text)
    for name in _MASKED:
        (units / name).symlink_to("/dev/null")
    # The blanket DefaultDependencies=no drop-in (needed to keep sysinit.target away) also
    # drops the After= that a target adds to the units it wants (systemd.target(5)): on
    # NixOS compute.target is only active once vllm.service has started. Put it back.
    for wants in units.glob("*.target.wants"):
        target = wants.name.removesuffix(".wants")
        for link in wants.iterdir():
            dropin = units / f"{link.name}.d" / "10-ordered-before-target.conf"
            dropin.parent.mkdir(exist_ok=True)
            dropin.write_text(f"[Unit]\nBefore={target}\n")

    etc = workdir / "etc"
    etc.mkdir()
    for name, line in (
        ("passwd", f"{USER}:x:{UID}:{UID}:Alice:{INNER}/home/{USER}:/bin/bash"),
        ("group", f"{USER}:x:{UID}:"),
        ("shadow", f"{USER}:!:19000:0:99999:7:::"),
    ):
        text = Path("/etc", name).read_text()
        (etc / name).write_text(text.rstrip("\n") + "\n" + line + "\n")
    (etc / "shadow").chmod(0o640)

    home = workdir / "home" / USER
    conf = home / ".config/pipewire/pipewire.conf.d"
    conf.mkdir(parents=True)
    (conf / "dubnium-null-sink.conf").write_text(_NULL_SINK)
    for path in [home, *home.rglob("*")]:
        os.chown(path, UID, UID)

    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    sleep = shutil.which("sleep") or "/bin/sleep"
    for stand_in in ("Hyprland", "vllm"):  # comm is the executable's name
        shutil.copy(sleep, bin_dir / stand_in)
    lib = workdir / "lib"
    lib.mkdir()
    proc = subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(lib / "libnvidia-ml.so.1"),
         str(Path(__file__).with_name("fake_nvml.c"))],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if proc.returncode != 0:
        raise TestHostError(f"building the NVML stand-in failed: {proc.stderr.strip()}")
    _write_tone(workdir / "tone.wav")
    for sub in ("state", "audit", "models"):
        (workdir / sub).mkdir()
    # A seeded stand-in of the policy's model (model_present reads config.json + weights).
    from dubnium.policy import default_policy

    model = workdir / "models" / default_policy().vllm.model
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}\n")
    (model / "model.safetensors").write_bytes(b"\0" * 1024)
    (workdir / "config.json").write_text(json.dumps(host_policy_json(), indent=2))
    (workdir / "init.sh").write_text(_INIT.format(inner=INNER, repo=shlex.quote(str(REPO)),
                                                  python_reachable=_python_reachable()))
    (workdir / "init.sh").chmod(0o755)


def boot(*, timeout: float = 30.0, keep_on_failure: bool = False) -> TestHost:
    """Boot a test host and wait until alice's desktop and PipeWire are up."""
    why = can_boot()
    if why:
        raise TestHostError(f"cannot boot a test host here: {why}")
    workdir = Path(tempfile.mkdtemp(prefix="dubnium-testhost-"))
    workdir.chmod(0o755)
    name = workdir.name
    host = TestHost(workdir, name)
    try:
        prepare(workdir)
        for hierarchy in HIERARCHIES:
            base = CGROUP_ROOT / hierarchy
            if base.is_dir():
                cgroup = base / name
                cgroup.mkdir()
                host.cgroups.append(cgroup)
        # The launcher joins the new cgroups first, so the namespace's systemd takes them
        # as its root instead of the host's root cgroup.
        script = 'for d in "${@:2}"; do echo $$ > "$d/cgroup.procs"; done; ' \
                 'exec unshare --pid --fork --mount --mount-proc --uts --ipc "$1/init.sh" "$1"'
        log = (workdir / "boot.log").open("wb")
        host.launcher = subprocess.Popen(
            ["bash", "-c", script, "launcher", str(workdir), *map(str, host.cgroups)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        host.pid = _namespace_init(host.launcher, timeout)
        host.wait_for(
            "systemd to finish booting",
            lambda: host.systemctl("is-system-running", check=False).stdout.strip()
            in ("running", "degraded"),
            timeout,
        )
        host.wait_for_desktop(timeout)
    except BaseException:
        log_text = ""
        with contextlib.suppress(OSError):
            log_text = (workdir / "boot.log").read_text()[-3000:]
        if not keep_on_failure:
            host.stop()
        if log_text:
            print(f"testhost boot log:\n{log_text}", file=sys.stderr)
        raise
    return host


def _namespace_init(launcher: subprocess.Popen[bytes], timeout: float) -> int:
    """The pid (in our namespace) of the child `unshare --fork` started: systemd."""
    deadline = time.monotonic() + timeout
    children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            raise TestHostError(f"the namespace launcher exited {launcher.returncode}")
        with contextlib.suppress(OSError):
            pids = children.read_text().split()
            if pids:
                pid = int(pids[0])
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                        return pid
        time.sleep(0.01)
    raise TestHostError("the namespace's systemd did not start")


@contextlib.contextmanager
def running_test_host(**kwargs: Any) -> Iterator[TestHost]:
    """`with running_test_host() as host:` boots one and always removes it."""
    host = boot(**kwargs)
    try:
        yield host
    finally:
        host.stop()


def unit_states(host: TestHost, units: Sequence[str] = MODE_UNITS) -> dict[str, str]:
    return {u: host.is_active(u) for u in units}
