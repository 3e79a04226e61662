# The example workstation of seed 001 ("Current V1 Assumptions"): one GPU present of two
# planned, GPU 0 drives the display and computes, vLLM compute-only with the seed's model
# and guardrail arguments, studio local, k3s off, desktop at boot, systemd-boot.
# Replace hardware-configuration.nix with `nixos-generate-config` output before the first
# build, write the owner's password hash and add an SSH key (docs/runbooks/first-switch.md,
# phase 1), and seed the model (docs/runbooks/model-seeding.md).
{ ... }:
{
  imports = [ ./hardware-configuration.nix ];

  networking.hostName = "dubnium-workstation";

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;

  # `nixos-rebuild --flake`, `nix flake lock` and `nix flake check` need flakes.
  nix.settings.experimental-features = [ "nix-command" "flakes" ];

  # The recovery path when compute stops the GUI: keys only, no root, only the owner.
  services.openssh = {
    enable = true;
    openFirewall = true;
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "no";
      AllowUsers = [ "owner" ];
    };
  };
  users.users.owner = {
    isNormalUser = true;
    extraGroups = [ "wheel" "audio" "video" ];
    # Autologin never asks for a password, but `sudo mode request` does: a yescrypt hash in
    # a root-only file outside Git, written before the first switch (first-switch.md, 1.3).
    hashedPasswordFile = "/etc/nixos/secrets/owner.hash";
    # Add your public key: SSH accepts nothing else.
    openssh.authorizedKeys.keys = [ ];
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
