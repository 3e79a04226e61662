# The controller: `mode` on every user's PATH (read verbs for everyone, mutating verbs
# refuse without root), mode-controller@<mode>.service (a transition run by systemd, e.g.
# `systemctl start mode-controller@compute`), and mode-boot.service (boot normalises to
# dubnium.boot.defaultMode; the last desired mode is not replayed). Both are root-only and
# survive isolate; neither is restarted by `nixos-rebuild switch`, which must not start a
# transition on its own.
{ config, lib, ... }:
let
  inherit (lib) mkIf mkMerge;
  cfg = config.dubnium;
  pick = import ./unit-lib.nix cfg;
in
{
  config = mkIf cfg.enable (mkMerge [
    {
      systemd = pick [ "mode-controller@.service" "mode-boot.service" ];
      environment.systemPackages = [ cfg.package ];
    }
    {
      systemd.services."mode-controller@" = {
        restartIfChanged = false;
        serviceConfig.User = "root";
      };
      systemd.services.mode-boot = {
        restartIfChanged = false;
        serviceConfig.User = "root";
      };
    }
  ]);
}
