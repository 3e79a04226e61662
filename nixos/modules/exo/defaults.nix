# The default of every plain-valued services.exo option (and dubnium.exo.computeOnly), as one
# pure attribute set. Read by ./options.nix (each option's `default`) and by tests/nix/, which
# merge a host's settings over it and feed the result to ./lib.nix without nixpkgs.
# docs/exo.md lists each with what it maps to.
{
  mode = "auto";
  apiPort = 52415;
  serveApi = true;
  runWorker = true;
  downloads = true;
  offline = false;
  namespace = null;
  openFirewall = false;
  modelStore = null;
  extraArgs = [ ];
  environment = { };

  networking = {
    discoveryPort = 52413;
    dataPort = 52414;
    # null: from the package's version (lib.nix packageHasPortFlags)
    portFlags = null;
    bondInterface = null;
    bondMembers = [ ];
    bondMode = "802.3ad";
    rdmaEnabled = false;
  };

  hardware = {
    autoDetect = true;
    preferredAccelerator = null;
    allowCpuFallback = true;
    memoryLimit = null;
    minFreeDiskMiB = 10240;
    preflight = true;
  };

  k3s = {
    integration = false;
    serviceDiscovery = true;
    namespace = "exo-system";
    serviceName = "exo";
    nodeAddress = null;
  };

  security = {
    user = "exo";
    group = "exo";
    dataDir = "/var/lib/exo";
    configDir = "/etc/exo";
    hardening = true;
  };

  # dubnium.exo.computeOnly
  computeOnly = false;
}
