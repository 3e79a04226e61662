# desktop.target and compute.target (seed 002): compute conflicts with graphical.target and
# desktop.target; both require multi-user.target, so `systemctl isolate` of either never
# stops dbus, logind or sshd. The host boots into the target of dubnium.boot.defaultMode.
{ config, lib, ... }:
let
  cfg = config.dubnium;
  pick = import ./unit-lib.nix cfg;
in
{
  config = lib.mkIf cfg.enable {
    systemd = pick [ "desktop.target" "compute.target" ] // {
      defaultUnit = if cfg.boot.defaultMode == "compute" then "compute.target" else "desktop.target";
    };
  };
}
