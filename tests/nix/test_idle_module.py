"""`dubnium.idle.*` (nixos/modules/dubnium/idle.nix): the config section and mode-idle.service."""

# The house style asserts `expected == actual` (STYLE.md), which SIM300 calls Yoda.

from __future__ import annotations

import re

import pytest

from dubnium.policyload import load_policy_data
from tests.nix.nixtools import NIX_LIB, eval_json, host_settings
from tests.nix.test_module_eval import evaluate

pytestmark = pytest.mark.nix

SETTINGS = {"idle": {"enable": True, "afterSec": 900, "cooldownSec": 120,
                     "exclusiveApps": ["reaper", "steam"],
                     "schedule": {"windows": ["22:00-07:00"], "days": ["mon", "fri"],
                                  "timeZone": "Europe/Berlin"},
                     "wakeOn": ["key", "command"]}}


def test_idle_options_reach_the_policy() -> None:
    """Every idle option set on the host arrives in Policy.idle under its snake_case key."""
    data = eval_json(f"import {NIX_LIB}/config-json.nix ({host_settings(SETTINGS)})")
    idle = load_policy_data(data).idle
    assert (True, 900.0, 120.0, ("reaper", "steam"), ("22:00-07:00",), ("mon", "fri"),
            "Europe/Berlin", ("key", "command")) == (
        idle.enable, idle.after_s, idle.cooldown_s, idle.exclusive_apps, idle.windows,
        idle.days, idle.timezone, idle.wake_on)


def test_mode_idle_service_only_when_enabled() -> None:
    """Enabled: mode-idle.service runs `mode ... idle watch` as root, survives isolate, is
    wanted by multi-user.target; by default there is no such unit."""
    off = evaluate()["units"]["services"]
    on = evaluate({"dubnium": SETTINGS})["units"]["services"]
    unit = on["mode-idle"]
    assert (False, True, "root", ["multi-user.target"]) == (
        "mode-idle" in off, unit["unitConfig"]["IgnoreOnIsolate"],
        unit["serviceConfig"]["User"], unit["wantedBy"])
    assert re.fullmatch(r"/nix/store/\S+/bin/mode --backend host --state-dir "
                        r"/run/mode-controller --config /etc/dubnium/config\.json idle watch",
                        unit["serviceConfig"]["ExecStart"])


def test_a_bad_window_is_refused_by_the_option_type() -> None:
    """A window that is not HH:MM-HH:MM fails evaluation naming the option."""
    with pytest.raises(AssertionError, match=r"dubnium\.idle\.schedule\.windows"):
        evaluate({"dubnium": {"idle": {"schedule": {"windows": ["late"]}}}})
