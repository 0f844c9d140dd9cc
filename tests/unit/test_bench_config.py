"""The benchmarks' scale configuration (pure), and a smoke run of the benchmark functions at a small size.

Timings are never asserted here: only that the figures are there and mean what they say.
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.program_cost import ProgramFigures
from benchmarks.report import growth_exponent, program_table, table, verdicts
from benchmarks.scale_config import REGIONS, ZONES_PER_REGION, scale_config, worker_replicas, zones
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import plan_nodes


@pytest.mark.parametrize("nodes", [3, 4, 10, 12, 100, 1000])
def test_scale_config_loads_with_exactly_n_nodes(nodes: int) -> None:
    cfg = load(scale_config(nodes), stack="bench")
    planned = plan_nodes(cfg)
    assert len(planned) == nodes
    assert len(cfg.topology.regions) == REGIONS
    assert len(cfg.topology.zones) == REGIONS * ZONES_PER_REGION
    assert sum(n.is_control_plane for n in planned) == 3
    # The control plane spans the three regions.
    assert {n.region for n in planned if n.is_control_plane} == {r.name for r in cfg.topology.regions}


def test_workers_spread_evenly_over_all_zones() -> None:
    cfg = load(scale_config(1000), stack="bench")
    per_zone = Counter(n.zone for n in plan_nodes(cfg) if not n.is_control_plane)
    assert set(per_zone) == {z.name for z in cfg.topology.zones}
    assert max(per_zone.values()) - min(per_zone.values()) <= 1
    assert sum(worker_replicas(10).values()) == 7
    assert all(count > 0 for count in worker_replicas(10).values())


def test_static_addresses_are_unique_and_names_stable() -> None:
    small = plan_nodes(load(scale_config(100), stack="bench"))
    large = plan_nodes(load(scale_config(1000), stack="bench"))
    ips = [n.ip for n in large]
    assert None not in ips and len(set(ips)) == len(ips)
    # Growing the cluster keeps every existing node's name and address (no replacement).
    before = {n.key: (n.name, n.ip) for n in small}
    after = {n.key: (n.name, n.ip) for n in large}
    assert all(after[key] == value for key, value in before.items() if key in after)
    assert len(before.keys() & after.keys()) >= 90


def test_zone_layout_matches_the_simulator_names() -> None:
    rows = zones()
    assert rows[0] == ("r0-z0", "r0", "DC0", "DC0_C0")
    assert rows[-1] == ("r2-z2", "r2", "DC2", "DC2_C2")
    assert len({zone for zone, *_ in rows}) == 9


def test_too_few_or_too_many_nodes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        scale_config(2)
    with pytest.raises(ValueError, match="more than 500"):
        scale_config(3 + 9 * 501)


def test_generated_config_is_checked_by_the_real_loader() -> None:
    raw = scale_config(10)
    raw["kubernetes"]["controlPlaneEndpoint"] = "10.99.0.10"  # outside every zone's network
    with pytest.raises(ConfigError, match="controlPlaneEndpoint"):
        load(raw, stack="bench")


def test_growth_exponent_and_tables() -> None:
    assert growth_exponent(100, 1.0, 1000, 10.0) == pytest.approx(1.0)
    assert growth_exponent(100, 1.0, 1000, 100.0) == pytest.approx(2.0)
    text = table(["a", "bb"], [[1, 2.5], [10, 0.25]])
    assert text.splitlines()[1] == "--  -----"
    assert text.splitlines()[2] == " 1  2.500"
    figures = [
        ProgramFigures(10, 100, 90, 10, 1.0, 0.9, 100.0, 110.0),
        ProgramFigures(1000, 10000, 9990, 10, 110.0, 100.0, 100.0, 400.0),
    ]
    rendered = program_table(figures)
    assert "1.10x" in rendered and "+10%" in rendered
    lines = verdicts(figures, [])
    assert any(line.startswith("  [met] program adds <= 15%") for line in lines)
    assert any("[met] program grows linearly" in line for line in lines)


def test_sdk_figure_registers_the_same_vms_both_ways_and_reports_its_share() -> None:
    from benchmarks.report import sdk_lines
    from benchmarks.sdk_cost import SdkFigures, measure

    figures = measure(5)  # raises unless each way registered exactly 5 VMs
    assert figures.vms == 5 and figures.typed_seconds > 0 and figures.bare_seconds > 0
    text = sdk_lines(SdkFigures(1000, 4.5, 1.5), [ProgramFigures(1000, 2090, 2000, 90, 13.0, 5.0, 100.0, 500.0)])
    assert "4.50 ms each" in text and "1.50 ms each (+3.0 s)" in text
    assert "38% of the program's 8.0 s over the floor at 1000 nodes" in text


def test_program_benchmark_smoke() -> None:
    """The real program and its floor at 10 nodes, in fresh interpreters, with sane figures."""
    from benchmarks.program_cost import measure

    figures = measure(10)
    assert figures.nodes == 10
    # At least a VM per node, plus the fixed resources (tags, PKI, manifests...).
    assert figures.custom > 10 and figures.components >= 3
    assert figures.registrations == figures.custom + figures.components
    assert figures.program_seconds > 0 and figures.floor_seconds > 0
    assert figures.peak_rss_mib >= figures.baseline_rss_mib > 0


def test_floor_registers_the_same_resources_bare() -> None:
    from benchmarks.program_cost import replays, run_floor_once, run_program_once

    _, recording = run_program_once(10)
    items = replays(recording)
    _, floor = run_floor_once(items)
    program_shape = Counter((r.type, r.name, r.custom) for r in recording.registrations.values())
    floor_shape = Counter((r.type, r.name, r.custom) for r in floor.registrations.values())
    assert floor_shape == program_shape
    # The floor's resources carry the program's inputs, and its children the same parents.
    vm = next(r for r in floor.registrations.values() if r.type.endswith("VirtualMachine"))
    original = recording.registrations[vm.urn]
    assert vm.inputs == original.inputs and vm.parent == original.parent
    assert vm.secret_inputs == original.secret_inputs
    assert not vm.dependencies, "the floor has no dependencies: its inputs are already resolved"


@pytest.mark.live
def test_reconcile_benchmark_smoke() -> None:
    """Both reconcile patterns at 3 nodes on a fresh vcsim: same answers, counted round trips, a write-free rerun."""
    from benchmarks.reconcile_cost import run

    (figures,) = run((3,))
    per_node, batched, second = figures.per_node, figures.batched, figures.second
    assert per_node.nodes == batched.nodes == 3
    # The CPI pattern: FindByUuid + host + ancestors per node, and tag reads per ancestor.
    assert per_node.soap_methods.get("FindByUuid") == 3
    assert per_node.rest_calls >= 3 * 4
    # ...with a tagging session per lookup (the CPI's withTagsClient), and nodes from one LIST.
    assert per_node.logins == 1 + 3
    assert (per_node.kube_reads, per_node.kube_writes) == (1, 3)
    # The provider: one inventory read (view, retrieve, destroy) whatever N.
    assert batched.soap_methods.get("RetrievePropertiesEx") == 1 and "FindByUuid" not in batched.soap_methods
    assert batched.kube_writes == 3 and batched.vcenter_writes == 0
    assert batched.kube_reads == 1 and second.kube_reads == 1  # one node LIST per run, no GET per node
    assert second.kube_writes == 0 and second.vcenter_writes == 0
    assert second.round_trips == batched.round_trips
    assert batched.logins <= 2 and second.logins <= 2
