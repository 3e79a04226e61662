# Ordinary desktop audio that can go low-latency: PipeWire with ALSA, PulseAudio and JACK
# clients, a configurable quantum, rtkit, and realtime limits for the audio group (REAPER
# and JACK clients). studio-local raises priority through slice weights; this module only
# makes the host capable of it.
{ config, lib, ... }:
let
  inherit (lib) mkIf mkOption mkEnableOption types;
  cfg = config.dubnium;
in
{
  options.dubnium.audio = {
    enable = mkEnableOption "PipeWire desktop audio with low-latency settings" // { default = true; };
    rate = mkOption {
      type = types.ints.positive;
      default = 48000;
      description = "default.clock.rate of PipeWire.";
    };
    quantum = mkOption {
      type = types.ints.positive;
      default = 256;
      example = 64;
      description = "default.clock.quantum (frames); lower is lower latency and more xruns.";
    };
    minQuantum = mkOption {
      type = types.ints.positive;
      default = 32;
      description = "default.clock.min-quantum: the lowest quantum a client may ask for.";
    };
  };

  config = mkIf (cfg.enable && cfg.audio.enable) {
    security.rtkit.enable = true;
    services.pipewire = {
      enable = true;
      alsa.enable = true;
      pulse.enable = true;
      jack.enable = true;
      extraConfig.pipewire."92-dubnium-low-latency"."context.properties" = {
        "default.clock.rate" = cfg.audio.rate;
        "default.clock.quantum" = cfg.audio.quantum;
        "default.clock.min-quantum" = cfg.audio.minQuantum;
      };
    };
    security.pam.loginLimits = [
      { domain = "@audio"; type = "-"; item = "rtprio"; value = "95"; }
      { domain = "@audio"; type = "-"; item = "memlock"; value = "unlimited"; }
      { domain = "@audio"; type = "-"; item = "nice"; value = "-19"; }
    ];
  };
}
