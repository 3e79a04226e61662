# interactive.slice, ai.slice, platform.slice (seed 002 "Slice Structure"), with the desktop
# weights of dubnium.slices.desktop as their boot values; the controller changes them at
# run time per mode.
{ config, lib, ... }:
let
  cfg = config.dubnium;
  pick = import ./unit-lib.nix cfg;
in
{
  config = lib.mkIf cfg.enable {
    systemd = pick [ "interactive.slice" "ai.slice" "platform.slice" ];
  };
}
