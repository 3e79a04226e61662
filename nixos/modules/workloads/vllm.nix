# vLLM, compute-only (seed 002 "Service Layout"): vllm.service is wanted by and PartOf
# compute.target, runs in ai.slice under a dedicated system user, reads the profile the
# controller writes (CUDA_VISIBLE_DEVICES by GPU UUID, tensor-parallel size, profile name),
# keeps weights in the model store outside the Nix store, and is sandboxed in the manner of
# nixpkgs' ollama module with the NVIDIA devices allowed (nixos/units/dubnium.nix).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkIf mkMerge escapeShellArgs concatStrings mapAttrsToList;
  cfg = config.dubnium;
  pick = import ../dubnium/unit-lib.nix cfg;
  profilePath = "${cfg.paths.stateDir}/vllm-profile.env";

  # Chooses the profile's arguments, refuses to start without a profile (the controller
  # writes it before starting the unit), then execs `vllm serve`.
  launcher = pkgs.writeShellApplication {
    name = "dubnium-vllm";
    text = ''
      profile="''${DUBNIUM_VLLM_PROFILE:-}"
      case "$profile" in
      ${concatStrings (mapAttrsToList (name: p: ''
        ${lib.escapeShellArg name}) profile_args=(${escapeShellArgs p.extraArgs}) ;;
      '') cfg.vllm.profiles)}
        ""|off)
          echo "dubnium-vllm: no vLLM profile in ${profilePath}; the mode controller writes it before starting vllm.service (use: sudo mode request compute)" >&2
          exit 64 ;;
        *)
          echo "dubnium-vllm: unknown profile '$profile' in ${profilePath} (known: ${toString (lib.attrNames cfg.vllm.profiles)})" >&2
          exit 64 ;;
      esac
      exec ${lib.getExe' cfg.vllm.package "vllm"} serve ${lib.escapeShellArg (toString cfg.vllm.model)} \
        --host ${lib.escapeShellArg cfg.vllm.host} --port ${toString cfg.vllm.port} \
        --tensor-parallel-size "''${DUBNIUM_TENSOR_PARALLEL_SIZE:-1}" \
        ${escapeShellArgs cfg.vllm.extraArgs} "''${profile_args[@]}"
    '';
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
