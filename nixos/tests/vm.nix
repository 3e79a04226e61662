# checks.x86_64-linux.vm: the Dubnium module in a NixOS VM (nixpkgs' runNixOSTest).
# Boots to desktop (greetd autologin into Hyprland), `mode status`, the studio-local round
# trip, compute with a vLLM stand-in, and back to desktop.
#
# It needs KVM and nixpkgs, which the CI machine of this repository has not: it is never
# run there (docs/nixos.md). A VM has no NVIDIA GPU, so NVML evidence is unavailable and the
# controller must not claim compute through `mode request compute`; the test accepts only
# the honest outcomes (compute reached, or a refusal/rollback that leaves desktop), then
# exercises the compute unit graph directly with the stand-in.
{ pkgs, self }:
pkgs.testers.runNixOSTest {
  name = "dubnium-modes";

  nodes.machine = { pkgs, ... }: {
    imports = [ self.nixosModules.default ./vm-node.nix ];
    dubnium.package = self.packages.${pkgs.stdenv.hostPlatform.system}.mode-tools;
  };

  testScript = ''
    import json

    machine.wait_for_unit("desktop.target")
    machine.wait_for_unit("mode-boot.service")
    machine.succeed("test -f /etc/dubnium/config.json")
    machine.succeed("test -d /run/mode-controller")
    machine.succeed("cat /run/mode-controller/hardware-topology.json")
    machine.succeed("mode status >&2")
    machine.succeed("mode current --json >&2")
    machine.fail("systemctl is-active vllm.service")
    machine.fail("systemctl is-active studio-local-policy.service")

    with subtest("studio-local round trip"):
        machine.succeed("mode request studio-local")
        machine.succeed("systemctl is-active studio-local-policy.service audio-priority.service")
        machine.succeed("systemctl show ai.slice -p CPUWeight | grep -qx CPUWeight=10")
        machine.succeed("mode request desktop")
        machine.fail("systemctl is-active studio-local-policy.service")
        machine.succeed("systemctl show ai.slice -p CPUWeight | grep -qx CPUWeight=100")

    with subtest("compute through the controller is honest without a GPU"):
        rc, out = machine.execute("mode request compute --json")
        if rc == 0:
            machine.succeed("systemctl is-active compute.target vllm.service")
        else:
            state = json.loads(machine.succeed("mode current --json || true"))["observed_state"]
            assert state != "compute", f"refused ({rc}) but observed compute: {out}"

    with subtest("compute unit graph with the vLLM stand-in"):
        machine.succeed("mode request desktop || true")
        machine.succeed(
            "printf 'DUBNIUM_VLLM_PROFILE=compute\\nCUDA_VISIBLE_DEVICES=GPU-stand-in\\n"
            "DUBNIUM_TENSOR_PARALLEL_SIZE=1\\n' > /run/mode-controller/vllm-profile.env"
        )
        machine.succeed("systemctl isolate compute.target")
        machine.wait_for_unit("vllm.service")
        machine.fail("systemctl is-active display-manager.service")
        machine.succeed("systemctl is-active dbus.service systemd-logind.service")
        machine.succeed("systemctl show vllm.service -p Slice | grep -qx Slice=ai.slice")

    with subtest("back to desktop"):
        machine.succeed("mode request desktop")
        machine.wait_for_unit("display-manager.service")
        machine.fail("systemctl is-active vllm.service")
        machine.succeed("mode current")
  '';
}
