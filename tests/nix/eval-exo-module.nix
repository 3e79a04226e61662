# Evaluate nixosModules.exo (and, with `withDubnium`, the Dubnium module beside it) with the
# real nixpkgs `lib` (nix-community/nixpkgs.lib: a read-only snapshot outside this repository,
# DUBNIUM_NIXPKGS_LIB) and stub declarations of the NixOS options they set. The systemd unit
# options use NixOS's names and merge rules, the firewall, k3s, networkd and tmpfiles options
# their NixOS types, so a misspelt attribute or a conflicting definition fails.
#
#   nix-instantiate --eval --strict --json tests/nix/eval-exo-module.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib' --argstr hostJson '{...}' \
#     [--arg withDubnium true] [--arg k3sManifests false] [--argstr exoVersion 1.0.67] \
#     [--arg cudaFromPkgs true]   # services.exo.hardware.cudaPackage = pkgs.exo-cuda
#
# Called by tests/nix/test_exo_module_eval.py. `hostJson`: a JSON module (services.exo,
# dubnium.*, services.xserver.videoDrivers ...).
{ lib, hostJson ? "{}", withDubnium ? false, k3sManifests ? true, exoVersion ? null
, cudaFromPkgs ? false }:
let
  inherit (lib) mkOption types;

  inherit (import ./stub-lib.nix lib) fakeDrv names settings flag unitsOf free;
  pkgs = {
    exo = fakeDrv "exo" // lib.optionalAttrs (exoVersion != null) { version = exoVersion; };
    exo-cuda = fakeDrv "exo-cuda-13";
    coreutils = fakeDrv "coreutils";
    vllm = fakeDrv "vllm";
    greetd = fakeDrv "greetd";
    system = "x86_64-linux";
    stdenv.hostPlatform = { system = "x86_64-linux"; isLinux = true; };
    python3Packages = {
      setuptools = fakeDrv "setuptools";
      attrs = fakeDrv "attrs";
      typer = fakeDrv "typer";
      pystemd = fakeDrv "pystemd";
      nvidia-ml-py = fakeDrv "nvidia-ml-py";
      buildPythonApplication = a: fakeDrv "${a.pname}-${a.version}" // { inherit (a) meta; };
    };
    callPackage = f: args:
      let fn = import f; wanted = builtins.functionArgs fn;
      in fn (builtins.intersectAttrs wanted { inherit lib; inherit (pkgs) python3Packages; } // args);
    writeShellApplication = a: fakeDrv a.name // { meta.mainProgram = a.name; };
    formats.json = _: {
      type = types.anything;
      generate = name: value: fakeDrv name // { passthru.value = value; };
    };
  };

  anyAttrs = mkOption { type = types.attrsOf types.anything; default = { }; };
  ports = mkOption { type = types.listOf types.port; default = [ ]; };
  firewallRules = { allowedTCPPorts = ports; allowedUDPPorts = ports; };

  stubs = {
    options = {
      hardware = free; programs = free; security = free; boot = free; fileSystems = free;
      nixpkgs = free; system = free;
      users.users = anyAttrs;
      users.groups = anyAttrs;
      services = {
        greetd = free; pipewire = free; openssh = free;
        xserver.videoDrivers = mkOption { type = types.listOf types.str; default = [ ]; };
        k3s = {
          enable = flag false;
        } // lib.optionalAttrs k3sManifests {
          manifests = mkOption {
            type = types.attrsOf (types.submodule {
              options.content = mkOption { type = types.either (types.attrsOf types.anything) (types.listOf (types.attrsOf types.anything)); };
            });
            default = { };
          };
        };
      };
      networking = {
        hostName = mkOption { type = types.str; default = "nixos"; };
        firewall = firewallRules // {
          interfaces = mkOption { type = types.attrsOf (types.submodule { options = firewallRules; }); default = { }; };
        };
      };
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
        tmpfiles.settings = mkOption {
          type = types.attrsOf (types.attrsOf (types.attrsOf (types.submodule {
            options = {
              user = mkOption { type = types.str; };
              group = mkOption { type = types.str; };
              mode = mkOption { type = types.str; };
            };
          })));
          default = { };
        };
        network = {
          enable = flag false;
          netdevs = anyAttrs;
          networks = anyAttrs;
        };
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
  };

  result = lib.evalModules {
    specialArgs = {
      inherit pkgs;
      modulesPath = ./stubs/modules;
    };
    modules = [
      stubs
      ../../nixos/modules/exo
      (builtins.fromJSON hostJson)
    ]
    ++ lib.optional withDubnium ../../nixos/modules/dubnium
    ++ lib.optional cudaFromPkgs { services.exo.hardware.cudaPackage = pkgs.exo-cuda; };
  };
  inherit (result) config;
  exoUnits = kind: lib.mapAttrs (_: u: builtins.removeAttrs u [ "restartTriggers" ])
    (lib.filterAttrs (n: _: n == "exo") config.systemd.${kind});
in
{
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  inherit (config) warnings;
  services = exoUnits "services";
  targets = exoUnits "targets";
  firewall = {
    inherit (config.networking.firewall) allowedTCPPorts allowedUDPPorts;
    interfaces = lib.mapAttrs (_: i: { inherit (i) allowedTCPPorts allowedUDPPorts; })
      config.networking.firewall.interfaces;
  };
  k3sManifests = if k3sManifests then lib.mapAttrs (_: m: m.content) config.services.k3s.manifests else null;
  network = { inherit (config.systemd.network) netdevs networks; };
  users = config.users.users;
  groups = builtins.attrNames config.users.groups;
  tmpfiles = config.systemd.tmpfiles.settings;
  dubniumExoEnable = if withDubnium then config.dubnium.exo.enable else null;
  configJsonExo =
    if withDubnium && config.environment.etc ? "dubnium/config.json"
    then config.environment.etc."dubnium/config.json".source.passthru.value.exo
    else null;
  computeTargetDefined = config.systemd.targets ? compute;
  preflightPackage = config.services.exo.hardware.preflightPackage.name;
  # every option declared under services.exo.* and dubnium.exo.computeOnly, with its default
  options = lib.mapAttrs (_: o: o.defaultText or o.default or null)
    (lib.filterAttrs (_: o: !(o.internal or false) && (o.visible or true) != false)
      (builtins.listToAttrs (map (o: { name = o.name; value = o; })
        (builtins.filter (o: lib.hasPrefix "services.exo." o.name || o.name == "dubnium.exo.computeOnly")
          (lib.optionAttrSetToDocList result.options)))));
}
