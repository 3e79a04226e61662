# k3s, stable across modes (seed 002, v1): services.k3s runs it; the unit graph places
# k3s.service in platform.slice and under multi-user.target, which both mode targets
# require, so an isolate never stops it. Mode pressure is platform.slice's weights only.
{ config, lib, ... }:
let
  cfg = config.dubnium;
  pick = import ../dubnium/unit-lib.nix cfg;
in
{
  config = lib.mkIf (cfg.enable && cfg.k3s.enable) {
    services.k3s.enable = true;
    systemd = pick [ "k3s.service" ];
  };
}
