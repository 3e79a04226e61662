# k3s integration: the EXO API as a Kubernetes Service + Endpoints (no selector: EXO runs on
# the host, not in a pod), applied by the k3s module's auto-deploying manifests. Part of
# nixosModules.exo (./default.nix).
{ config, options, lib, ... }:
let
  cfg = config.services.exo;
  hasManifests = (options.services.k3s or { }) ? manifests;
in
{
  # Only where the option exists (NixOS >= 24.11); elsewhere an assertion in lib.nix says so.
  config = lib.optionalAttrs hasManifests {
    services.k3s.manifests = lib.mkIf (cfg.enable && cfg.k3s.integration) {
      exo.content = (import ./lib.nix).k3sManifest cfg;
    };
  };
}
