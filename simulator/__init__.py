"""The simulated host: a deterministic NixOS workstation in one process.

`simulator.world.World` is the one world API that the Gherkin steps, the hypothesis state
machine, the fault campaigns and `mode-sim` drive; `simulator.backend.SimBackend` exposes it
to the controller through `dubnium.backend.Backend`; `simulator.persist.WorldFile` keeps it
on disk between `mode` invocations. See docs/simulator.md.
"""
