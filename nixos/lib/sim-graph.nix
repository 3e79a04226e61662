# The unit graph as the simulator reads it: simulator/unit-graph.json is this, evaluated
# (scripts/render-sim-graph writes it; tests/nix/test_sim_graph.py keeps the checked-in file
# equal to a fresh evaluation). Every optional unit is on (vLLM, k3s, EXO compute-only); the
# simulator drops what a policy disables. Only what its systemd model reads: dependencies,
# slice, oneshot/RemainAfterExit, AllowIsolate/IgnoreOnIsolate. Pure; no nixpkgs.
let
  pure = import ./pure.nix;
  exoLib = import ../modules/exo/lib.nix;
  exoFacts = pure.recursiveUpdate (import ../modules/exo/defaults.nix) {
    enable = true;
    computeOnly = true;
    isLinux = true;
    nvidiaDriver = false;
    packageVersion = null;
    k3sEnabled = false;
    k3sManifests = true;
    dubniumPresent = true;
    dubniumExoEnable = true;
    networkdEnabled = false;
    cudaPackageSet = false;
  };
  params = {
    vllm.enable = true;
    k3s.enable = true;
    exo = exoLib.unitParams exoFacts { exe = "/bin/exo"; preflightExe = null; };
  };
  # The resident observer (mode-current.socket and its service) is not simulated: the
  # simulator's `mode current` observes its world in its own process, and nothing in a
  # switch depends on it (IgnoreOnIsolate, wanted by the base target only).
  notSimulated = [ "mode-current.socket" "mode-current.service" ];
  graph = builtins.removeAttrs (import ../units { inherit params; }) notSimulated;
  deps = [ "wants" "requires" "requisite" "after" "conflicts" "partOf" "wantedBy" ];
  project = _: u:
    let
      service = u.serviceConfig or { };
      unit = u.unitConfig or { };
    in
    builtins.listToAttrs (map (k: { name = k; value = u.${k} or [ ]; }) deps) // {
      slice = service.Slice or "";
      oneshot = (service.Type or "") == "oneshot";
      remainAfterExit = service.RemainAfterExit or false;
      allowIsolate = unit.AllowIsolate or false;
      ignoreOnIsolate = unit.IgnoreOnIsolate or false;
    };
in
{
  schema_version = 1;
  # unit names by the keys of the config file's `units` (dubnium/policy.py UnitNames)
  names = import ../units/names.nix;
  units = builtins.mapAttrs project graph;
}
