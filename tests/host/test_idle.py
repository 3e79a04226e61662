"""Idle automation on the test host: real logind idle hints and inhibitor locks.

alice's wayland session gets IdleHint the way hypridle would set it: `busctl call ...
/org/freedesktop/login1/session/self ... SetIdleHint b true`, run as alice from inside her
session (its scope in both the name=systemd and the unified cgroup hierarchy: logind finds
the caller's session from the unified one on this hybrid host). The inhibitor is a real
`systemd-inhibit --what=idle ... sleep 600`. The watcher is `mode idle watch` (host backend,
real clock) with a policy whose `idle.after_s` is 2 s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.host.testhost import INNER, REPO, UID, TestHost, host_policy_json

pytestmark = pytest.mark.host

CONFIG = INNER / "idle-config.json"
IN_SESSION = """\
set -eu
leader=$(loginctl show-session "$1" -p Leader --value)
v1=$(grep ':name=systemd:' /proc/"$leader"/cgroup | cut -d: -f3)
echo $$ > "/sys/fs/cgroup/systemd$v1/cgroup.procs"
v2=$(grep '^0::' /proc/"$leader"/cgroup | cut -d: -f3)
if [ -n "$v2" ] && [ -d "/sys/fs/cgroup/unified$v2" ]; then
  echo $$ > "/sys/fs/cgroup/unified$v2/cgroup.procs"
fi
shift
exec setpriv --reuid="$1" --regid="$1" --clear-groups -- "${@:2}"
"""
INHIBIT_UNIT = "dubnium-test-inhibit"


@pytest.fixture(autouse=True)
def idle_policy(host: TestHost) -> Iterator[None]:
    """Idle automation on, after 2 s, no cooldown; every test starts from the desktop."""
    data = host_policy_json()
    # Load relaxed like the guards (host_policy_json): other work shares this machine.
    data["idle"] = {"enable": True, "after_s": 2.0, "cooldown_s": 0.0,
                    "poll_interval_s": 0.5, "load_per_core_max": 1000.0}
    host.outside(CONFIG).write_text(json.dumps(data))
    host.outside(INNER / "in-session.sh").write_text(IN_SESSION)
    yield
    host.systemctl("stop", f"{INHIBIT_UNIT}.service", check=False)
    host.restore_desktop()
    for name in ("idle.json", "idle-control.json"):
        (host.outside(host.state_dir) / name).unlink(missing_ok=True)


def mode(host: TestHost, *args: str) -> Any:
    argv = [str(REPO / ".venv/bin/mode"), "--backend", "host", "--state-dir",
            str(host.state_dir), "--config", str(CONFIG), *args]
    return host.run(*argv, check=False, timeout=120, gpus=True)


def status(host: TestHost) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(mode(host, "idle", "status", "--json").stdout)
    return data


def set_idle_hint(host: TestHost, session: str, idle: bool) -> None:
    """As alice, inside her session, what hypridle's on-timeout runs."""
    host.run("bash", str(INNER / "in-session.sh"), session, str(UID), "busctl", "call",
             "org.freedesktop.login1", "/org/freedesktop/login1/session/self",
             "org.freedesktop.login1.Session", "SetIdleHint", "b", "true" if idle else "false")


def idle_hint(host: TestHost, session: str) -> str:
    return host.run("loginctl", "show-session", session, "-p", "IdleHint",
                    "--value").stdout.strip()


def test_an_idle_session_without_inhibitor_leads_to_compute(host: TestHost) -> None:
    """IdleHint set inside alice's session, no lock: after 2 s idle the watcher requests
    compute, it converges, and the record says idle automation asked."""
    session = host.sessions()[0]["id"]
    before = {c["id"]: c["held"] for c in status(host)["conditions"]}
    set_idle_hint(host, session, True)
    assert (False, "yes") == (before["session_idle"], idle_hint(host, session))
    watch = mode(host, "idle", "watch", "--for", "8s", "--json")
    actions = [json.loads(line) for line in watch.stdout.splitlines() if line.startswith("{")]
    records = automatic_records(host)
    assert (0, ["converged"], [("compute", "converged")]) == (
        watch.returncode, [a["outcome"] for a in actions if "outcome" in a],
        [(r["requested"], r["outcome"]) for r in records]), watch.stderr
    assert ("active", []) == (host.is_active("compute.target"), host.sessions())


def test_an_idle_inhibitor_prevents_it_and_status_names_its_holder(host: TestHost) -> None:
    """`systemd-inhibit --what=idle sleep 600` held: no transition however long idle;
    `mode idle status` names the lock's holder (who, pid) and blocks on no_inhibitor."""
    session = host.sessions()[0]["id"]
    host.run("systemd-run", f"--unit={INHIBIT_UNIT}", "--collect", "--quiet",
             "systemd-inhibit", "--what=idle", "--who=dubnium-test", "--why=Rendering",
             "sleep", "600")
    host.wait_for("the inhibitor lock", lambda: "dubnium-test" in host.run(
        "systemd-inhibit", "--list", "--no-pager", check=False).stdout, 10)
    pid = host.systemctl("show", "-p", "MainPID", "--value", f"{INHIBIT_UNIT}.service"
                         ).stdout.strip()
    set_idle_hint(host, session, True)
    before = automatic_records(host)
    watch = mode(host, "idle", "watch", "--for", "5s", "--json")
    data = status(host)
    cond = {c["id"]: c for c in data["conditions"]}["no_inhibitor"]
    assert (0, "active", [session]) == (
        watch.returncode, host.is_active("desktop.target"), [s["id"] for s in host.sessions()])
    assert (False, [f"dubnium-test (pid {pid}, uid 0, idle): Rendering"], ["conditions"]) == (
        cond["held"], cond["holders"], [b["id"] for b in data["blocking"]])
    assert before == automatic_records(host)


def automatic_records(host: TestHost) -> list[dict[str, Any]]:
    """Transition records whose `by` says idle automation, from the real audit log."""
    log = host.outside(INNER / "audit" / "events.jsonl")
    lines = log.read_text().splitlines() if log.exists() else []
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records if r.get("kind", "transition") == "transition"
            and str(r.get("by", "")).startswith("idle automation")]
