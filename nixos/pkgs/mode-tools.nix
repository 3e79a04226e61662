# The `mode` CLI, the controller and its backends as one Python application, built from the
# repository's pyproject.toml (flake output packages.x86_64-linux.mode-tools; the default
# of dubnium.package). Includes the host extras: pystemd (systemd/logind over D-Bus) and
# nvidia-ml-py (NVML).
{ lib, python3Packages, src ? lib.cleanSource ../.. }:
python3Packages.buildPythonApplication {
  pname = "mode-tools";
  version = "0.1.0";
  pyproject = true;
  inherit src;

  build-system = [ python3Packages.setuptools ];

  dependencies = [
    python3Packages.attrs
    python3Packages.typer
    # the `host` extra of pyproject.toml
    python3Packages.pystemd
    python3Packages.nvidia-ml-py
  ];

  # The test suite needs a namespace-booted systemd and nix-instantiate; CI runs it.
  doCheck = false;
  pythonImportsCheck = [ "dubnium" "backends" "simulator" ];

  meta = {
    description = "Dubnium mode controller: desktop, studio-local and compute, switched safely";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "mode";
  };
}
