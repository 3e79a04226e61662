# Compute-mode-only EXO with the Dubnium module: dubnium.exo.computeOnly makes compute.target
# start exo.target/exo.service (nixos/units/exo.nix) and sets dubnium.exo.enable, which the
# Dubnium module writes as `exo.enable` into /etc/dubnium/config.json so the mode controller
# treats EXO as a compute workload. Part of nixosModules.exo (./default.nix).
{ config, options, lib, ... }:
let
  cfg = config.services.exo;
  dubniumHasExo = ((options.dubnium or { }).exo or { }) ? enable;
in
{
  config = lib.optionalAttrs dubniumHasExo {
    dubnium.exo.enable = lib.mkIf (cfg.enable && config.dubnium.exo.computeOnly) (lib.mkDefault true);
  };
}
