# Free-form stubs for the NixOS options the project sets that ../shared/nixpkgs/
# eval-nixos-subset.nix does not declare (`nix.settings` of the example host,
# `virtualisation.*` of the checks.vm node): their values are kept, not checked. Passed to
# the harness with `--arg extra` by tests/nix/test_nixos_subset.py, beside the module under test.
{ lib, ... }:
let
  free = lib.mkOption { type = lib.types.lazyAttrsOf lib.types.anything; default = { }; };
in
{
  options = {
    nix = free;
    virtualisation = free;
  };
}
