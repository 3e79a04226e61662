# Idle automation (`dubnium.idle.*`): mode-idle.service runs `mode idle watch`, which requests
# compute when every idle condition (logind IdleHint of the seat's graphical sessions, no
# inhibitor lock of `inhibitorKinds`, no exclusive application, no audio, low load, inside
# the schedule) has held for `afterSec`, and desktop again when automation's compute sees
# its owner back (`wakeOn`). The values reach /etc/dubnium/config.json's `idle` section
# through nixos/lib/config-json.nix; defaults are nixos/lib/defaults.nix's. docs/nixos.md.
{ config, lib, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf types;
  cfg = config.dubnium;
  d = (import ../../lib/defaults.nix).idle;
  seconds = types.either types.ints.unsigned (types.addCheck types.float (x: x >= 0.0));
  window = types.strMatching "([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]";
in
{
  options.dubnium.idle = {
    enable = mkEnableOption ''
      idle automation: mode-idle.service requests compute when the workstation has been
      truly idle for `afterSec`, and desktop when its owner returns'';
    afterSec = mkOption {
      type = seconds;
      default = d.afterSec;
      description = "How long every idle condition must hold, continuously, before compute.";
    };
    cooldownSec = mkOption {
      type = seconds;
      default = d.cooldownSec;
      description = "No automatic promotion for this long after a return to desktop.";
    };
    pollIntervalSec = mkOption {
      type = seconds;
      default = d.pollIntervalSec;
      description = "How often the watcher looks.";
    };
    inhibitorKinds = mkOption {
      type = types.listOf (types.enum [ "idle" "sleep" "shutdown" "handle-lid-switch"
        "handle-power-key" "handle-suspend-key" "handle-hibernate-key" ]);
      default = d.inhibitorKinds;
      description = ''
        logind inhibitor kinds whose block-mode locks prevent promotion
        (`systemd-inhibit --what=idle ...`; delay-mode locks are ignored).
      '';
    };
    exclusiveApps = mkOption {
      type = types.listOf types.str;
      default = d.exclusiveApps;
      example = [ "reaper" "steam" "gamescope" ];
      description = "Process names (comm) that prevent promotion while they run.";
    };
    loadPerCoreMax = mkOption {
      type = types.addCheck types.number (x: x >= 0);
      default = d.loadPerCoreMax;
      description = "The 1-minute load per core must stay under this.";
    };
    schedule = {
      windows = mkOption {
        type = types.listOf window;
        default = d.schedule.windows;
        example = [ "22:00-07:00" ];
        description = "Local time windows (HH:MM-HH:MM, may wrap midnight); empty: any time.";
      };
      days = mkOption {
        type = types.listOf (types.enum [ "mon" "tue" "wed" "thu" "fri" "sat" "sun" ]);
        default = d.schedule.days;
        example = [ "mon" "tue" "wed" "thu" "fri" ];
        description = "Days a window may open on; empty: every day.";
      };
      timeZone = mkOption {
        type = types.str;
        default = d.schedule.timeZone;
        example = "Europe/Berlin";
        description = "The zone the windows are in (usually your `time.timeZone`).";
      };
    };
    wakeOn = mkOption {
      type = types.listOf (types.enum [ "key" "login" "command" ]);
      default = d.wakeOn;
      description = ''
        What brings the desktop back when automation entered compute: `key` (a key on a
        console tty), `login` (a new local session at the seat), `command` (`mode idle wake`,
        e.g. bound to a key or run over ssh). An owner's own `mode request compute` is never
        undone by these.
      '';
    };
  };

  config = mkIf (cfg.enable && cfg.idle.enable) {
    systemd.services.mode-idle = {
      description = "Dubnium idle automation: compute when idle, desktop when the owner returns";
      wantedBy = [ "multi-user.target" ];
      after = [ "mode-boot.service" "systemd-logind.service" "dbus.service" ];
      # It survives `isolate compute.target` and `isolate desktop.target`: it started them.
      unitConfig.IgnoreOnIsolate = true;
      restartIfChanged = false;
      serviceConfig = {
        User = "root";
        ExecStart = "${lib.getExe' cfg.package "mode"} --backend host --state-dir "
          + "${cfg.paths.stateDir} --config /etc/dubnium/config.json idle watch";
        Restart = "on-failure";
        RestartSec = 30;
      };
    };
  };
}
