# nixosModules.exo: EXO (exo-explore/exo) as a NixOS service, for the real program.
#
# Upstream runs ONE `exo` process per node: the nodes elect a master, every node serves the
# API and dashboard on 52415 unless --no-api, peers talk over TCP 52414 and find each other
# with IPv6 multicast on UDP 52413; state lives under the XDG directories of $HOME. Seed 004
# designed three programs (exo-master/-worker/-api) and options some of which cannot exist;
# this module maps every seed option to the nearest real thing and says why where it cannot
# (assertions, warnings, removed-option messages; docs/exo.md has the whole table).
#
# Imported by flake.nix as `nixosModules.exo`. Files: options.nix (services.exo.*,
# dubnium.exo.computeOnly), service.nix (user, state, exo.target/exo.service from the pure
# data in nixos/units/exo.nix, hardware selection and preflight), networking.nix
# (firewall, systemd-networkd bond), k3s.nix (Service + Endpoints manifest), dubnium.nix
# (compute-mode-only wiring with the Dubnium module). The value mapping itself is pure, in
# lib.nix, so tests/nix/ evaluate it without nixpkgs.
{ lib, ... }:
{
  imports = [
    ./options.nix
    ./service.nix
    ./networking.nix
    ./k3s.nix
    ./dubnium.nix
    (lib.mkRenamedOptionModule
      [ "services" "exo" "networking" "apiPort" ]
      [ "services" "exo" "apiPort" ])
    (lib.mkRemovedOptionModule [ "services" "exo" "k3s" "serviceAccount" ] ''
      EXO runs on the host, not in a pod, so there is nothing to bind a Kubernetes
      ServiceAccount to. services.exo.k3s.integration publishes the EXO API to the cluster
      with a Service and an Endpoints object instead.
    '')
  ];
}
