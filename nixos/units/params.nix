# Default parameters of the pure unit graph (nixos/units/default.nix).
#
# These defaults render units for a plain Linux host with stand-in commands (the namespace
# test host of tests/host/ and `systemd-analyze verify` in tests/nix/); the NixOS module
# (nixos/modules/dubnium/default.nix) overrides every command with a store path and the
# base target with multi-user.target. Anything given to default.nix is merged over these,
# attribute by attribute. Pure data; no nixpkgs.
{
  # The target both mode targets require, so `systemctl isolate` never stops dbus or logind.
  # NixOS: multi-user.target. The test host uses its own (see /work/shared/notes/test-host.md).
  baseTarget = "multi-user.target";
  graphicalTarget = "graphical.target";
  # The mode the boot normaliser requests (dubnium.boot.defaultMode).
  defaultMode = "desktop";
  stateDir = "/run/mode-controller";

  exec = {
    # Command prefix of the `mode` CLI (may carry options: "/x/mode --backend host ...").
    mode = "/usr/local/bin/mode";
    # A command that does nothing and succeeds: the overlay markers' ExecStart.
    marker = "/bin/true";
    # vllm.service's ExecStart (NixOS: the dubnium-vllm launcher; test host: a stand-in).
    vllm = "/bin/sleep infinity";
  };

  observe = {
    # How often mode-observe.timer refreshes /run/mode-controller/current.
    interval = "1min";
  };

  vllm = {
    enable = true;
    # null: run as root (stand-ins); NixOS sets a dedicated system user.
    user = null;
    # Sandboxing in the manner of nixpkgs' ollama module (with the NVIDIA device allowances).
    hardening = true;
    # Model weights, seeded by the owner (docs/runbooks/model-seeding.md); vLLM only reads it.
    modelStore = "/var/lib/dubnium/models";
    # vLLM's own writable places: StateDirectory=vllm (HOME, Hugging Face's token and
    # metadata) and CacheDirectory=vllm (Triton, torch.compile, vLLM's caches).
    stateDir = "/var/lib/vllm";
    cacheDir = "/var/cache/vllm";
  };

  k3s = {
    enable = false;
    # null on NixOS (services.k3s defines the service; this graph only places it in
    # platform.slice); a stand-in command on a test host.
    execStart = null;
  };

  # Boot-time [Slice] settings (the desktop weights); the controller changes them at run time.
  slices = {
    "interactive.slice" = { CPUWeight = 100; IOWeight = 100; };
    "ai.slice" = { CPUWeight = 100; IOWeight = 100; };
    "platform.slice" = { CPUWeight = 100; IOWeight = 100; };
  };

  # Free for nixos/units/exo.nix (issue 6): its own parameters live under this key.
  exo = { };
}
