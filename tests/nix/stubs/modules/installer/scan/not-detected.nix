# Stand-in for nixpkgs' installer/scan/not-detected.nix, so the example host's placeholder
# hardware-configuration.nix can be imported by tests/nix/eval-module.nix without nixpkgs.
{ }
