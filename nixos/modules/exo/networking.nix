# Firewall for EXO's ports and, where asked, a systemd-networkd bond for EXO's traffic.
# exo has no interface option: it listens on all addresses and discovers peers on every
# interface, so the bond is configured here and only scopes the firewall. Part of
# nixosModules.exo (./default.nix).
{ config, lib, ... }:
let
  cfg = config.services.exo;
  net = cfg.networking;
  ports = (import ./lib.nix).firewall cfg;
  rules = {
    allowedTCPPorts = ports.tcp;
    allowedUDPPorts = ports.udp;
  };
  bond = net.bondInterface;
in
{
  config = lib.mkIf cfg.enable (lib.mkMerge [
    (lib.mkIf (cfg.openFirewall && bond == null) {
      networking.firewall = rules;
    })
    (lib.mkIf (cfg.openFirewall && bond != null) {
      networking.firewall.interfaces.${bond} = rules;
    })
    (lib.mkIf (bond != null && net.bondMembers != [ ]) {
      systemd.network.netdevs."40-${bond}" = {
        netdevConfig = {
          Name = bond;
          Kind = "bond";
        };
        bondConfig = {
          Mode = net.bondMode;
          MIIMonitorSec = "100ms";
        } // lib.optionalAttrs (net.bondMode == "802.3ad") {
          LACPTransmitRate = "fast";
          TransmitHashPolicy = "layer3+4";
        };
      };
      systemd.network.networks = lib.listToAttrs (map
        (member: lib.nameValuePair "40-${member}" {
          matchConfig.Name = member;
          networkConfig.Bond = bond;
        })
        net.bondMembers) // {
        "40-${bond}" = {
          matchConfig.Name = bond;
          # DHCP by default; IPv6 link-local addresses are needed for EXO's multicast discovery.
          networkConfig = {
            DHCP = lib.mkDefault "yes";
            LinkLocalAddressing = lib.mkDefault "yes";
          };
          linkConfig.RequiredForOnline = lib.mkDefault "routable";
        };
      };
    })
  ]);
}
