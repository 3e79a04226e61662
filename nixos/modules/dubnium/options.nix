# Every `dubnium.*` knob the seeds name (001 "Current V1 Assumptions" and phase 1.2, 002
# "Module Layout"): boot default mode, GPU topology, capability placement, vLLM, k3s, slice
# weights per mode, guard thresholds, GPU release bounds, timeouts, paths.
#
# Defaults come from nixos/lib/defaults.nix (shared with the tests); the other files of this
# module read `config.dubnium`. Option names are camelCase; nixos/lib/config-json.nix maps
# them to the snake_case keys of /etc/dubnium/config.json (dubnium/policy.py).
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkPackageOption types literalExpression;
  d = import ../../lib/defaults.nix;

  gpuIndex = types.ints.unsigned;
  gpuList = types.listOf gpuIndex;
  mib = types.ints.unsigned;
  absolutePath = types.strMatching "/.+";
  cpuList = types.strMatching "[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*";
  seconds = types.either types.ints.unsigned (types.addCheck types.float (x: x >= 0.0));

  sliceSettings = default: types.submodule {
    options = {
      cpuWeight = mkOption {
        type = types.nullOr (types.ints.between 1 10000);
        default = default.cpuWeight or null;
        description = "CPUWeight= of the slice in this mode (null: leave unset).";
      };
      ioWeight = mkOption {
        type = types.nullOr (types.ints.between 1 10000);
        default = default.ioWeight or null;
        description = "IOWeight= of the slice in this mode (null: leave unset).";
      };
      cpuQuotaPercent = mkOption {
        type = types.nullOr types.ints.positive;
        default = null;
        example = 200;
        description = "CPUQuota= in percent of one CPU (null: no quota).";
      };
      memoryHighMiB = mkOption {
        type = types.nullOr types.ints.positive;
        default = null;
        description = "MemoryHigh= in MiB (null: unset; no effect on cgroup v1).";
      };
      memoryMaxMiB = mkOption {
        type = types.nullOr types.ints.positive;
        default = null;
        description = "MemoryMax= in MiB (null: unset).";
      };
      allowedCpus = mkOption {
        type = types.nullOr cpuList;
        default = null;
        example = "0-1";
        description = "AllowedCPUs= of the slice in this mode, a CPU list (null: every CPU).";
      };
    };
  };
  slicesOf = mode: description: mkOption {
    type = types.submodule {
      options = lib.genAttrs [ "interactive" "ai" "platform" ] (name: mkOption {
        type = sliceSettings d.slices.${mode}.${name};
        default = { };
        description = "Settings of ${name}.slice in ${description}.";
      });
    };
    default = { };
    example = literalExpression "{ ai.cpuWeight = 1000; platform.cpuWeight = 500; }";
    description = ''
      Runtime slice settings the controller applies in ${description} (through D-Bus,
      `--runtime`). ${lib.optionalString (mode == "desktop") "These are also the boot values."}
    '';
  };
  number = default: description: mkOption {
    type = seconds;
    inherit default description;
  };
