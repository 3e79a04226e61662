# The default value of every plain-valued `dubnium.*` option, as one pure attribute set.
#
# Read by nixos/modules/dubnium/options.nix (each option's `default`) and by the tests in
# tests/nix/, which merge a host's settings over it and feed the result to config-json.nix
# and checks.nix without nixpkgs. The values equal dubnium/policy.py's defaults wherever the
# Python side has the same knob (a test keeps them equal); the hardware and vLLM defaults
# differ on purpose: a module must not assume two GPUs or a model it was not told about.
{
  boot.defaultMode = "desktop";

  hardware = {
    presentGpus = [ 0 ];
    displayGpu = 0;
    computeGpus = [ 0 ];
    plannedGpuCount = 1;
    desktopAiGpus = [ ];
    cudaCapabilities = [ ];
  };

  capabilityPlacement = {
    studio = "local";
    compute = "local";
  };

  vllm = {
    enable = false;
    model = null;
    cudaSupport = true;
    extraArgs = [ ];
    memoryPerGpuMiB = 20480;
    host = "127.0.0.1";
    port = 8000;
    enableDesktopProfile = false;
    profiles = {
      compute.extraArgs = [ ];
      degraded.extraArgs = [ ];
    };
  };

  exo = {
    enable = false;
    gpuShare = "shared";
    memoryPerGpuMiB = 2048;
  };

  k3s.enable = false;

  # Runtime weights the controller applies per mode (desktop's are also the boot values).
  slices = {
    desktop = {
      interactive = { cpuWeight = 100; ioWeight = 100; };
      ai = { cpuWeight = 100; ioWeight = 100; };
      platform = { cpuWeight = 100; ioWeight = 100; };
    };
    studioLocal = {
      interactive = { cpuWeight = 1000; ioWeight = 1000; };
      ai = { cpuWeight = 10; ioWeight = 10; };
      platform = { cpuWeight = 20; ioWeight = 20; };
    };
    compute = {
      interactive = { cpuWeight = 50; ioWeight = 50; };
      ai = { cpuWeight = 1000; ioWeight = 1000; };
      platform = { cpuWeight = 500; ioWeight = 500; };
    };
  };

  # studio-local's audio tuning (issue 15; dubnium/policy.py `Studio`).
  studio = {
    audioUid = 1000;
    audioUser = "owner";
    audioUnits = [ "user.slice" "user@1000.service" ];
    audioWeight = { cpuWeight = 1000; ioWeight = 1000; };
    audioCpus = null;
    quantum = 64;
    rate = null;
    governor = "performance";
    epp = "performance";
    observeBackoffSec = 600.0;
  };

  guards = {
    cpuLoadPerCoreMax = 0.85;
    memoryAvailableMinMiB = 4096;
    userJobMinRuntimeSec = 600;
    userJobNames = [
      "cargo" "rustc" "make" "ninja" "cmake" "gcc" "cc1" "cc1plus" "clang"
      "go" "nix-build" "nix-daemon-build" "pytest" "bazel" "gradle" "mvn"
    ];
    modelStoreFreeMinMiB = 1024;
    soft = [ ];
  };

  gpuRelease = {
    timeoutSec = 30.0;
    pollIntervalSec = 0.5;
    residualThresholdMiB = 256;
    degradedResidualMaxMiB = 1024;
  };

  timeouts = {
    unitStartSec = 90.0;
    unitStopSec = 90.0;
    sessionExitSec = 15.0;
    vllmReadySec = 300.0;
    graphicalReadySec = 60.0;
    killSec = 15.0;
    lockStaleSec = 900.0;
    currentMaxAgeSec = 5.0;
    currentServerSec = 10.0;
    graceSec = 30.0;
    countdownEverySec = 10.0;
    actionTries = 3;
    actionRetrySpacingSec = 0.5;
  };

  processes = {
    compositor = [ "Hyprland" "hyprland" "sway" "gnome-shell" "kwin_wayland" ];
    reaper = [ "reaper" "REAPER" ];
    jack = [ "jackd" "jackdbus" ];
  };

  paths = {
    stateDir = "/run/mode-controller";
    auditLog = "/var/lib/mode-controller/events.jsonl";
    modelStore = "/var/lib/dubnium/models";
  };

  # Idle automation (nixos/modules/dubnium/idle.nix; dubnium/policy.py's Idle).
  idle = {
    enable = false;
    afterSec = 1800.0;
    cooldownSec = 3600.0;
    pollIntervalSec = 30.0;
    inhibitorKinds = [ "idle" "sleep" ];
    exclusiveApps = [ ];
    loadPerCoreMax = 0.5;
    schedule = {
      windows = [ ];
      days = [ ];
      timeZone = "UTC";
    };
    wakeOn = [ "key" "login" "command" ];
  };

  audit = {
    rotateMiB = 16;
  };
}
