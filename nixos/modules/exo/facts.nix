# The plain facts ./lib.nix computes from: services.exo's values plus what the rest of the
# system says (platform, NVIDIA driver, k3s, the Dubnium module, networkd). Imported by the
# files of this module with their module arguments; one place, so they all agree.
{ config, options, pkgs }:
let
  cfg = config.services.exo;
  dubniumOptions = options.dubnium or { };
in
cfg // {
  inherit (config.dubnium.exo) computeOnly;
  isLinux = pkgs.stdenv.hostPlatform.isLinux;
  nvidiaDriver = builtins.elem "nvidia" (config.services.xserver.videoDrivers or [ ]);
  packageVersion = cfg.package.version or null;
  k3sEnabled = config.services.k3s.enable or false;
  k3sManifests = (options.services.k3s or { }) ? manifests;
  dubniumPresent = dubniumOptions ? enable && config.dubnium.enable;
  dubniumExoEnable = if (dubniumOptions.exo or { }) ? enable then config.dubnium.exo.enable else null;
  networkdEnabled = config.systemd.network.enable or false;
  cudaPackageSet = cfg.hardware.cudaPackage != null;
}
