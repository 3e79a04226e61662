# Build-time guards (seed 001 §1.3): NixOS assertions and warnings computed by
# nixos/lib/checks.nix — display, desktop-AI and compute GPUs present, vLLM package and
# model set when enabled, planned-but-absent GPUs as warnings. The runtime guards live in
# the controller (`mode guards <target>`; exit codes 10-19 per guard, 20 for a check error).
{ config, lib, ... }:
let
  cfg = config.dubnium;
  checks = import ../../lib/checks.nix cfg;
in
{
  config = lib.mkIf cfg.enable {
    inherit (checks) assertions warnings;
  };
}