in
{
  options.dubnium = {
    enable = mkEnableOption "Dubnium, the desktop / studio-local / compute mode controller";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ../../pkgs/mode-tools.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nixos/pkgs/mode-tools.nix { }";
      description = "The mode-tools package (the `mode` CLI and the controller).";
    };

    boot.defaultMode = mkOption {
      type = types.enum [ "desktop" "studio-local" "compute" ];
      default = d.boot.defaultMode;
      description = ''
        The mode the host boots into. Boot normalises to it (mode-boot.service); the last
        desired mode is not replayed across reboot.
      '';
    };

    hardware = {
      presentGpus = mkOption {
        type = gpuList;
        default = d.hardware.presentGpus;
        example = [ 0 1 ];
        description = "Indices of the GPUs installed now (as `nvidia-smi` lists them). Real hardware only; planned GPUs go in plannedGpuCount.";
      };
      displayGpu = mkOption {
        type = gpuIndex;
        default = d.hardware.displayGpu;
        description = "The GPU that drives the display; compute mode must verify it released before using it.";
      };
      computeGpus = mkOption {
        type = gpuList;
        default = d.hardware.computeGpus;
        example = [ 0 1 ];
        description = "GPUs vLLM may use in compute mode. Must be present.";
      };
      plannedGpuCount = mkOption {
        type = types.ints.positive;
        default = d.hardware.plannedGpuCount;
        example = 2;
        description = "How many GPUs the host is planned to have; more than present gives a warning, not an error.";
      };
      cudaCapabilities = mkOption {
        type = types.listOf (types.strMatching "[0-9]+\\.[0-9]+[a-z]?");
        default = d.hardware.cudaCapabilities;
        example = [ "8.9" ];
        description = ''
          CUDA compute capabilities of the GPUs (`nvidia-smi --query-gpu=compute_cap
          --format=csv`). With dubnium.vllm.cudaSupport they become nixpkgs'
          `config.cudaCapabilities`, so torch and vLLM are compiled for these GPUs only; empty
          (default) keeps nixpkgs' default set, which the CUDA binary cache holds.
        '';
      };
      desktopAiGpus = mkOption {
        type = gpuList;
        default = d.hardware.desktopAiGpus;
        description = "GPUs a bounded desktop AI profile may use (deferred in v1; must be present).";
      };
    };

    capabilityPlacement = {
      studio = mkOption {
        type = types.enum [ "local" "remote" ];
        default = d.capabilityPlacement.studio;
        description = "Where studio/audio work lives. \"remote\" (e.g. a Mac mini) makes `mode request studio-local` refuse.";
      };
      compute = mkOption {
        type = types.enum [ "local" "remote" ];
        default = d.capabilityPlacement.compute;
        description = "Where compute lives. \"remote\" makes `mode request compute` refuse.";
      };
    };

    vllm = {
      enable = mkEnableOption "vLLM in compute mode (compute-only in v1; vllm.service is wanted by compute.target)";
      package = mkPackageOption pkgs "vllm" {
        nullable = true;
        extraDescription = "Must provide `bin/vllm`; null is refused by an assertion when vLLM is enabled.";
      };
      model = mkOption {
        type = types.nullOr types.str;
        default = d.vllm.model;
        example = "Qwen/Qwen2.5-Coder-14B-Instruct";
        description = ''
          Model to serve: a Hugging Face id, served from the directory of that name in the
          model store (`<modelStore>/Org/Name`, seeded by docs/runbooks/model-seeding.md), or
          an absolute path. vLLM never downloads it (HF_HUB_OFFLINE); the `model_present`
          guard refuses compute while it is not there.
        '';
      };
      cudaSupport = mkOption {
        type = types.bool;
        default = d.vllm.cudaSupport;
        description = ''
          Configure nixpkgs with `cudaSupport` (and dubnium.hardware.cudaCapabilities) so the
          vLLM package and torch are CUDA builds; without it pkgs.vllm runs on the CPU. See
          docs/nixos.md "CUDA" for the binary cache and the build cost.
        '';
      };
      extraArgs = mkOption {
        type = types.listOf types.str;
        default = d.vllm.extraArgs;
        example = [ "--max-model-len" "8192" "--gpu-memory-utilization" "0.70" "--enforce-eager" ];
        description = "Arguments added to `vllm serve` in every profile (guardrails when VRAM is tight).";
      };
      profiles = mkOption {
        type = types.attrsOf (types.submodule {
          options.extraArgs = mkOption {
            type = types.listOf types.str;
            default = [ ];
            description = "Arguments added to `vllm serve` in this profile.";
          };
        });
        # compute and degraded always exist (workloads/vllm.nix defines them empty), so
        # setting one profile never removes the other.
        default = { };
        example = literalExpression ''{ degraded.extraArgs = [ "--gpu-memory-utilization" "0.60" ]; }'';
        description = ''
          Per-profile arguments. The controller writes the profile name (`compute`: all
          compute GPUs; `degraded`: the non-display GPUs only) with CUDA_VISIBLE_DEVICES and
          the tensor-parallel size to ${d.paths.stateDir}/vllm-profile.env before it starts
          vllm.service; an unknown or missing profile refuses to start.
        '';
      };
      memoryPerGpuMiB = mkOption {
        type = mib;
        default = d.vllm.memoryPerGpuMiB;
        description = "GPU memory one vLLM shard needs; the controller's memory plan uses it.";
      };
      host = mkOption {
        type = types.str;
        default = d.vllm.host;
        description = "Address vLLM listens on.";
      };
      port = mkOption {
        type = types.port;
        default = d.vllm.port;
        description = "Port vLLM listens on.";
      };
      enableDesktopProfile = mkOption {
        type = types.bool;
        default = d.vllm.enableDesktopProfile;
        description = "Bounded desktop AI (seed 001: keep false; deferred in v1, refused by an assertion).";
      };
    };

    exo = {
      enable = mkOption {
        type = types.bool;
        default = d.exo.enable;
        description = "Whether the controller treats EXO (exo.service) as a compute workload; the EXO module (nixosModules.exo) sets it.";
      };
      gpuShare = mkOption {
        type = types.enum [ "shared" "split" ];
        default = d.exo.gpuShare;
        description = "\"shared\": EXO and vLLM use the same compute GPUs; \"split\": separate ones.";
      };
      memoryPerGpuMiB = mkOption {
        type = types.ints.positive;
        default = d.exo.memoryPerGpuMiB;
        example = 8192;
        description = "GPU memory EXO's shard needs on each of its GPUs (the controller's placement check).";
      };
    };

    k3s.enable = mkEnableOption "k3s, stable across modes in platform.slice (seed 001: keep off until mode control is proven)";

    slices = {
      desktop = slicesOf "desktop" "desktop mode";
      studioLocal = slicesOf "studioLocal" "the studio-local overlay";
      compute = slicesOf "compute" "compute mode";
    };

    # studio-local's audio tuning (issue 15), applied at run time and restored exactly.
    studio = {
      audioUid = mkOption {
        type = types.ints.positive;
        default = d.studio.audioUid;
        description = "UID of the owner whose PipeWire clock studio-local forces.";
      };
      audioUser = mkOption {
        type = types.str;
        default = d.studio.audioUser;
        description = "The owner's user name (readiness report: audio group, limits).";
      };
      audioUnits = mkOption {
        type = types.listOf (types.strMatching "[^/]+[.](slice|service|scope)");
        default = d.studio.audioUnits;
        example = literalExpression ''[ "user.slice" "user@1000.service" ]'';
        description = "Units of the owner's audio (user manager, user slice) weighed up in studio-local.";
      };
      audioWeight = {
        cpuWeight = mkOption {
          type = types.nullOr (types.ints.between 1 10000);
          default = d.studio.audioWeight.cpuWeight;
          description = "CPUWeight= of the audio units in studio-local.";
        };
        ioWeight = mkOption {
          type = types.nullOr (types.ints.between 1 10000);
          default = d.studio.audioWeight.ioWeight;
          description = "IOWeight= of the audio units in studio-local.";
        };
      };
      audioCpus = mkOption {
        type = types.nullOr cpuList;
        default = d.studio.audioCpus;
        example = "2-3";
        description = ''
          CPUs reserved for the audio units in studio-local (their AllowedCPUs=; null: none).
          `slices.studioLocal.ai.allowedCpus` and `.platform.allowedCpus` must then name
          only other CPUs (the controller refuses a config that does not).
        '';
      };
      quantum = mkOption {
        type = types.nullOr (types.ints.between 8 8192);
        default = d.studio.quantum;
        description = "PipeWire clock.force-quantum in studio-local (null: leave the clock).";
      };
      rate = mkOption {
        type = types.nullOr (types.ints.between 8000 768000);
        default = d.studio.rate;
        description = "PipeWire clock.force-rate in studio-local (null: leave the rate).";
      };
      governor = mkOption {
        type = types.nullOr types.str;
        default = d.studio.governor;
        description = "cpufreq governor in studio-local (null: leave it).";
      };
      epp = mkOption {
        type = types.nullOr types.str;
        default = d.studio.epp;
        description = "energy_performance_preference in studio-local, where the driver has one.";
      };
      observeBackoffSec = number d.studio.observeBackoffSec "How often the observer timer refreshes at most while studio-local is in force.";
    };

    guards = {
      cpuLoadPerCoreMax = number d.guards.cpuLoadPerCoreMax "cpu_load_safe: highest 1-minute load per core that still allows compute.";
      memoryAvailableMinMiB = mkOption {
        type = mib;
        default = d.guards.memoryAvailableMinMiB;
        description = "memory_headroom: MemAvailable needed before compute starts.";
      };
      userJobMinRuntimeSec = mkOption {
        type = types.ints.unsigned;
        default = d.guards.userJobMinRuntimeSec;
        description = "user_jobs_safe: a listed job running at least this long blocks compute.";
      };
      userJobNames = mkOption {
        type = types.listOf types.str;
        default = d.guards.userJobNames;
        description = "user_jobs_safe: process names (comm) counted as long-running user jobs.";
      };
      modelStoreFreeMinMiB = mkOption {
        type = mib;
        default = d.guards.modelStoreFreeMinMiB;
        description = "persistence_paths_ready: free space the model store needs.";
      };
      soft = mkOption {
        type = types.listOf types.str;
        default = d.guards.soft;
        example = [ "cpu_load_safe" ];
        description = "Guard ids downgraded from hard (block) to soft (warn).";
      };
    };

    gpuRelease = {
      timeoutSec = number d.gpuRelease.timeoutSec "How long to wait for the display GPU to release after the session ends.";
      pollIntervalSec = number d.gpuRelease.pollIntervalSec "How often to re-read the GPU while waiting.";
      residualThresholdMiB = mkOption {
        type = mib;
        default = d.gpuRelease.residualThresholdMiB;
        description = "Used memory on the display GPU at or under which it counts as released.";
      };
      degradedResidualMaxMiB = mkOption {
        type = mib;
        default = d.gpuRelease.degradedResidualMaxMiB;
        description = "Residual under which a two-GPU host may run degraded-compute on the other GPU(s).";
      };
    };

    timeouts = {
      unitStartSec = number d.timeouts.unitStartSec "Bound on one unit start.";
      unitStopSec = number d.timeouts.unitStopSec "Bound on one unit stop.";
      sessionExitSec = number d.timeouts.sessionExitSec "Bound on the graphical session's exit.";
      vllmReadySec = number d.timeouts.vllmReadySec "Bound on vLLM becoming ready.";
      graphicalReadySec = number d.timeouts.graphicalReadySec "Bound on the GUI coming back.";
      killSec = number d.timeouts.killSec
        "Bound on a unit going down after SIGKILL, when its stop hung (KillUnit escalation).";
      lockStaleSec = number d.timeouts.lockStaleSec "Age after which a lock whose holder is alive is reported stale.";
      currentMaxAgeSec = number d.timeouts.currentMaxAgeSec "Age up to which `mode current` serves the recorded observation (current.json) instead of observing.";
      currentServerSec = number d.timeouts.currentServerSec "How long a live `mode current` waits for the resident observer (mode-current.socket) before observing in its own process; 0: never asks it.";
      graceSec = number d.timeouts.graceSec "Grace period before the GUI goes (mode cancel stops the switch in it; 0: none).";
      countdownEverySec = number d.timeouts.countdownEverySec "A countdown notification this often during the grace period.";
      actionTries = mkOption {
        type = types.ints.positive;
        default = d.timeouts.actionTries;
        description = "How often a backend action that fails temporarily (a D-Bus timeout) is tried; an effect observed in place is never redone.";
      };
      actionRetrySpacingSec = number d.timeouts.actionRetrySpacingSec "Pause between two tries of a backend action.";
    };

    processes = {
      compositor = mkOption {
        type = types.listOf types.str;
        default = d.processes.compositor;
        description = "Process names of compositors (graphical-session evidence).";
      };
      reaper = mkOption {
        type = types.listOf types.str;
        default = d.processes.reaper;
        description = "Process names of REAPER (audio_idle).";
      };
      jack = mkOption {
        type = types.listOf types.str;
        default = d.processes.jack;
        description = "Process names of JACK servers (audio_idle).";
      };
    };

    paths = {
      stateDir = mkOption {
        type = absolutePath;
        default = d.paths.stateDir;
        description = "Runtime state (desired, current, lock, last-*.json, vllm-profile.env).";
      };
      auditLog = mkOption {
        type = absolutePath;
        default = d.paths.auditLog;
        example = "/persist/var/lib/mode-controller/events.jsonl";
        description = "Append-only audit log, one JSON object a line (move under /persist with impermanence).";
      };
      modelStore = mkOption {
        type = absolutePath;
        default = d.paths.modelStore;
        description = "Model weights, outside Git and the Nix store, seeded by the owner (docs/runbooks/model-seeding.md); read-only to vLLM.";
      };
    };

    audit = {
      rotateMiB = mkOption {
        type = types.ints.positive;
        default = d.audit.rotateMiB;
        description = "Size at which the audit log is renamed to the next numbered segment (events.jsonl.1, .2, ...; none is deleted) and a fresh one started.";
      };
    };

    internal = {
      unitParams = mkOption {
        type = types.attrsOf types.anything;
        internal = true;
        default = { };
        description = "Parameters of the pure unit graph (nixos/units/params.nix), filled by the module files.";
      };
      units = mkOption {
        type = types.attrsOf types.anything;
        internal = true;
        readOnly = true;
        description = "The evaluated pure unit graph nixos/units/dubnium.nix for this host.";
      };
    };
  };
}
