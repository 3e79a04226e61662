# The `mode` CLI, the controller and its backends as one Python application, built from the
# repository's pyproject.toml (flake output packages.x86_64-linux.mode-tools; the default
# of dubnium.package). Includes the host extras: pystemd (systemd/logind over D-Bus) and
# nvidia-ml-py (NVML).
{ lib, python3Packages, src ? lib.cleanSource ../.. }:
let
  # pyproject.toml asks for typer < 0.25: the CLI is click code (click.Choice, click.Group,
  # click.UsageError), and typer 0.25+ vendors a reduced click without them (measured: 5 CLI
  # tests fail on typer 0.26.8; 0.27+ also imports pydantic at every start). nixpkgs ships
  # typer 0.26, which nixpkgs' runtime dependency check would refuse, and relaxing the bound
  # would ship a CLI that cannot start (`import click`). So this package gets typer 0.24.2
  # (PyPI sdist; sha256 as PyPI lists it) with click, for itself only. tests/nix/test_package.py
  # checks the version chosen here against pyproject's bound.
  typer = python3Packages.typer.overridePythonAttrs (old: rec {
    version = "0.24.2";
    src = python3Packages.fetchPypi {
      pname = "typer";
      inherit version;
      hash = "sha256-7AcNz8oUCOhe4gPGNlAB6BjDt//+aG/Qf/LWgJXKBIA=";
    };
    dependencies = (old.dependencies or [ ]) ++ [ python3Packages.click ];
    # nixpkgs' test suite for typer is that of its own version.
    doCheck = false;
  });
in
python3Packages.buildPythonApplication {
  pname = "mode-tools";
  version = "0.1.0";
  pyproject = true;
  inherit src;

  build-system = [ python3Packages.setuptools ];
  # pyproject pins click < 8.4 for pip users (argument help); the CLI itself never prints a
  # suggestion twice on any click, so nixpkgs' click is accepted as it is.
  pythonRelaxDeps = [ "click" ];

  dependencies = [
    python3Packages.attrs
    typer
    python3Packages.click
    python3Packages.rich
    # the `host` extra of pyproject.toml
    python3Packages.pystemd
    python3Packages.nvidia-ml-py
  ];

  # Completions (bash, zsh, fish) and the man page, generated from the CLI (dubnium/docgen.py).
  postInstall = ''
    PYTHONPATH=$out/${python3Packages.python.sitePackages}:$PYTHONPATH \
      ${python3Packages.python.interpreter} -m dubnium.docgen gen
    install -Dm644 gen/completions/mode.bash $out/share/bash-completion/completions/mode
    install -Dm644 gen/completions/_mode $out/share/zsh/site-functions/_mode
    install -Dm644 gen/completions/mode.fish $out/share/fish/vendor_completions.d/mode.fish
    install -Dm644 gen/man/mode.1 $out/share/man/man1/mode.1
  '';

  # The test suite needs a namespace-booted systemd and nix-instantiate; CI runs it.
  doCheck = false;
  pythonImportsCheck = [ "dubnium" "dubnium_app" "backends" "simulator" ];

  meta = {
    description = "Dubnium mode controller: desktop, studio-local and compute, switched safely";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "mode";
  };
}
