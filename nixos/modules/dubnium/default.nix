# The Dubnium NixOS module (flake output nixosModules.default): desktop.target and
# compute.target, the slices, the studio-local overlay markers, the controller, the observer,
# the generated config and runtime files, build-time assertions, and the workloads
# (Hyprland, PipeWire, NVIDIA, vLLM, k3s), all behind `dubnium.enable`.
#
# The unit graph itself is pure data (nixos/units/dubnium.nix); this file fills its
# parameters with this host's store paths and options, and the other files hand each unit to
# the NixOS option it belongs to. Seed 002 "Module Layout".
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkIf filterAttrs;
  cfg = config.dubnium;
  pure = import ../../lib/pure.nix;

  suffixed = suffix: n: if n == null then null else "${toString n}${suffix}";
  sliceConfig = s: filterAttrs (_: v: v != null) {
    CPUWeight = s.cpuWeight;
    IOWeight = s.ioWeight;
    CPUQuota = suffixed "%" s.cpuQuotaPercent;
    MemoryHigh = suffixed "M" s.memoryHighMiB;
    MemoryMax = suffixed "M" s.memoryMaxMiB;
  };
in
{
  imports = [
    ./options.nix
    ./state.nix
    ./targets.nix
    ./slices.nix
    ./services.nix
    ./controller.nix
    ./guards.nix
    ./idle.nix
    ../workloads/hyprland.nix
    ../workloads/audio.nix
    ../workloads/nvidia.nix
    ../workloads/vllm.nix
    ../workloads/k3s.nix
  ];

  config = mkIf cfg.enable {
    dubnium.internal.unitParams = {
      baseTarget = "multi-user.target";
      graphicalTarget = "graphical.target";
      defaultMode = cfg.boot.defaultMode;
      inherit (cfg.paths) stateDir;
      exec = {
        mode = lib.concatStringsSep " " [
          (lib.getExe' cfg.package "mode")
          "--backend host"
          "--state-dir ${cfg.paths.stateDir}"
          "--config /etc/dubnium/config.json"
        ];
        marker = lib.getExe' pkgs.coreutils "true";
      };
      slices = {
        "interactive.slice" = sliceConfig cfg.slices.desktop.interactive;
        "ai.slice" = sliceConfig cfg.slices.desktop.ai;
        "platform.slice" = sliceConfig cfg.slices.desktop.platform;
      };
      vllm = {
        inherit (cfg.vllm) enable;
        modelStore = cfg.paths.modelStore;
      };
      k3s.enable = cfg.k3s.enable;
    };

    dubnium.internal.units = import ../../units/dubnium.nix
      (pure.recursiveUpdate (import ../../units/params.nix) cfg.internal.unitParams);
  };
}
