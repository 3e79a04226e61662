# Dubnium's systemd unit graph as pure data: the mode targets, the slices, the overlay
# markers, the controller and observer units, vLLM, and k3s's placement.
#
# Shape (shared with every unit file in this directory, e.g. exo.nix): a function from the
# parameters (params.nix merged with the caller's) to an attribute set keyed by full unit
# name, each value shaped like a NixOS `systemd.<kind>.<name>` definition: description,
# the dependency lists (wants requires requisite after before conflicts partOf bindsTo
# wantedBy requiredBy), unitConfig, and serviceConfig / sliceConfig / timerConfig.
# nixos/lib/to-nixos.nix turns it into NixOS options (nixos/modules/dubnium/*.nix);
# scripts/render-units turns it into unit files (tests/nix, the test host of tests/host).
# Seed 002 "systemd Targets and Dependencies"; DESIGN.md "Resolutions of the seeds".
p:
let
  hardening = {
    # As nixpkgs' ollama module, with the NVIDIA character devices allowed.
    CapabilityBoundingSet = [ "" ];
    DeviceAllow = [ "char-nvidiactl" "char-nvidia-caps" "char-nvidia-frontend" "char-nvidia-uvm" ];
    DevicePolicy = "closed";
    LockPersonality = true;
    # CUDA, Triton and torch.compile generate code at run time.
    MemoryDenyWriteExecute = false;
    NoNewPrivileges = true;
    PrivateDevices = false; # would hide the GPUs
    PrivateTmp = true;
    ProcSubset = "all"; # /proc/meminfo
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHome = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    ProtectSystem = "strict";
    # Writable: only StateDirectory= and CacheDirectory= (ProtectSystem=strict); the model
    # store is read-only to vLLM (the owner seeds it).
    RemoveIPC = true;
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" "AF_NETLINK" ];
    SystemCallArchitectures = "native";
    SystemCallFilter = [ "@system-service @resources" "~@privileged" ];
    UMask = "0077";
  };
  modeTarget = mode: if mode == "compute" then "compute.target" else "desktop.target";
  marker = description: {
    inherit description;
    partOf = [ "desktop.target" ];
    # An overlay on desktop only: starting it outside desktop fails instead of pulling
    # desktop in.
    requisite = [ "desktop.target" ];
    after = [ "desktop.target" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = p.exec.marker;
      Slice = "interactive.slice";
    };
  };
  slice = name: description: {
    inherit description;
    sliceConfig = p.slices.${name};
  };
