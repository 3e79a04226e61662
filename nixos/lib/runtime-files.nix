# The `dubnium.*` option values -> the generated files the module links into the runtime
# state directory: capability-placement.json and hardware-topology.json (seed 002
# state.nix; seed 001 phase 4 reads them with `sudo cat /run/mode-controller/...`).
# Pure: used by nixos/modules/dubnium/state.nix and tests/nix/.
cfg: {
  "capability-placement.json" = {
    schema_version = 1;
    inherit (cfg.capabilityPlacement) studio compute;
  };
  "hardware-topology.json" = {
    schema_version = 1;
    present_gpus = cfg.hardware.presentGpus;
    display_gpu = cfg.hardware.displayGpu;
    compute_gpus = cfg.hardware.computeGpus;
    desktop_ai_gpus = cfg.hardware.desktopAiGpus;
    planned_gpu_count = cfg.hardware.plannedGpuCount;
  };
}
