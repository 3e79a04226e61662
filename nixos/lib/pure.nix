# Small helpers over builtins only, for the files that must evaluate without nixpkgs
# (nixos/units/, nixos/lib/, tests/nix/). The modules use nixpkgs' lib instead.
rec {
  # Deep merge: attribute sets merge key by key, anything else on the right wins.
  recursiveUpdate = lhs: rhs:
    lhs // builtins.mapAttrs
      (name: r:
        if builtins.isAttrs r && builtins.isAttrs (lhs.${name} or null)
        then recursiveUpdate lhs.${name} r
        else r)
      rhs;

  # Union of attribute sets that must not share a name (two unit files defining one unit
  # is a mistake, not an override): throws naming the unit.
  mergeDisjoint = sets:
    builtins.foldl'
      (acc: set:
        let clash = builtins.filter (n: acc ? ${n}) (builtins.attrNames set);
        in if clash != [ ] then throw "unit ${builtins.head clash} is defined twice in nixos/units"
        else acc // set)
      { }
      sets;

  hasSuffix = suffix: s:
    let ls = builtins.stringLength s; lx = builtins.stringLength suffix;
    in ls >= lx && builtins.substring (ls - lx) lx s == suffix;
}
