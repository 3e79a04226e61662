# services.exo values -> what the running program gets: exo's flags, the preflight's flags,
# the environment, the unit parameters of nixos/units/exo.nix, the k3s manifest, and the
# build-time assertions and warnings.
#
# Pure (builtins only) so that tests/nix/test_exo_*.py evaluate the very mapping the module
# uses with nix-instantiate, without nixpkgs. Called by nixos/modules/exo/default.nix with
# `facts` = the plain values of services.exo plus a few facts about the rest of the system
# (see `factsDoc`). Upstream flags checked against exo-explore/exo src/exo/main.py (main
# branch, after "libp2p -> zenoh"); docs/exo.md has the table.
let
  concat = builtins.concatStringsSep;
  optional = c: x: if c then [ x ] else [ ];
  optionals = c: xs: if c then xs else [ ];

  # Quote one word for ExecStart= (systemd splits on whitespace, expands %specifiers and
  # $VARIABLES): plain when it is safe, else double-quoted with \ " % $ escaped.
  escapeExecArg = a:
    if builtins.match "[A-Za-z0-9_./:=@+,-]+" a != null then a
    else "\"" + builtins.replaceStrings [ "\\" "\"" "%" "$" ] [ "\\\\" "\\\"" "%%" "$$" ] a + "\"";

  # One Environment= assignment; quoted when the value is not plain.
  escapeEnv = name: value:
    let kv = "${name}=${value}";
    in if builtins.match "[A-Za-z0-9_./:=@+,-]*" kv != null then kv
    else "\"" + builtins.replaceStrings [ "\\" "\"" "%" ] [ "\\\\" "\\\"" "%%" ] kv + "\"";

  validEnvName = n: builtins.match "[A-Za-z_][A-Za-z0-9_]*" n != null;

  # The last upstream release without the port flags (exo-explore/exo v1.0.71, libp2p:
  # random TCP port, mDNS discovery). Newer builds of main have --zenoh-port,
  # --discovery-port and --namespace.
  lastReleaseWithoutPortFlags = "1.0.71";
