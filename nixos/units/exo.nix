# EXO's systemd units as pure data: exo.target and the one exo.service (issue 6, seed 004).
#
# Upstream EXO runs ONE `exo` process per node (a master is elected; `--force-master`,
# `--no-worker`, `--no-api` choose roles), so seed 004's exo-master/exo-worker/exo-api units
# become one service; docs/exo.md says why. Same shape as dubnium.nix (a function from the
# merged parameters to units keyed by name); everything EXO-specific comes from `p.exo`,
# merged over `defaults` below. nixos/modules/exo/ fills `p.exo` from `services.exo.*`
# (store paths, flags already mapped by nixos/modules/exo/lib.nix); scripts/render-units
# and tests/nix/test_exo_units.py render it with stand-in commands. Pure; no nixpkgs.
p:
let
  pure = import ../lib/pure.nix;

  defaults = {
    enable = false;
    # dubnium.exo.computeOnly: EXO joins the cluster only in compute mode (the mode
    # controller starts it with compute.target and stops it on the way back to desktop).
    computeOnly = false;
    # The base target exo.target hangs from when not compute-only.
    wantedBy = p.baseTarget or "multi-user.target";
    exec = {
      exo = "/usr/local/bin/exo";
      # Full ExecStartPre command line (dubnium-preflight ...), or null for none.
      preflight = null;
    };
    # exo's own flags, already mapped from services.exo (nixos/modules/exo/lib.nix).
    args = [ ];
    # null: root (stand-ins on a test host); NixOS sets the dedicated user and group.
    user = null;
    group = null;
    # HOME of the service; XDG_{CONFIG,DATA,CACHE}_HOME live inside it (exo keeps its
    # config.toml, node id, pid-file lock, logs and models there).
    dataDir = "/var/lib/exo";
    # Extra environment ("NAME=value" strings, already escaped for systemd).
    environment = [ ];
    # EnvironmentFile= lines; a leading "-" makes a file optional.
    environmentFiles = [ "-/etc/exo/environment" ];
    # "cuda": the NVIDIA character devices are allowed; anything else: PrivateDevices.
    accelerator = "cpu";
    hardening = true;
    # More writable paths for the sandbox (a model store outside dataDir); "-" prefix allowed.
    readWritePaths = [ ];
    # MemoryMax= (e.g. "80%"), or null.
    memoryMax = null;
    # Extra units to order after (e.g. the bond's device unit); not wanted, only ordered.
    after = [ ];
    # Exponential restart backoff (RestartSteps=, RestartMaxDelaySec=) needs systemd >= 254
    # (NixOS has it). The Debian 12 verifier (systemd 252) does not know the keys; tests
    # render both ways (see tests/nix/test_exo_units.py).
    restartBackoff = true;
    restartSec = "5s";
    restartMaxDelay = "5min";
    restartSteps = 8;
    # After this many failures within the interval, systemd stops retrying (a permanent
    # preflight failure must not loop forever).
    startLimitBurst = 10;
    startLimitInterval = "30min";
    stopTimeout = "45s";
  };

  e = pure.recursiveUpdate defaults (p.exo or { });

  stateDirectory =
    let prefix = "/var/lib/"; n = builtins.stringLength prefix;
    in if builtins.substring 0 n e.dataDir == prefix
    then builtins.substring n (builtins.stringLength e.dataDir - n) e.dataDir
    else null;

  xdg = [
    "HOME=${e.dataDir}"
    "XDG_CONFIG_HOME=${e.dataDir}/config"
    "XDG_DATA_HOME=${e.dataDir}/data"
    "XDG_CACHE_HOME=${e.dataDir}/cache"
  ];

  hardening = {
    CapabilityBoundingSet = [ "" ];
    AmbientCapabilities = [ "" ];
    LockPersonality = true;
    # MLX (CPU and CUDA) and the CUDA driver JIT-compile kernels.
    MemoryDenyWriteExecute = false;
    NoNewPrivileges = true;
    PrivateTmp = true;
    PrivateUsers = false; # would hide the GPU device nodes' owners
    ProcSubset = "all"; # psutil reads /proc/meminfo, /proc/stat
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHome = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    ProtectSystem = "strict";
    ReadWritePaths = [ e.dataDir ] ++ e.readWritePaths;
    RemoveIPC = true;
    # AF_NETLINK: the discovery service enumerates interfaces and follows their changes.
    RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" "AF_NETLINK" ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [ "@system-service @resources" "~@privileged" ];
    UMask = "0077";
  }
  // (if e.accelerator == "cuda" then {
    PrivateDevices = false; # would hide the GPUs
    DevicePolicy = "closed";
    DeviceAllow = [ "char-nvidiactl" "char-nvidia-caps" "char-nvidia-frontend" "char-nvidia-uvm" ];
  } else {
    PrivateDevices = true;
  });

  execStart = builtins.concatStringsSep " " ([ e.exec.exo ] ++ e.args);

  computeTargets = if e.computeOnly then [ "compute.target" ] else [ ];
  # In compute mode the mode controller may place EXO on the compute GPUs the way it places
  # vLLM: CUDA_VISIBLE_DEVICES (GPU UUIDs) in this file, written before compute.target starts.
  profileFile = "-${p.stateDir or "/run/mode-controller"}/exo-profile.env";
in
if !e.enable then { } else {
  "exo.target" = {
    description = "EXO distributed inference node"
      + (if e.computeOnly then " (Dubnium compute mode only)" else "");
    wantedBy = if e.computeOnly then [ "compute.target" ] else [ e.wantedBy ];
    partOf = computeTargets;
    after = computeTargets;
  };

  "exo.service" = {
    description = "EXO node (one exo process: API, worker, master election)";
    wants = [ "network-online.target" ];
    after = [ "network-online.target" ] ++ computeTargets ++ e.after;
    partOf = [ "exo.target" ] ++ computeTargets;
    wantedBy = [ "exo.target" ] ++ computeTargets;
    unitConfig = {
      Documentation = "https://github.com/exo-explore/exo";
      StartLimitIntervalSec = e.startLimitInterval;
      StartLimitBurst = e.startLimitBurst;
    };
    serviceConfig = {
      # Foreground (never --legacy-daemon): systemd supervises the process itself.
      Type = "exec";
      ExecStart = execStart;
      Environment = xdg ++ e.environment;
      EnvironmentFile = e.environmentFiles ++ (if e.computeOnly then [ profileFile ] else [ ]);
      WorkingDirectory = e.dataDir;
      Restart = "on-failure";
      RestartSec = e.restartSec;
      # exo stops on SIGTERM (it cancels its task group; a second signal exits at once).
      KillSignal = "SIGTERM";
      TimeoutStopSec = e.stopTimeout;
    }
    // (if e.exec.preflight == null then { } else { ExecStartPre = e.exec.preflight; })
    // (if stateDirectory == null then { } else {
      StateDirectory = stateDirectory;
      StateDirectoryMode = "0750";
    })
    // (if e.user == null then { } else { User = e.user; Group = e.group; })
    // (if e.computeOnly then { Slice = "ai.slice"; } else { })
    // (if e.memoryMax == null then { } else { MemoryMax = e.memoryMax; })
    // (if e.restartBackoff then {
      RestartSteps = e.restartSteps;
      RestartMaxDelaySec = e.restartMaxDelay;
    } else { })
    // (if e.hardening then hardening else { });
  };
}
