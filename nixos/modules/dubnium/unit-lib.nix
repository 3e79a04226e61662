# `pick names`: the named units of this host's pure unit graph as NixOS `systemd.*`
# definitions (absent names are skipped). Shared by targets.nix, slices.nix, services.nix,
# controller.nix and the workloads, so each file states which units it owns.
cfg: names:
import ../../lib/to-nixos.nix
  (builtins.removeAttrs cfg.internal.units
    (builtins.filter (n: !(builtins.elem n names)) (builtins.attrNames cfg.internal.units)))
