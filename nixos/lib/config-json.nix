# The `dubnium.*` option values -> the attribute set written to /etc/dubnium/config.json.
#
# One schema on both sides: the keys are exactly those dubnium/policy.py's load_policy_data
# reads (snake_case; unknown keys are rejected there). Pure: called by
# nixos/modules/dubnium/state.nix with `config.dubnium`, and by tests/nix/ with a plain
# attribute set (defaults.nix merged with a host's values), so CI checks the very file the
# module writes against the Python loader without nixpkgs.
cfg:
let
  names = import ../units/names.nix;

  # null means "unset" on both sides: the Python loader reads a missing key or null alike.
  sliceSettings = s: {
    cpu_weight = s.cpuWeight or null;
    io_weight = s.ioWeight or null;
    cpu_quota_percent = s.cpuQuotaPercent or null;
    memory_high_mib = s.memoryHighMiB or null;
    memory_max_mib = s.memoryMaxMiB or null;
    allowed_cpus = s.allowedCpus or null;
  };
  perMode = m: {
    "interactive.slice" = sliceSettings m.interactive;
    "ai.slice" = sliceSettings m.ai;
    "platform.slice" = sliceSettings m.platform;
  };
in
{
  schema_version = 1;
  boot.default_mode = cfg.boot.defaultMode;
  hardware = {
    present_gpus = cfg.hardware.presentGpus;
    display_gpu = cfg.hardware.displayGpu;
    compute_gpus = cfg.hardware.computeGpus;
    planned_gpu_count = cfg.hardware.plannedGpuCount;
  };
  capability_placement = {
    inherit (cfg.capabilityPlacement) studio compute;
  };
  units = names;
  vllm = {
    inherit (cfg.vllm) enable;
    extra_args = cfg.vllm.extraArgs;
    memory_per_gpu_mib = cfg.vllm.memoryPerGpuMiB;
    profile_path = "${cfg.paths.stateDir}/vllm-profile.env";
  }
  # A disabled vLLM may have no model; the loader then keeps its own default.
  // (if cfg.vllm.model == null then { } else { inherit (cfg.vllm) model; });
  exo = {
    inherit (cfg.exo) enable;
    gpu_share = cfg.exo.gpuShare;
    memory_per_gpu_mib = cfg.exo.memoryPerGpuMiB;
    profile_path = "${cfg.paths.stateDir}/exo-profile.env";
  };
  k3s.enable = cfg.k3s.enable;
  slices = {
    desktop = perMode cfg.slices.desktop;
    studio-local = perMode cfg.slices.studioLocal;
    compute = perMode cfg.slices.compute;
  };
  studio = {
    audio_uid = cfg.studio.audioUid;
    audio_user = cfg.studio.audioUser;
    audio_units = cfg.studio.audioUnits;
    audio_weight = {
      cpu_weight = cfg.studio.audioWeight.cpuWeight;
      io_weight = cfg.studio.audioWeight.ioWeight;
    };
    audio_cpus = cfg.studio.audioCpus;
    inherit (cfg.studio) quantum rate governor epp;
    observe_backoff_s = cfg.studio.observeBackoffSec;
  };
  guards = {
    cpu_load_per_core_max = cfg.guards.cpuLoadPerCoreMax;
    memory_available_min_mib = cfg.guards.memoryAvailableMinMiB;
    user_job_min_runtime_s = cfg.guards.userJobMinRuntimeSec;
    user_job_names = cfg.guards.userJobNames;
    model_store_free_min_mib = cfg.guards.modelStoreFreeMinMiB;
    inherit (cfg.guards) soft;
  };
  gpu_release = {
    timeout_s = cfg.gpuRelease.timeoutSec;
    poll_interval_s = cfg.gpuRelease.pollIntervalSec;
    residual_threshold_mib = cfg.gpuRelease.residualThresholdMiB;
    degraded_residual_max_mib = cfg.gpuRelease.degradedResidualMaxMiB;
  };
  timeouts = {
    unit_start_s = cfg.timeouts.unitStartSec;
    unit_stop_s = cfg.timeouts.unitStopSec;
    session_exit_s = cfg.timeouts.sessionExitSec;
    vllm_ready_s = cfg.timeouts.vllmReadySec;
    graphical_ready_s = cfg.timeouts.graphicalReadySec;
    kill_s = cfg.timeouts.killSec;
    lock_stale_s = cfg.timeouts.lockStaleSec;
    current_max_age_s = cfg.timeouts.currentMaxAgeSec;
    current_server_s = cfg.timeouts.currentServerSec;
    grace_s = cfg.timeouts.graceSec;
    countdown_every_s = cfg.timeouts.countdownEverySec;
    action_tries = cfg.timeouts.actionTries;
    action_retry_spacing_s = cfg.timeouts.actionRetrySpacingSec;
  };
  processes = {
    inherit (cfg.processes) compositor reaper jack;
  };
  paths = {
    state_dir = cfg.paths.stateDir;
    audit_log = cfg.paths.auditLog;
    model_store = cfg.paths.modelStore;
  };
  idle = {
    inherit (cfg.idle) enable;
    after_s = cfg.idle.afterSec;
    cooldown_s = cfg.idle.cooldownSec;
    poll_interval_s = cfg.idle.pollIntervalSec;
    inhibitor_kinds = cfg.idle.inhibitorKinds;
    exclusive_apps = cfg.idle.exclusiveApps;
    load_per_core_max = cfg.idle.loadPerCoreMax;
    inherit (cfg.idle.schedule) windows days;
    timezone = cfg.idle.schedule.timeZone;
    wake_on = cfg.idle.wakeOn;
  };
  audit.rotate_mib = cfg.audit.rotateMiB;
}
