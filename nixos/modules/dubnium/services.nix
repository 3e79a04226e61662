# The policy/marker services of seed 002: studio-local-policy.service and
# audio-priority.service (the studio-local overlay on desktop: oneshot, RemainAfterExit,
# PartOf and Requisite desktop.target; the controller sets and restores slice weights over
# D-Bus, the units mark the overlay for the observer), mode-observe.service with its
# timer (refreshes the recorded current state), and the resident observer
# mode-current.socket/.service (answers a live `mode current`).
{ config, lib, ... }:
let
  cfg = config.dubnium;
  pick = import ./unit-lib.nix cfg;
in
{
  config = lib.mkIf cfg.enable {
    systemd = pick [
      "studio-local-policy.service"
      "audio-priority.service"
      "mode-observe.service"
      "mode-observe.timer"
      "mode-current.socket"
      "mode-current.service"
    ];
  };
}
