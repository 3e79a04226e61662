# The example workstation of seed 001 ("Current V1 Assumptions"): one GPU present of two
# planned, GPU 0 drives the display and computes, vLLM compute-only with the seed's model
# and guardrail arguments, studio local, k3s off, desktop at boot, systemd-boot.
# Replace hardware-configuration.nix with `nixos-generate-config` output before the first
# build (docs/runbooks/first-switch.md, phase 1).
{ ... }:
{
  imports = [ ./hardware-configuration.nix ];

  networking.hostName = "dubnium-workstation";

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;

  services.openssh.enable = true;
  users.users.owner = {
    isNormalUser = true;
    extraGroups = [ "wheel" "audio" "video" ];
  };

  # NVIDIA's driver and vLLM are unfree.
  nixpkgs.config.allowUnfree = true;

  dubnium = {
    enable = true;
    boot.defaultMode = "desktop";
    capabilityPlacement.studio = "local";
    desktop.autologinUser = "owner";

    hardware = {
      presentGpus = [ 0 ];
      displayGpu = 0;
      computeGpus = [ 0 ];
      plannedGpuCount = 2;
    };

    vllm = {
      enable = true;
      model = "Qwen/Qwen2.5-Coder-14B-Instruct";
      extraArgs = [
        "--max-model-len" "8192"
        "--gpu-memory-utilization" "0.70"
        "--enforce-eager"
      ];
      enableDesktopProfile = false;
    };

    k3s.enable = false;
  };

  system.stateVersion = "25.05";
}
