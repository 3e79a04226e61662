# The desktop: Hyprland behind greetd, whose unit NixOS aliases to display-manager.service
# (wanted by graphical.target, which desktop.target wants and compute.target conflicts with).
# With `dubnium.desktop.autologinUser` the owner's session starts on boot and again after
# every return from compute mode; without it greetd shows a text greeter.
{ config, lib, ... }:
let
  inherit (lib) mkIf mkOption mkEnableOption types;
  cfg = config.dubnium;
in
{
  options.dubnium.desktop = {
    enable = mkEnableOption "the Hyprland desktop behind greetd" // { default = true; };
    autologinUser = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "alice";
      description = "User whose Hyprland session greetd starts without a greeter (null: greeter).";
    };
  };

  config = mkIf (cfg.enable && cfg.desktop.enable) {
    programs.hyprland.enable = true;
    services.greetd = {
      enable = true;
      settings = {
        default_session.command =
          "${lib.getExe' config.services.greetd.package "agreety"} --cmd Hyprland";
      } // lib.optionalAttrs (cfg.desktop.autologinUser != null) {
        initial_session = {
          user = cfg.desktop.autologinUser;
          command = "Hyprland";
        };
      };
    };
  };
}
