{
  description = "Dubnium: one NixOS workstation, three operating modes (desktop, studio-local, compute), switched safely";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = import nixpkgs {
        inherit system;
        # vLLM (CUDA) and the NVIDIA driver are unfree.
        config.allowUnfree = true;
      };
    in
    {
      nixosModules = {
        default = import ./nixos/modules/dubnium;
        dubnium = self.nixosModules.default;
        # EXO (issue 6): services.exo.
        exo = import ./nixos/modules/exo;
      };

      packages.${system} = {
        mode-tools = pkgs.callPackage ./nixos/pkgs/mode-tools.nix { src = self; };
        default = self.packages.${system}.mode-tools;
      };

      nixosConfigurations.workstation = nixpkgs.lib.nixosSystem {
        modules = [
          self.nixosModules.default
          ./nixos/hosts/workstation
          { dubnium.package = self.packages.${system}.mode-tools; }
        ];
      };

      checks.${system} = {
        inherit (self.packages.${system}) mode-tools;
        # Needs KVM; not run in this repository's CI (docs/nixos.md).
        vm = import ./nixos/tests/vm.nix { inherit pkgs self; };
      };
    };
}
