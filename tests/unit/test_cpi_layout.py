"""Layouts the stack can express (the zones tutorial's: per cluster, per host group, per datacenter,
a region over several datacenters and vCenters), and the ones where the CPI would label another zone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from offline.program import offline_config
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load
from vsphere_k8s.plan.cpi_layout import zone_verdicts
from vsphere_k8s.plan.placement import TagTarget, tag_placements

Raw = dict[str, Any]


def sim() -> Raw:
    return copy.deepcopy(offline_config("sim"))


def zones_per_datacenter(raw: Raw, *, two_vcenters: bool) -> Raw:
    """sim-a in DC0 and sim-b in DC1, each zone tagged on its datacenter, one region over both
    (with ``two_vcenters`` DC1 lives in a second vCenter)."""
    raw["vcenters"][0]["datacenters"] = ["DC0"] if two_vcenters else ["DC0", "DC1"]
    if two_vcenters:
        raw["vcenters"].append({**raw["vcenters"][0], "name": "sim2", "server": "127.0.0.2", "datacenters": ["DC1"]})
        raw["credentials"]["sim2"] = copy.deepcopy(raw["credentials"]["sim"])
    zones = raw["topology"]["zones"]
    zones[0]["tagOn"] = "datacenter"
    zones[1].update(datacenter="DC1", computeCluster="DC1_C0", tagOn="datacenter")
    if two_vcenters:
        zones[1]["vcenter"] = "sim2"
        zones[0]["vcenter"] = zones[2]["vcenter"] = "sim"
    del zones[2]
    for pool in [raw["nodePools"]["controlPlane"], *raw["nodePools"].get("workers", [])]:
        pool["replicas"] = {z: n for z, n in pool["replicas"].items() if z in ("sim-a", "sim-b")}
    raw["nodePools"]["controlPlane"]["replicas"] = {"sim-a": 2, "sim-b": 1}
    return raw


def test_the_sim_stack_gets_exactly_the_zones_it_intends() -> None:
    cfg = load(sim(), stack="sim")
    verdicts = list(zone_verdicts(cfg))
    assert [v.zone for v in verdicts] == [z.name for z in cfg.topology.zones]
    assert all(v.problem == "" for v in verdicts), verdicts


@pytest.mark.parametrize("two_vcenters", [False, True])
def test_a_zone_per_datacenter_in_one_region(two_vcenters: bool) -> None:
    cfg = load(zones_per_datacenter(sim(), two_vcenters=two_vcenters), stack="sim")
    placements = {p.key: p for p in tag_placements(cfg)}
    assert placements["zone-sim-a"].targets == (TagTarget("Datacenter", "DC0", "DC0"),)
    assert placements["zone-sim-b"].targets == (TagTarget("Datacenter", "DC1", "DC1"),)
    region = [p for p in placements.values() if p.kind == "region"]
    if two_vcenters:
        # One region over two vCenters: a region tag in each, on each one's datacenter.
        assert sorted((p.key, p.vcenter, p.targets) for p in region) == [
            ("region-sim-region", "sim", (TagTarget("Datacenter", "DC0", "DC0"),)),
            ("region-sim-region-sim2", "sim2", (TagTarget("Datacenter", "DC1", "DC1"),)),
        ]
    else:
        assert [p.targets for p in region] == [
            (TagTarget("Datacenter", "DC0", "DC0"), TagTarget("Datacenter", "DC1", "DC1"))
        ]
    assert all(v.problem == "" for v in zone_verdicts(cfg))


def test_a_host_group_zone_tags_each_host() -> None:
    raw = sim()
    raw["topology"]["zones"][0].update(hosts=["DC0_C0_H0", "DC0_C0_H1"])
    cfg = load(raw, stack="sim")
    zone_a = next(p for p in tag_placements(cfg) if p.key == "zone-sim-a")
    assert [t.type for t in zone_a.targets] == ["HostSystem", "HostSystem"]
    assert all(v.problem == "" for v in zone_verdicts(cfg))


def test_a_datacenter_zone_above_another_zone_s_cluster_is_refused_before_anything_is_made() -> None:
    # sim-a tagged on DC0 while sim-b sits in DC0_C1: for sim-b's nodes the CPI meets sim-b on the
    # cluster, then sim-a and the region on DC0, and keeps whichever vCenter lists last.
    raw = sim()
    raw["topology"]["zones"][0]["tagOn"] = "datacenter"
    with pytest.raises(ConfigError) as caught:
        load(raw, stack="sim")
    problems = [str(i) for i in caught.value.issues]
    assert any(
        p.startswith("topology.zones[sim-b].tagOn:")
        and "depend on the order vCenter lists the tags on Datacenter DC0" in p
        for p in problems
    ), problems


def test_two_zones_tagged_on_one_datacenter_are_refused() -> None:
    raw = sim()
    for zone in raw["topology"]["zones"][:2]:
        zone["tagOn"] = "datacenter"
    with pytest.raises(ConfigError) as caught:
        load(raw, stack="sim")
    assert any("topology.zones[sim-a].tagOn:" in str(i) for i in caught.value.issues)


def test_tag_on_hosts_needs_the_hosts() -> None:
    raw = sim()
    raw["topology"]["zones"][0]["tagOn"] = "hosts"
    with pytest.raises(ConfigError, match=r"tagOn: hosts needs the zone's hosts listed"):
        load(raw, stack="sim")
