# The checks.vm node (nixos/tests/vm.nix) without the flake's package: one file, so
# tests/nix/test_nixos_subset.py evaluates exactly this configuration with NixOS's own
# systemd option types. No NVIDIA driver in a VM; vLLM is a stand-in that stays up.
{ pkgs, ... }:
{
  virtualisation.memorySize = 4096;
  users.users.owner = { isNormalUser = true; extraGroups = [ "audio" "video" ]; };

  dubnium = {
    enable = true;
    nvidia.enable = false;
    desktop.autologinUser = "owner";
    hardware = { presentGpus = [ 0 ]; displayGpu = 0; computeGpus = [ 0 ]; };
    vllm = {
      enable = true;
      model = "stand-in";
      # Accepts `serve MODEL --host ... --port ...` and just stays up.
      package = pkgs.writeShellScriptBin "vllm" "exec ${pkgs.coreutils}/bin/sleep infinity";
    };
  };
}
