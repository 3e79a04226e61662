# desktop.target and compute.target (seed 002): compute conflicts with graphical.target and
# desktop.target; both require multi-user.target, so `systemctl isolate` of either never
# stops dbus, logind or sshd. The host boots into the target of dubnium.boot.defaultMode.
#
# systemd.defaultUnit at priority 90 (between a plain definition, 100, and lib.mkForce, 50):
# NixOS's display-manager modules (greetd, which workloads/hyprland.nix enables) set
# "graphical.target" as a plain definition, and two plain definitions conflict. Dubnium's
# choice must win over theirs — desktop.target wants graphical.target, so the display manager
# still starts, and booting to compute must not start it — while a host that really wants
# another default unit can still say so with lib.mkForce. The knob is dubnium.boot.defaultMode.
{ config, lib, ... }:
let
  cfg = config.dubnium;
  pick = import ./unit-lib.nix cfg;
in
{
  config = lib.mkIf cfg.enable {
    systemd = pick [ "desktop.target" "compute.target" ] // {
      defaultUnit = lib.mkOverride 90
        (if cfg.boot.defaultMode == "compute" then "compute.target" else "desktop.target");
    };
  };
}
