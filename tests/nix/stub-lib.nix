# Stub pieces shared by the module evaluations (eval-module.nix, eval-exo-module.nix): a fake
# derivation, and NixOS's systemd unit option names with their merge rules, so a misspelt
# unit attribute or two conflicting definitions fail as they would on NixOS.
lib:
let
  inherit (lib) mkOption types;
in
rec {
  fakeDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
    meta = { };
  };
  # NixOS's merge of a unit setting: lists concatenate, anything else must agree.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge = loc: defs:
      let defs' = lib.filterOverrides defs;
      in if lib.any (d: builtins.isList d.value) defs'
        then lib.concatMap (d: lib.toList d.value) defs'
        else lib.mergeEqualOption loc defs';
  };
  names = mkOption { type = types.listOf types.str; default = [ ]; };
  settings = mkOption { type = types.attrsOf unitOption; default = { }; };
  flag = default: mkOption { type = types.bool; inherit default; };
  common = {
    enable = flag true;
    description = mkOption { type = types.str; default = ""; };
    documentation = names;
    requires = names; requisite = names; wants = names; upholds = names; bindsTo = names;
    partOf = names; conflicts = names; before = names; after = names; onFailure = names;
    onSuccess = names; wantedBy = names; requiredBy = names; upheldBy = names; aliases = names;
    unitConfig = settings;
    restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; };
  };
  unitsOf = extra: mkOption {
    type = types.attrsOf (types.submodule { options = common // extra; });
    default = { };
  };
  free = mkOption { type = types.lazyAttrsOf types.anything; default = { }; };
}