in
{
  "desktop.target" = {
    description = "Dubnium desktop mode (Hyprland GUI, ordinary audio)";
    requires = [ p.baseTarget ];
    wants = [ p.graphicalTarget ];
    after = [ p.baseTarget p.graphicalTarget ];
    unitConfig.AllowIsolate = true;
  };

  "compute.target" = {
    description = "Dubnium compute mode (headless, vLLM on the compute GPUs)";
    requires = [ p.baseTarget ];
    conflicts = [ p.graphicalTarget "desktop.target" ];
    # Not after network-online.target: vLLM listens on an address and needs no route, and
    # an After= without Wants= orders nothing (NixOS warns). EXO, which does need the
    # network, wants and orders itself after network-online.target (units/exo.nix).
    after = [ p.baseTarget ];
    unitConfig.AllowIsolate = true;
  };

  "interactive.slice" = slice "interactive.slice" "Dubnium: session-adjacent and audio-priority work";
  "ai.slice" = slice "ai.slice" "Dubnium: vLLM and other AI workloads";
  "platform.slice" = slice "platform.slice" "Dubnium: k3s and platform/background services";

  # studio-local is an overlay on desktop, not a target (seed 002). The controller sets the
  # slice weights itself over D-Bus and restores the exact values it saved; these two
  # units are the markers the observer reads, so they run nothing.
  "studio-local-policy.service" = marker "Dubnium studio-local overlay (marker)";
  "audio-priority.service" = marker "Dubnium audio priority raised (marker)";

  "mode-controller@.service" = {
    description = "Dubnium transition to %i";
    after = [ p.baseTarget ];
    # Isolating a mode target must not stop the transition that isolates it.
    unitConfig.IgnoreOnIsolate = true;
    serviceConfig = {
      Type = "oneshot";
      ExecStart = "${p.exec.mode} request %i";
      # Every step inside is bounded; this only stops a wedged process.
      TimeoutStartSec = "20min";
    };
  };

  "mode-boot.service" = {
    description = "Dubnium boot normalisation to ${p.defaultMode}";
    # Ordered after the target that wants it (so that target gets no implicit After= on it,
    # which would be a cycle), and active until shutdown, so a later isolate never re-runs it.
    wantedBy = [ (modeTarget p.defaultMode) ];
    after = [ (modeTarget p.defaultMode) ];
    unitConfig.IgnoreOnIsolate = true;
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      # `mode boot`: desired becomes boot.default_mode of the config, then reconciled.
      ExecStart = "${p.exec.mode} boot";
      TimeoutStartSec = "20min";
    };
  };

  "mode-observe.service" = {
    description = "Dubnium observer: refresh ${p.stateDir}/current";
    unitConfig.IgnoreOnIsolate = true;
    serviceConfig = {
      Type = "oneshot";
      ExecStart = "${p.exec.mode} current --refresh";
      # 23: degraded-compute, 24: not converged, 25: evidence unavailable; all are honest
      # observations (dubnium/codes.py CURRENT_OBSERVATION_EXITS), not a failed observer.
      SuccessExitStatus = [ 23 24 25 ];
      TimeoutStartSec = "1min";
    };
  };

  # The resident observer (issue 16): a live `mode current` asks it over this socket
  # instead of loading the policy, D-Bus and NVML itself. Socket-activated, open to every
  # user (observing needs no root; it records nothing); it exits when idle. Nothing depends on
  # it: a `mode current` that finds no answer here observes in its own process.
  "mode-current.socket" = {
    description = "Dubnium resident observer socket (live mode current)";
    wantedBy = [ p.baseTarget ];
    unitConfig.IgnoreOnIsolate = true;
    socketConfig = {
      ListenStream = "${p.stateDir}/current.sock";
      SocketMode = "0666";
      DirectoryMode = "0755";
    };
  };

  "mode-current.service" = {
    description = "Dubnium resident observer (answers live mode current)";
    requires = [ "mode-current.socket" ];
    after = [ "mode-current.socket" ];
    unitConfig.IgnoreOnIsolate = true;
    serviceConfig = {
      Type = "exec";
      ExecStart = "${p.exec.mode} current-server";
      # It reads (D-Bus, /proc, pw-dump, NVML) and answers; it records nothing.
      NoNewPrivileges = true;
    };
  };

  "mode-observe.timer" = {
    description = "Dubnium observer, every ${p.observe.interval}";
    wantedBy = [ p.baseTarget ];
    unitConfig.IgnoreOnIsolate = true;
    timerConfig = {
      OnActiveSec = p.observe.interval;
      OnUnitActiveSec = p.observe.interval;
    };
  };
}
// (if p.vllm.enable then {
  "vllm.service" = {
    description = "vLLM OpenAI-compatible server (Dubnium compute mode only)";
    wantedBy = [ "compute.target" ];
    partOf = [ "compute.target" ];
    unitConfig = {
      StartLimitIntervalSec = 600;
      StartLimitBurst = 3;
    };
    serviceConfig = {
      Type = "exec";
      ExecStart = p.exec.vllm;
      # Written by the controller before it starts this unit: CUDA_VISIBLE_DEVICES (GPU
      # UUIDs), DUBNIUM_TENSOR_PARALLEL_SIZE and DUBNIUM_VLLM_PROFILE.
      EnvironmentFile = "-${p.stateDir}/vllm-profile.env";
      # The model is a local path in the model store (seeded, docs/runbooks/model-seeding.md)
      # and the hub is offline, so a compute switch never downloads; vllmReadySec bounds
      # loading only. Every cache lives under CacheDirectory, HOME under StateDirectory.
      Environment = [
        "HOME=${p.vllm.stateDir}"
        "HF_HOME=${p.vllm.stateDir}/huggingface"
        "HF_HUB_OFFLINE=1"
        "TRANSFORMERS_OFFLINE=1"
        "XDG_CACHE_HOME=${p.vllm.cacheDir}"
        "VLLM_CACHE_ROOT=${p.vllm.cacheDir}/vllm"
        "TRITON_CACHE_DIR=${p.vllm.cacheDir}/triton"
        "TORCHINDUCTOR_CACHE_DIR=${p.vllm.cacheDir}/torchinductor"
        "VLLM_NO_USAGE_STATS=1"
        "DO_NOT_TRACK=1"
      ];
      WorkingDirectory = "/";
      Slice = "ai.slice";
      Restart = "on-failure";
      RestartSec = "10s";
      TimeoutStopSec = "90s";
      StateDirectory = baseNameOf p.vllm.stateDir;
      StateDirectoryMode = "0750";
      CacheDirectory = baseNameOf p.vllm.cacheDir;
      CacheDirectoryMode = "0750";
    }
    // (if p.vllm.user == null then { } else { User = p.vllm.user; Group = p.vllm.user; })
    // (if p.vllm.hardening then hardening else { });
  };
} else { })
// (if p.k3s.enable then {
  # Stable across modes (v1): wanted by the base target both mode targets require, so an
  # isolate keeps it; mode pressure only through platform.slice weights.
  "k3s.service" = {
    wantedBy = [ p.baseTarget ];
    serviceConfig.Slice = "platform.slice";
  }
  // (if p.k3s.execStart == null then { } else {
    description = "k3s (stand-in)";
    serviceConfig = { Type = "exec"; ExecStart = p.k3s.execStart; Slice = "platform.slice"; };
  });
} else { })
