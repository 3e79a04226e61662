# vLLM, compute-only (seed 002 "Service Layout"): vllm.service is wanted by and PartOf
# compute.target, runs in ai.slice under a dedicated system user, reads the profile the
# controller writes (CUDA_VISIBLE_DEVICES by GPU UUID, tensor-parallel size, profile name),
# keeps weights in the model store outside the Nix store, and is sandboxed in the manner of
# nixpkgs' ollama module with the NVIDIA devices allowed (nixos/units/dubnium.nix).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkIf mkMerge;
  cfg = config.dubnium;
  pick = import ../dubnium/unit-lib.nix cfg;
  profilePath = "${cfg.paths.stateDir}/vllm-profile.env";

  # Chooses the profile's arguments, refuses to start without a profile (the controller
  # writes it before starting the unit), then execs `vllm serve` (nixos/lib/vllm-launcher.nix).
  launcher = pkgs.writeShellApplication {
    name = "dubnium-vllm";
    text = import ../../lib/vllm-launcher.nix {
      vllm = lib.getExe' cfg.vllm.package "vllm";
      inherit (cfg.vllm) host port extraArgs profiles;
      model = toString cfg.vllm.model;
      inherit profilePath;
    };
  };
in
{
  config = mkIf (cfg.enable && cfg.vllm.enable) (mkMerge [
    {
      dubnium.vllm.profiles = {
        compute = { };
        degraded = { };
      };
      dubnium.internal.unitParams = {
        exec.vllm = lib.getExe launcher;
        vllm.user = "vllm";
      };
      systemd = pick [ "vllm.service" ];
    }
    {
      users.users.vllm = {
        isSystemUser = true;
        group = "vllm";
        home = cfg.paths.modelStore;
        description = "vLLM (Dubnium compute mode)";
      };
      users.groups.vllm = { };
    }
  ]);
}
