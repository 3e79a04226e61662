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
  # pyproject pins click < 8.4 for pip users (argument help); the CLI itself never prints a
  # suggestion twice on any click, so nixpkgs' click is accepted as it is.
  pythonRelaxDeps = [ "click" ];

  dependencies = [
    python3Packages.attrs
    python3Packages.typer
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
  pythonImportsCheck = [ "dubnium" "backends" "simulator" ];

  meta = {
    description = "Dubnium mode controller: desktop, studio-local and compute, switched safely";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "mode";
  };
}
