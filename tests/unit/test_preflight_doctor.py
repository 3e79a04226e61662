"""`mode doctor` reports the hardware preflight's findings (dubnium.doctor.HardwareProbe,
implemented by the host backend through backends/preflight)."""

from __future__ import annotations

from pathlib import Path

import attrs

from backends.host import HostBackend
from backends.preflight import NvmlReport
from backends.preflight import doctor as preflight_doctor
from dubnium.doctor import HardwareFindings, HardwareProbe, diagnose
from dubnium.facts import ActiveState, HostFacts, UnitFact, Units
from dubnium.policy import default_policy
from simulator.backend import SimBackend
from simulator.harness import Station
from tests.unit.test_preflight import make_host

FINDINGS = HardwareFindings(
    summary=("gpu       card0: nvidia (0x10de)", "result    FAILED: accelerator cpu"),
    problems=("1 MiB free for the model store /m (on /), 2 MiB required",),
    data={"decision": {"ok": False}},
)


class ProbedSim(SimBackend):
    """A simulated host that answers the doctor's hardware probe with FINDINGS."""

    def hardware_findings(self, facts: HostFacts) -> HardwareFindings:
        return FINDINGS


def test_doctor_reports_the_findings_of_a_probe(tmp_path: Path) -> None:
    """The preflight's problems become doctor problems, its text and JSON are shown."""
    st = Station.create(seed=1)
    report = diagnose(ProbedSim(st.world), st.world.policy, st.state, st.audit, tmp_path,
                      simulated=True)
    expected = (
        {"decision": {"ok": False}},
        ["hardware: 1 MiB free for the model store /m (on /), 2 MiB required"],
        True,
    )
    assert expected == (
        report.data["hardware"],
        [p for p in report.data["problems"] if p.startswith("hardware")],
        "\n  gpu       card0: nvidia (0x10de)\n" in report.text,
    )


def test_the_simulator_is_no_probe(tmp_path: Path) -> None:
    """The simulated host has no hardware to probe: no `hardware` in the doctor's data."""
    st = Station.create(seed=1)
    report = diagnose(st.backend, st.world.policy, st.state, st.audit, tmp_path,
                      simulated=True)
    assert (False, False) == (isinstance(st.backend, HardwareProbe), "hardware" in report.data)


def _host(tmp_path: Path) -> tuple[HostBackend, HostFacts]:
    sys_root, proc_root = make_host(tmp_path, cards={"card0": "0x10de"}, nvidia_driver=True)
    policy = attrs.evolve(default_policy(), paths=attrs.evolve(
        default_policy().paths, model_store=str(tmp_path)))
    host = HostBackend(policy, proc_root=proc_root, sys_root=sys_root)
    facts = SimBackend(Station.create(seed=1).world).observe()
    return host, facts


def test_the_host_probes_its_hardware_with_the_preflight(tmp_path: Path) -> None:
    """On an NVIDIA tree the host backend's probe chooses CUDA, as dubnium-preflight does."""
    host, facts = _host(tmp_path)
    found = host.hardware_findings(facts)
    expected = ("cuda", True, (), "result    ok: accelerator cuda")
    assert expected == (found.data["decision"]["accelerator"], found.data["decision"]["ok"],
                        found.problems, found.summary[-1])


def test_the_host_probe_leaves_nvml_alone_in_studio_local(tmp_path: Path) -> None:
    """While studio-local's markers are up the probe does not ask NVML, and says so."""
    host, facts = _host(tmp_path)
    studio = Units((UnitFact(host.policy.units.studio_policy, ActiveState.ACTIVE),))
    found = host.hardware_findings(attrs.evolve(facts, units=studio))
    expected = NvmlReport.unavailable(preflight_doctor.NVML_LEFT_ALONE).to_json()
    assert expected == found.data["found"]["nvml"]
