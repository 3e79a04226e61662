# The NVIDIA driver for the workstation's GPUs: kernel modesetting (Wayland), the graphics
# stack, and no persistence daemon by default (it keeps the GPU initialised, which the
# display-GPU release check must not mistake for a leftover allocation).
{ config, lib, ... }:
let
  inherit (lib) mkIf mkDefault mkOption mkEnableOption types;
  cfg = config.dubnium;
in
{
  options.dubnium.nvidia = {
    enable = mkEnableOption "the NVIDIA driver (disable for VM tests and non-NVIDIA hosts)" // {
      default = true;
    };
    open = mkOption {
      type = types.bool;
      default = true;
      description = "Use NVIDIA's open kernel modules (Turing and newer).";
    };
  };

  config = mkIf (cfg.enable && cfg.nvidia.enable) {
    hardware.graphics.enable = true;
    services.xserver.videoDrivers = [ "nvidia" ];
    hardware.nvidia = {
      modesetting.enable = true;
      inherit (cfg.nvidia) open;
      nvidiaPersistenced = mkDefault false;
      powerManagement.enable = mkDefault false;
    };
  };
}
