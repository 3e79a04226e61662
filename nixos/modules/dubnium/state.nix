# Runtime and configuration state (seed 002 state.nix, seed 000 phase 0.5):
# /etc/dubnium/config.json — the policy file dubnium/policy.py loads, generated from the
# options by nixos/lib/config-json.nix; the runtime state directory (root-owned, readable);
# capability-placement.json and hardware-topology.json linked into it; the audit log's
# directory and the model store, created so persistence_paths_ready can pass.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkIf;
  cfg = config.dubnium;
  json = pkgs.formats.json { };
  runtimeFiles = import ../../lib/runtime-files.nix cfg;
in
{
  config = mkIf cfg.enable {
    environment.etc."dubnium/config.json".source =
      json.generate "dubnium-config.json" (import ../../lib/config-json.nix cfg);

    systemd.tmpfiles.rules = [
      "d ${cfg.paths.stateDir} 0755 root root - -"
      # 0755: the audit log holds no secrets and `mode history`/`doctor` are open to every
      # user (docs/decisions/0006-root-only-lock-file.md); only root writes it.
      "d ${dirOf cfg.paths.auditLog} 0755 root root - -"
      # Seeded by root (docs/runbooks/model-seeding.md), read by vLLM and by `mode guards`
      # for every user (model_present); weights are not secrets.
      "d ${cfg.paths.modelStore} 0755 root root - -"
    ] ++ lib.mapAttrsToList
      (name: value: "L+ ${cfg.paths.stateDir}/${name} - - - - ${json.generate "dubnium-${name}" value}")
      runtimeFiles;
  };
}
