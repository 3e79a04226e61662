# Evaluate the Dubnium NixOS module with the real nixpkgs `lib` (nix-community/nixpkgs.lib,
# a read-only snapshot outside this repository: DUBNIUM_NIXPKGS_LIB) and stub declarations
# of the NixOS options it sets. Strict where it matters: systemd units are declared with
# NixOS's option names and merge rules, so a misspelt unit attribute or two conflicting
# definitions fail; the other namespaces the module touches (services, hardware, programs,
# security, users, boot, ...) are free-form values. (A root freeformType would make the
# module system force unit names while computing `config`: infinite recursion.)
#
#   nix-instantiate --eval --strict --json tests/nix/eval-module.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib' --argstr hostJson '{...}' [--arg withHost true]
#
# Called by tests/nix/test_module_eval.py. `hostJson`: extra `dubnium.*`-level settings (a
# JSON object merged as a module); `withHost`: also import nixos/hosts/workstation.
{ lib, hostJson ? "{}", withHost ? true }:
let
  inherit (lib) mkOption types;

  inherit (import ./stub-lib.nix lib) fakeDrv names settings flag unitsOf free;
  pkgs = {
    coreutils = fakeDrv "coreutils";
    vllm = fakeDrv "vllm";
    greetd = fakeDrv "greetd";
    stdenv.hostPlatform.system = "x86_64-linux";
    python3Packages = {
      setuptools = fakeDrv "setuptools";
      attrs = fakeDrv "attrs";
      typer = fakeDrv "typer";
      pystemd = fakeDrv "pystemd";
      nvidia-ml-py = fakeDrv "nvidia-ml-py";
      buildPythonApplication = a: fakeDrv "${a.pname}-${a.version}" // {
        inherit (a) meta;
        passthru.args = a;
      };
    };
    callPackage = f: args:
      let fn = import f; wanted = builtins.functionArgs fn;
      in fn (builtins.intersectAttrs wanted { inherit lib; inherit (pkgs) python3Packages; } // args);
    writeShellApplication = a: fakeDrv a.name // {
      meta.mainProgram = a.name;
      passthru.text = a.text;
    };
    formats.json = _: {
      type = types.anything;
      generate = name: value: fakeDrv name // { passthru.value = value; };
    };
  };

  stubs = {
    options = {
      # Not checked here: only their values are kept.
      services = free; hardware = free; programs = free; security = free; users = free;
      boot = free; networking = free; fileSystems = free; nixpkgs = free; system = free;
      nix = free;
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule { options.source = mkOption { type = types.unspecified; }; });
        default = { };
      };
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      systemd = {
        defaultUnit = mkOption { type = types.str; default = "multi-user.target"; };
        tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
        services = unitsOf {
          serviceConfig = settings;
          environment = mkOption { type = types.attrsOf types.str; default = { }; };
          path = mkOption { type = types.listOf types.unspecified; default = [ ]; };
          script = mkOption { type = types.lines; default = ""; };
          restartIfChanged = flag true;
          stopIfChanged = flag true;
        };
        targets = unitsOf { };
        slices = unitsOf { sliceConfig = settings; };
        timers = unitsOf { timerConfig = settings; };
        sockets = unitsOf { socketConfig = settings; };
      };
    };
    config.services.greetd.package = pkgs.greetd;
  };

  result = lib.evalModules {
    specialArgs = {
      inherit pkgs;
      modulesPath = ./stubs/modules;
    };
    modules = [
      stubs
      ../../nixos/modules/dubnium
      (builtins.fromJSON hostJson)
    ] ++ lib.optional withHost ../../nixos/hosts/workstation;
  };
  inherit (result) config;
  unitView = kind: lib.mapAttrs (_: u: builtins.removeAttrs u [ "restartTriggers" ]) config.systemd.${kind};
in
{
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  inherit (config) warnings;
  configJson = config.environment.etc."dubnium/config.json".source.passthru.value or null;
  defaultUnit = config.systemd.defaultUnit;
  tmpfiles = config.systemd.tmpfiles.rules;
  units = lib.genAttrs [ "services" "targets" "slices" "timers" "sockets" ] unitView;
  systemPackages = map (p: p.name) config.environment.systemPackages;
  vllmLauncher = if config.dubnium.enable then config.dubnium.internal.unitParams.exec.vllm or null else null;
  users = builtins.attrNames (config.users.users or { });
  # what the example host and the workloads set outside dubnium.* (free-form stubs above)
  userSettings = config.users.users or { };
  nixSettings = config.nix.settings or { };
  openssh = config.services.openssh or { };
  nixpkgsConfig = config.nixpkgs.config or { };
  # every option declared under dubnium.*, with its default, for docs/nixos.md
  options = lib.mapAttrs (_: o: o.defaultText or o.default or null)
    (lib.filterAttrs (_: o: !(o.internal or false))
      (builtins.listToAttrs (map (o: { name = o.name; value = o; })
        (builtins.filter (o: lib.hasPrefix "dubnium." o.name) (lib.optionAttrSetToDocList result.options)))));
}