in
rec {
  inherit escapeExecArg escapeEnv;

  # Every flag of upstream exo's argparse (src/exo/main.py at main): the tests check that
  # `args` only ever produces these.
  upstreamFlags = [
    "-q" "--quiet" "-v" "--verbose" "-m" "--force-master" "--no-api" "--api-port"
    "--no-worker" "--no-downloads" "--offline" "--no-batch" "--legacy-daemon"
    "--bootstrap-peers" "--namespace" "--zenoh-port" "--discovery-port" "--fast-synch"
    "--no-fast-synch"
  ];

  # What `f` (the facts every function below takes) holds: services.exo's values as plain
  # data, `computeOnly` (dubnium.exo.computeOnly), and:
  #   isLinux         pkgs.stdenv.hostPlatform.isLinux
  #   nvidiaDriver    the NVIDIA driver is configured (services.xserver.videoDrivers)
  #   packageVersion  services.exo.package's version, or null when it has none
  #   k3sEnabled      services.k3s.enable
  #   k3sManifests    the k3s module has `manifests` (NixOS >= 24.11)
  #   dubniumPresent  the Dubnium module (compute.target) is imported
  #   dubniumExoEnable  dubnium.exo.enable (null when that option does not exist)
  #   networkdEnabled systemd.network.enable
  #   cudaPackageSet  services.exo.hardware.cudaPackage != null

  # Whether exo gets --zenoh-port/--discovery-port/--namespace: networking.portFlags when set,
  # else whether the package is newer than the last release without them (a package with no
  # version, e.g. upstream's flake build of main, is taken to have them).
  packageHasPortFlags = f: f.packageVersion == null
    || builtins.compareVersions f.packageVersion lastReleaseWithoutPortFlags > 0;
  portFlags = f:
    if f.networking.portFlags == null then packageHasPortFlags f else f.networking.portFlags;

  # The accelerator the build selects (package variant, device allowances). The preflight
  # checks it again at run time, on the real hardware.
  accelerator = f:
    if f.hardware.preferredAccelerator != null then f.hardware.preferredAccelerator
    else if f.hardware.autoDetect && f.nvidiaDriver then "cuda"
    else "cpu";

  # services.exo -> exo's command line (after the program).
  args = f:
    optional (f.mode == "master") "--force-master"
    ++ optional (!f.serveApi) "--no-api"
    ++ optionals f.serveApi [ "--api-port" (toString f.apiPort) ]
    ++ optional (!f.runWorker) "--no-worker"
    ++ optional (!f.downloads) "--no-downloads"
    ++ optional f.offline "--offline"
    ++ optionals (portFlags f) [
      "--zenoh-port" (toString f.networking.dataPort)
      "--discovery-port" (toString f.networking.discoveryPort)
    ]
    ++ optionals (portFlags f && f.namespace != null) [ "--namespace" f.namespace ]
    ++ f.extraArgs;

  modelStore = f:
    if f.modelStore != null then f.modelStore else "${f.security.dataDir}/data/exo/models";

  # services.exo -> dubnium-preflight's command line (after the program).
  preflightArgs = f:
    let
      wanted =
        if f.hardware.preferredAccelerator != null then f.hardware.preferredAccelerator
        else if f.hardware.autoDetect then "auto"
        else "cpu";
    in
    [ "--accelerator" wanted ]
    ++ optional f.hardware.allowCpuFallback "--allow-cpu-fallback"
    ++ [
      "--model-store" (modelStore f)
      "--min-free-disk-mib" (toString f.hardware.minFreeDiskMiB)
    ];

  environment = f:
    [ (escapeEnv "EXO_DEFAULT_MODELS_DIR" (modelStore f)) ]
    ++ map (n: escapeEnv n f.environment.${n}) (builtins.attrNames f.environment);

  # The `p.exo` parameters of nixos/units/exo.nix. `exe`: path of the exo program;
  # `preflightExe`: path of dubnium-preflight (or null: no ExecStartPre).
  unitParams = f: { exe, preflightExe }: {
    enable = true;
    inherit (f) computeOnly;
    exec = {
      exo = concat " " (map escapeExecArg ([ exe ] ++ args f));
      preflight =
        if preflightExe == null || !f.hardware.preflight then null
        else concat " " (map escapeExecArg ([ preflightExe ] ++ preflightArgs f));
    };
    user = f.security.user;
    group = f.security.group;
    dataDir = f.security.dataDir;
    environment = environment f;
    environmentFiles = [ "-${f.security.configDir}/environment" ];
    accelerator = accelerator f;
    hardening = f.security.hardening;
    memoryMax = f.hardware.memoryLimit;
    readWritePaths = optional (f.modelStore != null) "-${f.modelStore}";
    after = optional (f.networking.bondInterface != null)
      "sys-subsystem-net-devices-${f.networking.bondInterface}.device";
  };

  # Kubernetes objects for services.k3s.manifests: a Service without selector and the
  # Endpoints pointing at this node's EXO API, so pods reach EXO as
  # http://<serviceName>.<namespace>.svc:<apiPort>.
  k3sManifest = f:
    let
      k = f.k3s;
      meta = { name = k.serviceName; namespace = k.namespace; labels."app.kubernetes.io/name" = "exo"; };
    in
    [ { apiVersion = "v1"; kind = "Namespace"; metadata.name = k.namespace; } ]
    ++ optionals k.serviceDiscovery [
      {
        apiVersion = "v1";
        kind = "Service";
        metadata = meta;
        spec.ports = [ { name = "http"; protocol = "TCP"; port = f.apiPort; targetPort = f.apiPort; } ];
      }
      {
        apiVersion = "v1";
        kind = "Endpoints";
        metadata = meta;
        subsets = [
          {
            addresses = [ { ip = k.nodeAddress; } ];
            ports = [ { name = "http"; protocol = "TCP"; port = f.apiPort; } ];
          }
        ];
      }
    ];

  firewall = f: {
    tcp = optional f.serveApi f.apiPort ++ [ f.networking.dataPort ];
    udp = [ f.networking.discoveryPort ];
  };

  checks = f:
    let
      acc = accelerator f;
      badEnv = builtins.filter (n: !validEnvName n) (builtins.attrNames f.environment);
      flags = portFlags f;
    in
    {
      assertions = [
        {
          assertion = !(f.isLinux && acc == "rocm");
          message =
            "services.exo.hardware.preferredAccelerator = \"rocm\": upstream EXO has no ROCm "
            + "backend (on Linux it runs MLX on CUDA or on the CPU). Use \"cuda\" or \"cpu\", "
            + "or null to detect.";
        }
        {
          assertion = !(f.isLinux && acc == "mlx");
          message =
            "services.exo.hardware.preferredAccelerator = \"mlx\": MLX on Apple Silicon (Metal) "
            + "exists only on macOS; on NixOS EXO runs MLX on CUDA or on the CPU. Use \"cuda\" "
            + "or \"cpu\", or null to detect.";
        }
        {
          assertion = !f.k3s.integration || f.k3sEnabled;
          message = "services.exo.k3s.integration = true needs services.k3s.enable = true (the manifests are applied by k3s).";
        }
        {
          assertion = !f.k3s.integration || f.k3sManifests;
          message = "services.exo.k3s.integration needs the services.k3s.manifests option (NixOS 24.11 or later).";
        }
        {
          assertion = !(f.k3s.integration && f.k3s.serviceDiscovery) || f.k3s.nodeAddress != null;
          message = "services.exo.k3s.serviceDiscovery needs services.exo.k3s.nodeAddress: the IP address of this node that pods use to reach the EXO API (the Endpoints object points there).";
        }
        {
          assertion = !(f.k3s.integration && f.k3s.serviceDiscovery) || f.serveApi;
          message = "services.exo.k3s.serviceDiscovery publishes the EXO API, but services.exo.serveApi = false (exo runs with --no-api).";
        }
        {
          assertion = !f.computeOnly || f.dubniumPresent;
          message = "dubnium.exo.computeOnly = true needs the Dubnium module (nixosModules.default): it defines compute.target, which starts and stops EXO.";
        }
        {
          assertion = !f.computeOnly || f.dubniumExoEnable != false;
          message = "dubnium.exo.computeOnly = true but dubnium.exo.enable = false: the mode controller must know EXO is a compute workload. Remove the dubnium.exo.enable = false setting.";
        }
        {
          assertion = f.networking.bondMembers == [ ] || f.networking.bondInterface != null;
          message = "services.exo.networking.bondMembers is set but bondInterface is null: name the bond to create (e.g. \"bond0\").";
        }
        {
          assertion = f.networking.bondMembers == [ ] || f.networkdEnabled;
          message = "services.exo.networking.bondMembers creates the bond with systemd-networkd: set systemd.network.enable = true (or networking.useNetworkd = true), or leave bondMembers empty and configure the bond yourself.";
        }
        {
          assertion = !flags || packageHasPortFlags f;
          message =
            "services.exo.networking.portFlags = true, but services.exo.package is exo "
            + "${toString f.packageVersion}; releases up to ${lastReleaseWithoutPortFlags} have no "
            + "--zenoh-port/--discovery-port/--namespace and exit with \"unrecognized arguments\". "
            + "Use a newer exo (upstream flake), or leave portFlags unset (null: from the version).";
        }
        {
          assertion = badEnv == [ ];
          message = "services.exo.environment: invalid variable name(s) ${concat ", " badEnv}.";
        }
        {
          assertion = f.security.dataDir != "/" && builtins.substring 0 1 f.security.dataDir == "/";
          message = "services.exo.security.dataDir must be an absolute directory other than /.";
        }
      ];

      warnings =
        optional f.networking.rdmaEnabled
          ("services.exo.networking.rdmaEnabled: RDMA over Thunderbolt exists only in EXO on "
            + "macOS 26.2+ (rdma_ctl); EXO on Linux has no RDMA transport. Ignored; set it to false.")
        ++ optional (f.mode == "worker")
          ("services.exo.mode = \"worker\": EXO has no worker-only role; every node takes part "
            + "in the master election and is elected when no node forces mastership. This node "
            + "runs without --force-master (the same as \"auto\"); set mode = \"master\" on the "
            + "node that should coordinate.")
        ++ optional (acc == "cuda" && !f.cudaPackageSet)
          ("services.exo: accelerator cuda, but services.exo.hardware.cudaPackage is null, so "
            + "services.exo.package is used as is; nixpkgs' exo and upstream's packages.exo run "
            + "MLX on the CPU on Linux. Set hardware.cudaPackage (upstream flake: "
            + "packages.x86_64-linux.exo-cuda-13).")
        ++ optional (!flags && f.openFirewall)
          ("services.exo.networking.portFlags = false: exo picks its own peer port and discovery "
            + "(libp2p: random TCP port, mDNS), so openFirewall's ports "
            + "${toString f.networking.dataPort}/tcp and ${toString f.networking.discoveryPort}/udp "
            + "may not be the ones it uses.")
        ++ optional (f.namespace != null && !flags)
          "services.exo.namespace is ignored when networking.portFlags = false (no --namespace flag).";
    };
}
