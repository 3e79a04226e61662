# A pure unit graph (nixos/units/*.nix) -> NixOS `systemd.*` definitions.
#
# The unit data is already shaped like NixOS unit definitions, so this only sorts units by
# kind and drops the suffix: "vllm.service" -> systemd.services.vllm,
# "mode-controller@.service" -> systemd.services."mode-controller@". Called by the Dubnium
# modules (targets.nix, slices.nix, services.nix, controller.nix, workloads/*.nix) and free
# for the EXO module. Pure; no nixpkgs.
units:
let
  kinds = {
    service = "services";
    target = "targets";
    slice = "slices";
    timer = "timers";
    socket = "sockets";
    path = "paths";
  };
  split = name:
    let m = builtins.match "(.+)\\.([a-z]+)" name;
    in if m == null || !(kinds ? ${builtins.elemAt m 1})
    then throw "unit ${name}: expected a name ending in .${builtins.concatStringsSep ", ." (builtins.attrNames kinds)}"
    else { stem = builtins.elemAt m 0; kind = kinds.${builtins.elemAt m 1}; };
  byKind = kind: builtins.listToAttrs (builtins.concatMap
    (name:
      let s = split name;
      in if s.kind == kind then [{ name = s.stem; value = units.${name}; }] else [ ])
    (builtins.attrNames units));
in
builtins.listToAttrs (builtins.concatMap
  (kind: let set = byKind kind; in if set == { } then [ ] else [{ name = kind; value = set; }])
  (builtins.attrValues kinds))
