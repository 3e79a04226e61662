# The names of the units Dubnium's controller reads and drives: one list for the unit graph
# (nixos/units/dubnium.nix), the config file's `units` section (nixos/lib/config-json.nix)
# and therefore dubnium/policy.py's UnitNames. Pure data; no nixpkgs.
{
  desktop_target = "desktop.target";
  compute_target = "compute.target";
  graphical_target = "graphical.target";
  display_manager = "display-manager.service";
  studio_policy = "studio-local-policy.service";
  audio_priority = "audio-priority.service";
  vllm = "vllm.service";
  k3s = "k3s.service";
  exo = "exo.service";
}
