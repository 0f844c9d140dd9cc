"""NodeBinding against the real vSphere CPI: the same providerID, zone and region, or both fail.

Layouts come from hypothesis: region tags on the root folder, datacenters, clusters
or hosts; zone tags on datacenters, clusters, hosts, resource pools, VM folders or
the VMs; missing tags; decoy tags of the topology categories and of another one
anywhere; systemUUIDs byte-swapped and plain; one vCenter or two; datacenters left
out of the CPI's list. For each layout the real CPI initialises every node it can
and NodeBinding runs beside it in ``verify`` mode (its provider code, its own
vCenter reads): where the CPI labelled a node, verify must pass; where the CPI
could not, the binding must fail too. Where the CPI's answer depends on the order
vCenter lists tags, the binding refuses, and the CPI's pick must be one of the
answers the refusal names.

``VK8S_PARITY_EXAMPLES`` sets the layouts per vCenter configuration (default 5).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from offline.program import offline_config
from providers.node_binding.provider import NodeBindingProvider
from providers.vcenter.tagging import ObjectRef
from tests.support.world.parity import (
    DECOY_CATEGORY,
    DECOYS,
    REGION_CATEGORY,
    REGIONS,
    ZONE_CATEGORY,
    ZONES,
    NodeCase,
    Outcome,
    ParityWorld,
    Site,
    cpi_answer,
    new_run,
    relocate,
)
from toolchain.manifest import REPO_ROOT
from vsphere_k8s.loader import load
from vsphere_k8s.plan.placement import tag_placements
from vsphere_k8s.topology import Tag
from vsphere_k8s.topology.labels import REGION, ZONE

EXAMPLES = int(os.environ.get("VK8S_PARITY_EXAMPLES", "5"))
CONFIGS = {
    "one vCenter, both datacenters": (("a", ("DC0", "DC1")),),
    "one vCenter, DC0 only": (("a", ("DC0",)),),
    "two vCenters": (("a", ("DC0", "DC1")), ("b", ("DC0",))),
}
OUTCOMES: list[tuple[str, Outcome]] = []
LAYOUTS: dict[str, dict[str, list[str]]] = {}  # layout id -> "site type name" -> tags, for the report


@pytest.fixture(scope="module")
def parity() -> Iterator[ParityWorld]:
    workdir = REPO_ROOT / "build" / "e2e-parity" / time.strftime("%Y%m%d-%H%M%S")
    world = ParityWorld(workdir).start()
    try:
        yield world
    finally:
        errors = world.stop()
        summary = Counter(o.verdict for _, o in OUTCOMES)
        different = [(layout, o.node, o.cpi, o.binding) for layout, o in OUTCOMES if o.verdict == "DIFFERENT"]
        report = {
            "layouts": len({layout for layout, _ in OUTCOMES}),
            "nodes": len(OUTCOMES),
            "verdicts": dict(summary),
            "different": different,
            "layouts_with_differences": {d[0]: LAYOUTS[d[0]] for d in different},
        }
        out = REPO_ROOT / "build" / "e2e-parity" / "summary.json"
        out.write_text(json.dumps(report, indent=2))
        print(f"\nCPI parity: {json.dumps(report)}")
        if not errors and not different and not os.environ.get("VK8S_KEEP_E2E"):
            shutil.rmtree(workdir, ignore_errors=True)


def _kinds(site: Site) -> dict[str, list[ObjectRef]]:
    inv = site.inventory
    refs = site.taggable()
    vm_folders = {r for v in inv.vms.values() for r in inv.chain(v.ref)[1:] if r.type == "Folder"}
    return {
        "root": [r for r in refs if r.type == "Folder" and r not in inv.objects],
        "datacenter": [r for r in refs if r.type == "Datacenter"],
        "cluster": [r for r in refs if r.type == "ClusterComputeResource"],
        "host": [r for r in refs if r.type == "HostSystem"],
        "pool": [r for r in refs if r.type in ("ResourcePool", "VirtualApp")],
        "folder": sorted(vm_folders & set(inv.objects), key=str),
        "vm": [v.ref for v in site.vms()],
    }


ALL_TAGS = [
    *(Tag(ZONE_CATEGORY, z) for z in ZONES),
    *(Tag(REGION_CATEGORY, r) for r in REGIONS),
    *(Tag(DECOY_CATEGORY, d) for d in DECOYS),
]


def draw_layout(data: st.DataObject, site: Site) -> dict[ObjectRef, list[Tag]]:
    """A plausible layout (a level for regions, a level for zones, a few gaps) plus decoys anywhere."""
    kinds = _kinds(site)
    layout: dict[ObjectRef, list[Tag]] = {}
    region_level = data.draw(st.sampled_from(["root", "datacenter", "cluster", "host"]), label="region on")
    zone_level = data.draw(st.sampled_from(["datacenter", "cluster", "host", "pool", "folder", "vm"]), label="zone on")
    for level, category, names in ((region_level, REGION_CATEGORY, REGIONS), (zone_level, ZONE_CATEGORY, ZONES)):
        for ref in kinds[level]:
            if data.draw(st.integers(0, 7), label="gap") == 0:
                continue  # a missing tag
            layout.setdefault(ref, []).append(Tag(category, data.draw(st.sampled_from(names))))
    everything = [r for refs in kinds.values() for r in refs]
    for ref, tag in data.draw(st.lists(st.tuples(st.sampled_from(everything), st.sampled_from(ALL_TAGS)), max_size=3)):
        if tag not in layout.setdefault(ref, []):
            layout[ref].append(tag)
    return layout


def draw_cases(data: st.DataObject, world: ParityWorld, sites: list[str]) -> list[NodeCase]:
    cases = []
    for key in sites:
        site = world.sites[key]
        for vm in site.vms():
            cases.append(NodeCase(key, vm.name, site.node_name(vm), data.draw(st.booleans()), data.draw(st.booleans())))
    return cases


@pytest.mark.parametrize("config", list(CONFIGS))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("VK8S_PARITY_RANDOM"),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is seconds of real processes
)
@given(data=st.data())
def test_the_binding_and_the_real_cpi_agree(parity: ParityWorld, config: str, data: st.DataObject) -> None:
    vcenters = CONFIGS[config]
    sites = [key for key, _ in vcenters]
    parity.clear_nodes()
    layouts = {key: draw_layout(data, parity.sites[key]) for key in sites}
    parity.apply_layout(layouts)
    parity.run_cpi(vcenters)
    cases = draw_cases(data, parity, sites)
    outcomes = parity.compare(cases, dict(vcenters))
    layout_id = f"{config}#{len({lay for lay in LAYOUTS if lay.startswith(config)})}"
    LAYOUTS[layout_id] = {
        f"{key} {ref.type} {parity.sites[key].inventory.name_of(ref)} ({ref.id})": [
            f"{t.category}={t.name}" for t in tags
        ]
        for key, layout in layouts.items()
        for ref, tags in layout.items()
        if tags
    }
    OUTCOMES.extend((layout_id, o) for o in outcomes)
    different = [o for o in outcomes if o.verdict == "DIFFERENT"]
    assert not different, "\n".join(f"{o.node}: CPI {o.cpi}, binding {o.binding}" for o in different)


def node_labels(node: Any) -> dict[str, str]:
    return dict(node.metadata.labels or {})


def test_enforce_before_the_cpi_gives_labels_the_cpi_keeps(parity: ParityWorld) -> None:
    """The binding labels first (enforce); the CPI then initialises the same nodes and rewrites nothing."""
    site = parity.sites["a"]
    kinds = _kinds(site)
    layout = {ref: [Tag(ZONE_CATEGORY, ZONES[i % 2])] for i, ref in enumerate(kinds["cluster"])}
    for ref in kinds["datacenter"]:
        layout[ref] = [Tag(REGION_CATEGORY, REGIONS[0])]
    parity.stop_cpi()
    parity.clear_nodes()
    parity.apply_layout({"a": layout})
    new_run()
    cases = [NodeCase("a", vm.name, site.node_name(vm), True, True) for vm in site.vms()]
    parity.register(cases)
    written = {}
    for case in cases:
        props = {**parity.binding_props(case, ("DC0", "DC1"), 30), "mode": "enforce"}
        outs = NodeBindingProvider().create(props).outs
        assert outs is not None
        written[case.node] = (outs["provider_id"], outs["zone"], outs["region"])
    api = parity.core()
    before = {c.node: node_labels(api.read_node(c.node)) for c in cases}
    parity.run_cpi((("a", ("DC0", "DC1")),))
    parity.wait_initialised([c.node for c in cases], 60.0)
    for case in cases:
        node = api.read_node(case.node)
        assert cpi_answer(node) == written[case.node], f"{case.node}: the CPI changed what the binding wrote"
        labels = node_labels(node)
        assert {k: labels.get(k) for k in before[case.node]} == before[case.node], case.node


def test_after_a_vmotion_the_drift_names_what_the_cpi_computes_now(parity: ParityWorld) -> None:
    site = parity.sites["a"]
    kinds = _kinds(site)
    clusters = kinds["cluster"][:2]
    layout = {clusters[0]: [Tag(ZONE_CATEGORY, "z1")], clusters[1]: [Tag(ZONE_CATEGORY, "z2")]}
    for ref in kinds["datacenter"]:
        layout[ref] = [Tag(REGION_CATEGORY, "r1")]
    parity.clear_nodes()
    parity.apply_layout({"a": layout})
    parity.run_cpi((("a", ("DC0", "DC1")),))
    inv = site.inventory
    vm = next(v for v in site.vms() if v.host is not None and clusters[0] in inv.chain(v.host))
    case = NodeCase("a", vm.name, site.node_name(vm), True, True)
    [first] = parity.compare([case], {"a": ("DC0", "DC1")})
    assert first.verdict == "same" and first.cpi is not None and first.cpi[1] == "z1", first
    state = NodeBindingProvider().create(parity.binding_props(case, ("DC0", "DC1"), 30)).outs
    assert state is not None
    other_host = next(h for h in kinds["host"] if clusters[1] in inv.chain(h))
    relocate(site, vm.name, other_host)
    new_run()
    read = NodeBindingProvider().read(f"x/{case.node}", dict(state))
    assert read.outs is not None
    drift = read.outs["drift"]
    # The CPI labels a node once; a fresh registration of the same VM shows what it computes now.
    parity.clear_nodes()
    parity.register([case])
    parity.wait_initialised([case.node], 60.0)
    now = cpi_answer(parity.core().read_node(case.node))
    assert now is not None and now[1] == "z2", now
    assert f"node {case.node}: label {ZONE} is 'z1', want {now[1]!r}" in drift, drift
    assert f"node {case.node}: label {REGION} is" not in " ".join(drift), drift  # region unchanged
    assert any("moved from zone 'z1' to 'z2'" in d for d in drift), drift


def _stack_layout(parity: ParityWorld, zones: list[dict[str, Any]], regions: list[str]) -> dict[str, Any]:
    """The tags a stack with these zones places (its own tag_placements), resolved on the simulators."""
    raw = copy.deepcopy(offline_config("sim"))
    raw["vcenters"] = [
        {"name": "a", "server": "a.invalid", "datacenters": ["DC0", "DC1"], "tls": {"insecure": True}},
        {"name": "b", "server": "b.invalid", "datacenters": ["DC0"], "tls": {"insecure": True}},
    ]
    raw["credentials"] = {k: copy.deepcopy(raw["credentials"]["sim"]) for k in ("a", "b")}
    network = raw["topology"]["zones"][0]["network"]
    raw["topology"]["regions"] = [{"name": r, "vcenter": "a"} for r in regions]
    raw["topology"]["zones"] = [{"datastore": "LocalDS_0", "network": {"name": network["name"]}, **z} for z in zones]
    raw["kubernetes"] = {
        **{k: v for k, v in raw["kubernetes"].items() if k != "controlPlaneEndpoint"},
        "mode": "existing",
        "kubeconfig": parity.kubeconfig_text(),
    }
    raw["nodePools"]["controlPlane"]["replicas"] = {zones[0]["name"]: 1}
    raw["nodePools"]["workers"] = []
    cfg = load(raw, stack="parity")
    layout: dict[str, dict[ObjectRef, list[Tag]]] = {"a": {}, "b": {}}
    for placement in tag_placements(cfg):
        site = parity.sites[placement.vcenter]
        category = ZONE_CATEGORY if placement.kind == "zone" else REGION_CATEGORY
        for target in placement.targets:
            ref = _resolve(site, target.type, target.datacenter, target.name)
            layout[placement.vcenter].setdefault(ref, []).append(Tag(category, placement.tag))
    return {"cfg": cfg, "layout": layout}


def _resolve(site: Site, kind: str, datacenter: str, name: str) -> ObjectRef:
    inv = site.inventory
    for ref, obj in inv.objects.items():
        dc = inv.datacenter_of(ref)
        if ref.type == kind and obj.name == name and dc is not None and dc.name == datacenter:
            return ref
    raise LookupError(f"{kind} {name} in {datacenter} not in simulator {site.key}")


STACK_LAYOUTS = {
    "zones on clusters, region on the datacenter": (
        [{"name": "z1", "region": "r1", "datacenter": "DC0", "computeCluster": "DC0_C0"},
         {"name": "z2", "region": "r1", "datacenter": "DC0", "computeCluster": "DC0_C1"}],
        ["r1"],
    ),
    "host-group zones, two regions in one datacenter": (
        [{"name": "z1", "region": "r1", "datacenter": "DC0", "computeCluster": "DC0_C0",
          "hosts": ["DC0_C0_H0", "DC0_C0_H1"]},
         {"name": "z2", "region": "r2", "datacenter": "DC0", "computeCluster": "DC0_C1",
          "hosts": ["DC0_C1_H0", "DC0_C1_H1"]}],
        ["r1", "r2"],
    ),
    "a zone per datacenter, one region over two datacenters and two vCenters": (
        [{"name": "z1", "region": "r1", "datacenter": "DC0", "computeCluster": "DC0_C0", "tagOn": "datacenter"},
         {"name": "z2", "region": "r1", "datacenter": "DC1", "computeCluster": "DC1_C0", "tagOn": "datacenter"},
         {"name": "z3", "region": "r1", "vcenter": "b", "datacenter": "DC0", "computeCluster": "DC0_C0",
          "tagOn": "datacenter"}],
        ["r1"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(STACK_LAYOUTS))
def test_layouts_the_stack_expresses_label_what_it_intends(parity: ParityWorld, name: str) -> None:
    zones, regions = STACK_LAYOUTS[name]
    assert isinstance(zones, list) and isinstance(regions, list)
    built = _stack_layout(parity, zones, regions)
    cfg, layout = built["cfg"], built["layout"]
    parity.clear_nodes()
    parity.apply_layout(layout)
    parity.run_cpi(CONFIGS["two vCenters"])
    cases, intended = [], {}
    for key in ("a", "b"):
        site = parity.sites[key]
        inv = site.inventory
        for vm in site.vms():
            assert vm.host is not None
            host, cluster = inv.name_of(vm.host), inv.name_of(inv.chain(vm.host)[1])
            dc = inv.datacenter_of(vm.ref)
            for z in cfg.topology.zones:
                if (
                    cfg.zone_vcenter(z).name == key
                    and dc is not None
                    and z.datacenter == dc.name
                    and z.compute_cluster == cluster
                    and (not z.hosts or host in z.hosts)
                ):
                    node = site.node_name(vm)
                    cases.append(NodeCase(key, vm.name, node, True, True))
                    intended[node] = (z.name, z.region)
    assert len({z for z, _ in intended.values()}) == len(cfg.topology.zones), intended  # every zone has a node
    outcomes = parity.compare(cases, dict(CONFIGS["two vCenters"]))
    OUTCOMES.extend((f"stack: {name}", o) for o in outcomes)
    for o in outcomes:
        assert o.verdict == "same", (o.node, o.cpi, o.binding)
        assert o.cpi is not None and o.cpi[1:] == intended[o.node], (o.node, o.cpi, intended[o.node])
