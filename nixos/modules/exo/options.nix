# services.exo.* (seed 004's option set, mapped to the real program) and
# dubnium.exo.computeOnly. Defaults come from ./defaults.nix (shared with tests/nix/); what
# each option becomes in the running program is in ./lib.nix and the table in docs/exo.md.
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkPackageOption types literalExpression;
  d = import ./defaults.nix;
  absolutePath = types.strMatching "/.+";
in
{
  options.services.exo = {
    enable = mkEnableOption "EXO, the distributed AI inference node (exo-explore/exo)";

    package = mkPackageOption pkgs "exo" {
      extraDescription = ''
        To run upstream's newer build instead, use its flake output, e.g.
        `inputs.exo.packages.''${pkgs.system}.exo`. Releases up to 1.0.71 lack the port
        flags: see `networking.portFlags`.
      '';
    };

    mode = mkOption {
      type = types.enum [ "master" "worker" "auto" ];
      default = d.mode;
      description = ''
        Role in the master election. "master": `--force-master` (this node wins the
        election). "auto": no flag (the nodes elect one). "worker": EXO has no worker-only
        role, so this is the same as "auto" and gives a warning; combine
        `runWorker = false` with "master" for a coordinator-only node.
      '';
    };

    apiPort = mkOption {
      type = types.port;
      default = d.apiPort;
      description = "Port of the API and dashboard (`--api-port`).";
    };

    serveApi = mkOption {
      type = types.bool;
      default = d.serveApi;
      description = "Serve the API and dashboard on this node; false passes `--no-api` (seed 004's exo-api.service).";
    };

    runWorker = mkOption {
      type = types.bool;
      default = d.runWorker;
      description = "Run inference on this node; false passes `--no-worker` (a coordinator-only node).";
    };

    downloads = mkOption {
      type = types.bool;
      default = d.downloads;
      description = "Let this node download models; false passes `--no-downloads`.";
    };

    offline = mkOption {
      type = types.bool;
      default = d.offline;
      description = "Air-gapped mode, local models only (`--offline`).";
    };

    namespace = mkOption {
      type = types.nullOr (types.strMatching "[^[:space:]]+");
      default = d.namespace;
      example = "workstation-cluster";
      description = ''
        Discovery namespace (`--namespace`): nodes in different namespaces do not connect.
        null: exo's default (its version string).
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = d.openFirewall;
      description = ''
        Open TCP `apiPort` (when serveApi) and `networking.dataPort`, and UDP
        `networking.discoveryPort` (IPv6 multicast ff12::e0a1:de89 lands there; the NixOS
        firewall already admits the ICMPv6 multicast listener messages). Only on
        `networking.bondInterface` when that is set.
      '';
    };

    modelStore = mkOption {
      type = types.nullOr absolutePath;
      default = d.modelStore;
      example = "/srv/models/exo";
      description = ''
        Where models are downloaded (`EXO_DEFAULT_MODELS_DIR`). null: inside the state
        directory, `<security.dataDir>/data/exo/models`. Another path must be writable by
        `security.user`; it is added to the unit's ReadWritePaths.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = d.extraArgs;
      example = [ "--no-batch" "-v" ];
      description = "More flags for `exo`, appended after the mapped ones.";
    };

    environment = mkOption {
      type = types.attrsOf types.str;
      default = d.environment;
      example = { EXO_ENABLE_IMAGE_MODELS = "true"; HF_HUB_ENABLE_HF_TRANSFER = "1"; };
      description = ''
        Environment of the exo process (`EXO_*` variables of upstream's README, `HF_*`).
        Secrets belong in `<security.configDir>/environment`, which is read when present.
      '';
    };

    networking = {
      discoveryPort = mkOption {
        type = types.port;
        default = d.networking.discoveryPort;
        description = "UDP port of the peer discovery (`--discovery-port`). Seed 004 said 52416; upstream uses 52413.";
      };
      dataPort = mkOption {
        type = types.port;
        default = d.networking.dataPort;
        description = "TCP port peers connect to (`--zenoh-port`).";
      };
      portFlags = mkOption {
        type = types.nullOr types.bool;
        default = d.networking.portFlags;
        description = ''
          Pass `--zenoh-port`, `--discovery-port` and `--namespace`. They exist in exo after
          release 1.0.71 (upstream main); older packages (nixpkgs' exo 1.0.67) pick a random
          peer port and use mDNS (the firewall ports then do not apply). null (default): from
          the package's version (a package without a version is taken to have them); true
          with an older package fails an assertion.
        '';
      };
      bondInterface = mkOption {
        type = types.nullOr types.str;
        default = d.networking.bondInterface;
        example = "bond0";
        description = ''
          The bonded interface EXO traffic should use. exo itself has no interface option (it
          listens on all addresses and discovers on every interface), so this scopes
          `openFirewall` to the bond, orders exo.service after the bond's device, and, with
          `bondMembers`, creates the bond with systemd-networkd.
        '';
      };
      bondMembers = mkOption {
        type = types.listOf types.str;
        default = d.networking.bondMembers;
        example = [ "enp1s0f0" "enp1s0f1" ];
        description = "Interfaces to enslave to `bondInterface` with systemd-networkd (empty: the bond is configured elsewhere).";
      };
      bondMode = mkOption {
        type = types.enum [ "balance-rr" "active-backup" "balance-xor" "broadcast" "802.3ad" "balance-tlb" "balance-alb" ];
        default = d.networking.bondMode;
        description = "Bonding mode of the created bond (systemd.netdev Mode=).";
      };
      rdmaEnabled = mkOption {
        type = types.bool;
        default = d.networking.rdmaEnabled;
        description = ''
          RDMA over Thunderbolt. Exists only in EXO on macOS 26.2+; on NixOS it is ignored
          with a warning. Seed 004 defaulted it to true; here false.
        '';
      };
    };

    hardware = {
      autoDetect = mkOption {
        type = types.bool;
        default = d.hardware.autoDetect;
        description = ''
          With no `preferredAccelerator`: choose CUDA when the NVIDIA driver is configured
          (services.xserver.videoDrivers), else the CPU, and let the preflight detect the
          hardware at start (`--accelerator auto`).
        '';
      };
      preferredAccelerator = mkOption {
        type = types.nullOr (types.enum [ "cuda" "rocm" "mlx" "cpu" ]);
        default = d.hardware.preferredAccelerator;
        description = ''
          The accelerator to use. "rocm" (upstream EXO has no ROCm backend) and "mlx"
          (Metal, macOS only) are refused on Linux by an assertion.
        '';
      };
      cudaPackage = mkOption {
        type = types.nullOr types.package;
        default = null;
        example = literalExpression "inputs.exo.packages.x86_64-linux.exo-cuda-13";
        description = "The EXO build used when the accelerator is CUDA (upstream's flake has `exo-cuda-13`). null: `package`.";
      };
      allowCpuFallback = mkOption {
        type = types.bool;
        default = d.hardware.allowCpuFallback;
        description = "Let the preflight accept the CPU when the accelerator is missing (`--allow-cpu-fallback`), instead of failing the start.";
      };
      memoryLimit = mkOption {
        type = types.nullOr (types.strMatching "[0-9]+(%|[KMGT]?)");
        default = d.hardware.memoryLimit;
        example = "80%";
        description = "Hard memory limit of exo.service (systemd MemoryMax=). null: none.";
      };
      minFreeDiskMiB = mkOption {
        type = types.ints.unsigned;
        default = d.hardware.minFreeDiskMiB;
        description = "Free space the model store needs for exo.service to start (preflight `--min-free-disk-mib`).";
      };
      preflight = mkOption {
        type = types.bool;
        default = d.hardware.preflight;
        description = "Run `dubnium-preflight` as exo.service's ExecStartPre.";
      };
      preflightPackage = mkOption {
        type = types.package;
        defaultText = literalExpression "config.dubnium.package, or nixos/pkgs/mode-tools.nix";
        description = "The package providing `bin/dubnium-preflight` (Dubnium's mode-tools).";
      };
    };

    k3s = {
      integration = mkOption {
        type = types.bool;
        default = d.k3s.integration;
        description = "Publish EXO to the local k3s cluster through services.k3s.manifests (needs services.k3s.enable).";
      };
      serviceDiscovery = mkOption {
        type = types.bool;
        default = d.k3s.serviceDiscovery;
        description = "Create the Service and Endpoints objects for the EXO API (else only the namespace).";
      };
      namespace = mkOption {
        type = types.strMatching "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
        default = d.k3s.namespace;
        description = "Kubernetes namespace of the objects.";
      };
      serviceName = mkOption {
        type = types.strMatching "[a-z]([-a-z0-9]*[a-z0-9])?";
        default = d.k3s.serviceName;
        description = "Name of the Service and Endpoints (pods reach http://<name>.<namespace>.svc:<apiPort>).";
      };
      nodeAddress = mkOption {
        type = types.nullOr types.str;
        default = d.k3s.nodeAddress;
        example = "192.168.1.20";
        description = "This node's IP address that pods use to reach the EXO API (the Endpoints address).";
      };
    };

    security = {
      user = mkOption {
        type = types.str;
        default = d.security.user;
        description = "User exo runs as (created when left at \"exo\").";
      };
      group = mkOption {
        type = types.str;
        default = d.security.group;
        description = "Group exo runs as (created when left at \"exo\").";
      };
      dataDir = mkOption {
        type = absolutePath;
        default = d.security.dataDir;
        description = ''
          HOME of the service. XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_CACHE_HOME are
          `config`, `data` and `cache` inside it, so exo's config.toml, node identity,
          pid-file lock, logs and (by default) models stay there. Under /var/lib it is the
          unit's StateDirectory; elsewhere tmpfiles creates it.
        '';
      };
      configDir = mkOption {
        type = absolutePath;
        default = d.security.configDir;
        description = ''
          Read-only configuration: `<configDir>/environment`, when present, is the unit's
          EnvironmentFile (e.g. HF_TOKEN=...). exo itself reads no file here.
        '';
      };
      hardening = mkOption {
        type = types.bool;
        default = d.security.hardening;
        description = "systemd sandboxing of exo.service (as nixpkgs' ollama module; NVIDIA devices allowed for CUDA).";
      };
    };
  };

  options.dubnium.exo.computeOnly = mkOption {
    type = types.bool;
    default = d.computeOnly;
    description = ''
      Run EXO only in Dubnium's compute mode: exo.target and exo.service are wanted by and
      PartOf compute.target (started with it, stopped on the way back to desktop), in
      ai.slice, and dubnium.exo.enable is set so the controller treats EXO as a compute
      workload. Needs the Dubnium module.
    '';
  };
}
