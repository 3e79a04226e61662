# Build-time guards: the `dubnium.*` option values -> { assertions; warnings; }.
#
# Seed 001 §1.3: the display GPU, the desktop-AI GPUs and the compute GPUs must be present;
# vLLM needs a package and a model when enabled. Planned-but-absent hardware is a warning.
# Each message names the option and says what to fix. Pure: used by
# nixos/modules/dubnium/guards.nix (NixOS `assertions`/`warnings`) and by tests/nix/, which
# evaluate it with nix-instantiate on broken host settings, without nixpkgs.
cfg:
let
  hw = cfg.hardware;
  show = xs: if xs == [ ] then "[ ]" else "[ ${builtins.concatStringsSep " " (map toString xs)} ]";
  missing = xs: builtins.filter (g: !(builtins.elem g hw.presentGpus)) xs;
  unique = xs: builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ] xs;
  planned = builtins.genList (i: i) hw.plannedGpuCount;
  absentPlanned = builtins.filter (g: !(builtins.elem g hw.presentGpus)) planned;
  guardIds = [
    "target_reachable" "audio_idle" "graphical_session_terminable" "gpu_display_released"
    "cpu_load_safe" "user_jobs_safe" "memory_headroom" "vllm_drainable" "capability_local"
    "persistence_paths_ready" "model_present"
  ];
  badSoft = builtins.filter (g: !(builtins.elem g guardIds)) cfg.guards.soft;
  notPresent = option: gpus:
    "dubnium.hardware.${option} = ${show gpus} names GPU(s) ${show (missing gpus)} that are "
    + "not in dubnium.hardware.presentGpus = ${show hw.presentGpus}. Fix the host facts: "
    + "list only GPUs nvidia-smi shows now; planned GPUs belong in plannedGpuCount.";
in
{
  assertions = [
    {
      assertion = hw.presentGpus != [ ];
      message = "dubnium.hardware.presentGpus is empty: list the GPU indices nvidia-smi shows (e.g. [ 0 ]).";
    }
    {
      assertion = unique hw.presentGpus == hw.presentGpus;
      message = "dubnium.hardware.presentGpus = ${show hw.presentGpus} lists a GPU twice.";
    }
    {
      assertion = builtins.elem hw.displayGpu hw.presentGpus;
      message =
        "dubnium.hardware.displayGpu = ${toString hw.displayGpu} is not in "
        + "dubnium.hardware.presentGpus = ${show hw.presentGpus}. Set displayGpu to the GPU "
        + "that drives the monitor (nvidia-smi, lspci), and list it in presentGpus.";
    }
    {
      assertion = missing hw.desktopAiGpus == [ ];
      message = notPresent "desktopAiGpus" hw.desktopAiGpus;
    }
    {
      assertion = missing hw.computeGpus == [ ];
      message = notPresent "computeGpus" hw.computeGpus;
    }
    {
      assertion = builtins.length hw.presentGpus <= hw.plannedGpuCount;
      message =
        "dubnium.hardware.plannedGpuCount = ${toString hw.plannedGpuCount} is fewer than the "
        + "${toString (builtins.length hw.presentGpus)} GPU(s) in presentGpus; raise it.";
    }
    {
      assertion = !cfg.vllm.enable || (cfg.vllm.package or null) != null;
      message = "dubnium.vllm.enable is true but dubnium.vllm.package is null: set a vLLM package (e.g. pkgs.vllm) or disable vLLM.";
    }
    {
      assertion = !cfg.vllm.enable || cfg.vllm.model != null;
      message = "dubnium.vllm.enable is true but dubnium.vllm.model is null: set the model to serve (e.g. \"Qwen/Qwen2.5-Coder-14B-Instruct\") or disable vLLM.";
    }
    {
      assertion = !cfg.vllm.enable || hw.computeGpus != [ ];
      message = "dubnium.vllm.enable is true but dubnium.hardware.computeGpus is empty: vLLM needs at least one compute GPU.";
    }
    {
      assertion = !cfg.vllm.enableDesktopProfile;
      message = "dubnium.vllm.enableDesktopProfile: bounded desktop AI is deferred in v1 (vLLM is compute-only until desktop <-> compute transitions are proven); keep it false.";
    }
    {
      assertion = badSoft == [ ];
      message = "dubnium.guards.soft names unknown guard(s) ${builtins.concatStringsSep ", " badSoft}; known: ${builtins.concatStringsSep ", " guardIds}.";
    }
    {
      assertion = cfg.gpuRelease.degradedResidualMaxMiB >= cfg.gpuRelease.residualThresholdMiB;
      message =
        "dubnium.gpuRelease.degradedResidualMaxMiB = ${toString cfg.gpuRelease.degradedResidualMaxMiB} "
        + "is below residualThresholdMiB = ${toString cfg.gpuRelease.residualThresholdMiB}; "
        + "the degraded bound must be at least the clean-release threshold.";
    }
  ];

  warnings =
    (if absentPlanned != [ ] then
      [
        ("dubnium: GPU(s) ${show absentPlanned} are planned (plannedGpuCount = "
          + "${toString hw.plannedGpuCount}) but not present; compute runs on "
          + "${show hw.computeGpus} only. Add them to presentGpus/computeGpus once installed.")
      ]
    else
      [ ])
    ++ (if cfg.capabilityPlacement.studio == "remote" then
      [ "dubnium: capabilityPlacement.studio = \"remote\": `mode request studio-local` will be refused on this host." ]
    else
      [ ])
    ++ (if cfg.vllm.enable && cfg.capabilityPlacement.compute == "remote" then
      [ "dubnium: vLLM is enabled but capabilityPlacement.compute = \"remote\": `mode request compute` will be refused, so vLLM never runs here." ]
    else
      [ ]);
}
