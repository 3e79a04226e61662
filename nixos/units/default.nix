# The whole pure unit graph: every unit file in this directory (dubnium.nix, and exo.nix
# when issue 6 adds it) applied to the parameters, merged into one attribute set keyed by
# unit name. Evaluated by scripts/render-units and tests/nix/ with
#   nix-instantiate --eval --strict --json nixos/units --argstr paramsJson '{...}'
# `paramsJson` (a JSON object) is merged over params.nix; `only` limits the files read.
# The NixOS modules import their own file (dubnium.nix / exo.nix) through
# nixos/lib/to-nixos.nix instead. Pure; no nixpkgs.
{ paramsJson ? "{}", params ? builtins.fromJSON paramsJson, only ? null }:
let
  pure = import ../lib/pure.nix;
  p = pure.recursiveUpdate (import ./params.nix) params;
  notUnitFiles = [ "default.nix" "params.nix" "names.nix" ];
  files = builtins.filter
    (n: pure.hasSuffix ".nix" n && !(builtins.elem n notUnitFiles)
      && (only == null || builtins.elem n only))
    (builtins.attrNames (builtins.readDir ./.));
in
pure.mergeDisjoint (map (f: import (./. + "/${f}") p) files)
