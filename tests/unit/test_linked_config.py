"""NixOS installs /etc/dubnium/config.json as a symbolic link (to /etc/static, which links
into the Nix store), and links the generated runtime files (capability-placement.json,
hardware-topology.json) into the state directory the same way (`L+` in tmpfiles). `mode`
must read a linked config and leave the linked runtime files alone.

Found while reading the read path: every `mode` call on a NixOS host refused its own config
("a symbolic link, not a regular file", exit 6), and every switch refused the linked
runtime files (exit 7).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dubnium.codes import ExitCode
from dubnium.policyload import load_policy
from dubnium.state import DirectoryStore, RuntimeState

MODE = [sys.executable, "-c", "import sys; sys.argv[0] = 'mode'; "
        "from dubnium_app.launch import main; main()"]


def _linked_config(tmp_path: Path) -> Path:
    """A config reached the way NixOS installs it: /etc link -> /etc/static link -> store."""
    store = tmp_path / "store-config.json"
    store.write_text(json.dumps({
        "schema_version": 1,
        "paths": {"state_dir": str(tmp_path / "state"),
                  "audit_log": str(tmp_path / "log" / "events.jsonl")},
        "timeouts": {"current_max_age_s": 0}}))
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "config.json").symlink_to(store)
    (tmp_path / "etc").mkdir()
    link = tmp_path / "etc" / "config.json"
    link.symlink_to(Path("..") / "static" / "config.json")
    (tmp_path / "state").mkdir()
    return link


def test_a_linked_config_loads(tmp_path: Path) -> None:
    policy = load_policy(_linked_config(tmp_path))
    assert policy.paths.state_dir == str(tmp_path / "state")


@pytest.mark.parametrize("verb", [["desired"], ["last-transition"], ["history"],
                                  ["current", "--json"], ["status", "--json"]])
def test_every_read_verb_reads_a_linked_config(tmp_path: Path, verb: list[str]) -> None:
    config = _linked_config(tmp_path)
    done = subprocess.run([*MODE, "--backend", "host", "--config", str(config), *verb],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"})
    assert "invalid config" not in done.stderr, done.stderr
    assert done.returncode != ExitCode.CONFIG_INVALID, done.stderr


def test_a_config_that_links_to_a_fifo_is_still_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "config.json"
    link.symlink_to(fifo)
    from dubnium.errors import ConfigError

    with pytest.raises(ConfigError, match="not a regular file"):
        load_policy(link)


def test_linked_runtime_files_are_left_to_the_module(tmp_path: Path) -> None:
    """A switch writes capability-placement.json and hardware-topology.json only where they
    are missing; the module's links into the store are neither read nor replaced."""
    from dubnium.policy import Policy

    state = tmp_path / "state"
    state.mkdir()
    for name in ("capability-placement.json", "hardware-topology.json"):
        target = tmp_path / f"store-{name}"
        target.write_text('{"schema_version": 1}')
        (state / name).symlink_to(target)
    RuntimeState(DirectoryStore(state), str(state)).write_generated(Policy())
    for name in ("capability-placement.json", "hardware-topology.json"):
        assert (state / name).is_symlink()
        assert (state / name).read_text() == '{"schema_version": 1}'
