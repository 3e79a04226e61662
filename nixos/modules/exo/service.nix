# exo.target and exo.service (from the pure data in nixos/units/exo.nix), the dedicated
# user and group, the state directory, hardware selection (package variant, device access)
# and the preflight (ExecStartPre). Part of nixosModules.exo (./default.nix).
{ config, options, lib, pkgs, ... }:
let
  cfg = config.services.exo;
  exoLib = import ./lib.nix;
  f = import ./facts.nix { inherit config options pkgs; };
  toNixos = import ../../lib/to-nixos.nix;
  checks = exoLib.checks f;

  accelerator = exoLib.accelerator f;
  exoPackage =
    if accelerator == "cuda" && cfg.hardware.cudaPackage != null
    then cfg.hardware.cudaPackage else cfg.package;

  params = {
    baseTarget = "multi-user.target";
    exo = exoLib.unitParams f {
      exe = lib.getExe' exoPackage "exo";
      preflightExe = lib.getExe' cfg.hardware.preflightPackage "dubnium-preflight";
    };
  };
  units = import ../../units/exo.nix params;

  underVarLib = lib.hasPrefix "/var/lib/" cfg.security.dataDir;
  isDefaultUser = cfg.security.user == "exo";
  isDefaultGroup = cfg.security.group == "exo";
  # A data directory outside /var/lib (not a StateDirectory) and a separate model store.
  tmpfiles =
    lib.optionalAttrs (!underVarLib) {
      ${cfg.security.dataDir}.d = {
        inherit (cfg.security) user group;
        mode = "0750";
      };
    }
    // lib.optionalAttrs (cfg.modelStore != null) {
      ${cfg.modelStore}.d = {
        inherit (cfg.security) user group;
        mode = "0750";
      };
    };
in
{
  config = lib.mkMerge [
    {
      services.exo.hardware.preflightPackage = lib.mkDefault (
        if (options.dubnium or { }) ? package
        then config.dubnium.package
        else pkgs.callPackage ../../pkgs/mode-tools.nix { }
      );
    }

    (lib.mkIf cfg.enable { systemd = toNixos units; })

    (lib.mkIf cfg.enable {
      inherit (checks) assertions warnings;

      users.users = lib.mkIf isDefaultUser {
        exo = {
          isSystemUser = true;
          group = cfg.security.group;
          home = cfg.security.dataDir;
          description = "EXO inference node";
        };
      };
      users.groups = lib.mkIf isDefaultGroup { exo = { }; };

      systemd.tmpfiles.settings = lib.mkIf (tmpfiles != { }) { "10-exo" = tmpfiles; };
    })
  ];
}
