"""Where zone and region tags go, and which node VMs must keep apart.

Pure: derived from the stack configuration alone, so the components, the
policies and the offline preview all see the same answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..config import StackConfig, Zone
from .nodes import NodePlan

ObjectType = Literal["Datacenter", "ClusterComputeResource", "HostSystem"]


@dataclass(frozen=True, order=True)
class TagTarget:
    """An existing vCenter object, named the way the stack names it."""

    type: ObjectType
    datacenter: str
    name: str  # the datacenter, cluster or host name (a cluster may be a path under the host folder)
    cluster: str | None = None  # a host's cluster, to tell apart equal host names


@dataclass(frozen=True)
class TagPlacement:
    """One tag and the objects that carry it."""

    key: str  # "region-<name>" / "zone-<name>": the resource key
    kind: Literal["region", "zone"]
    tag: str  # the region or zone name, which is also the tag name
    vcenter: str
    targets: tuple[TagTarget, ...]


def zone_targets(zone: Zone) -> tuple[TagTarget, ...]:
    """Where a zone's tag goes: its datacenter, its compute cluster, or each of its hosts."""
    if zone.tag_target == "datacenter":
        return (TagTarget("Datacenter", zone.datacenter, zone.datacenter),)
    if zone.tag_target == "hosts":
        return tuple(
            TagTarget("HostSystem", zone.datacenter, host, zone.compute_cluster) for host in sorted(zone.hosts)
        )
    return (TagTarget("ClusterComputeResource", zone.datacenter, zone.compute_cluster),)


def tag_placements(cfg: StackConfig) -> list[TagPlacement]:
    """Region tags on datacenters, zone tags where each zone says (datacenter, cluster or hosts).

    A datacenter that holds zones of two regions cannot carry either region's tag
    (the CPI would read it for the other region's nodes too), so there the region
    tag moves down onto each zone's own objects. A region whose zones live in
    several vCenters has a tag in each (``region-<name>`` in its own vCenter,
    ``region-<name>-<vcenter>`` in the others).
    """
    zones_by_dc: dict[tuple[str, str], list[Zone]] = defaultdict(list)
    for zone in cfg.topology.zones:
        zones_by_dc[(cfg.zone_vcenter(zone).name, zone.datacenter)].append(zone)
    placements: list[TagPlacement] = []
    for region in cfg.topology.regions:
        home = cfg.region_vcenter(region).name
        in_region = [z for z in cfg.topology.zones if z.region == region.name]
        vcenters = sorted({cfg.zone_vcenter(z).name for z in in_region} | ({home} if not in_region else set()))
        for vcenter in sorted(vcenters, key=lambda v: v != home):  # the home vCenter's first
            targets: set[TagTarget] = set()
            for (vc, dc), zones in zones_by_dc.items():
                if vc != vcenter or not any(z.region == region.name for z in zones):
                    continue
                if all(z.region == region.name for z in zones):
                    targets.add(TagTarget("Datacenter", dc, dc))
                else:
                    for zone in zones:
                        if zone.region == region.name:
                            targets.update(zone_targets(zone))
            key = f"region-{region.name}" if vcenter == home else f"region-{region.name}-{vcenter}"
            placements.append(TagPlacement(key, "region", region.name, vcenter, tuple(sorted(targets))))
    for zone in cfg.topology.zones:
        placements.append(
            TagPlacement(f"zone-{zone.name}", "zone", zone.name, cfg.zone_vcenter(zone).name, zone_targets(zone))
        )
    return placements


@dataclass(frozen=True)
class AntiAffinityGroup:
    """Node VMs of one pool in one compute cluster that must run on different hosts."""

    key: str  # "<pool>-<datacenter>-<cluster>": stable while the pool lives in that cluster
    pool: str
    vcenter: str
    datacenter: str
    compute_cluster: str
    node_keys: tuple[str, ...]
    # The control plane must survive a host failure with quorum: a hard rule.
    # Workers may outnumber hosts: a soft rule DRS honours when it can.
    mandatory: bool


def anti_affinity_groups(cfg: StackConfig, nodes: Iterable[NodePlan]) -> list[AntiAffinityGroup]:
    """One group per pool and compute cluster with at least two VMs (vSphere refuses a rule of one)."""
    grouped: dict[tuple[str, str, str, str], list[NodePlan]] = defaultdict(list)
    for node in nodes:
        zone = cfg.zone(node.zone)
        grouped[(node.pool, node.vcenter, zone.datacenter, zone.compute_cluster)].append(node)
    groups = []
    for (pool, vcenter, dc, cluster), members in grouped.items():
        if len(members) < 2:
            continue
        groups.append(
            AntiAffinityGroup(
                key=f"{pool}-{dc}-{cluster}",
                pool=pool,
                vcenter=vcenter,
                datacenter=dc,
                compute_cluster=cluster,
                node_keys=tuple(sorted(n.key for n in members)),
                mandatory=members[0].is_control_plane,
            )
        )
    return sorted(groups, key=lambda g: g.key)


def initial_host(zone: Zone, ordinal: int) -> str | None:
    """For a host-group zone, the host a node is cloned onto: spread by ordinal, stable as the pool grows."""
    hosts: Sequence[str] = sorted(zone.hosts)
    return hosts[ordinal % len(hosts)] if hosts else None
