# vLLM, compute-only (seed 002 "Service Layout"): vllm.service is wanted by and PartOf
# compute.target, runs in ai.slice under a dedicated system user, reads the profile the
# controller writes (CUDA_VISIBLE_DEVICES by GPU UUID, tensor-parallel size, profile name),
# serves the model from its local directory in the model store (seeded by the owner,
# docs/runbooks/model-seeding.md; the hub is offline), keeps its home and caches in its own
# StateDirectory/CacheDirectory, and is sandboxed in the manner of nixpkgs' ollama module with
# the NVIDIA devices allowed (nixos/units/dubnium.nix).
#
# CUDA: with dubnium.vllm.cudaSupport (default) nixpkgs is configured with cudaSupport and,
# when dubnium.hardware.cudaCapabilities is set, those capabilities, so torch and vLLM are
# built for the GPUs (docs/nixos.md "CUDA": the binary cache and the build cost).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkIf mkMerge;
  cfg = config.dubnium;
  pick = import ../dubnium/unit-lib.nix cfg;
  profilePath = "${cfg.paths.stateDir}/vllm-profile.env";
  params = import ../../units/params.nix;
  # An id (Org/Name) is a directory of that name in the model store; a path is itself.
  modelPath = (import ../../lib/model-path.nix) cfg.paths.modelStore cfg.vllm.model;

  # Chooses the profile's arguments, refuses to start without a profile (the controller
  # writes it before starting the unit), then execs `vllm serve` (nixos/lib/vllm-launcher.nix).
  launcher = pkgs.writeShellApplication {
    name = "dubnium-vllm";
    text = import ../../lib/vllm-launcher.nix {
      vllm = lib.getExe' cfg.vllm.package "vllm";
      inherit (cfg.vllm) host port extraArgs profiles;
      model = modelPath;
      servedModelName = toString cfg.vllm.model;
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
        # Its StateDirectory (created by systemd), not the model store: caches and the hub's
        # metadata must not land among the weights.
        home = params.vllm.stateDir;
        description = "vLLM (Dubnium compute mode)";
      };
      users.groups.vllm = { };
    }
    (mkIf cfg.vllm.cudaSupport {
      nixpkgs.config = {
        cudaSupport = lib.mkDefault true;
      } // lib.optionalAttrs (cfg.hardware.cudaCapabilities != [ ]) {
        cudaCapabilities = lib.mkDefault cfg.hardware.cudaCapabilities;
      };
    })
  ]);
}
