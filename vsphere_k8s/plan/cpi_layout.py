"""What the CPI would label each zone's nodes, given the tags this stack places.

Pure: the stack's own tag placements (``tag_placements``) laid on a model of the
inventory the CPI walks from a node's host (host, cluster, datacenter, root
folder), then the CPI's own lookup (``lookup_zone_by_moref``). A layout where
the CPI would answer another zone or region than the stack intends, or where its
answer depends on the order vCenter lists tags, is found before anything is made.
Tags an administrator keeps elsewhere are not known here; NodeBinding reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from ..config import StackConfig, Zone
from ..topology import Tag, TopologyError, lookup_zone_by_moref
from .placement import TagTarget, tag_placements

# An object of the modelled inventory: (vCenter, type, datacenter, cluster, name).
Obj = tuple[str, str, str, str, str]
ANY_HOST = "(any host)"


@dataclass(frozen=True)
class ZoneVerdict:
    zone: str
    host: str  # the host the walk started from (a host-group zone has one verdict per host)
    problem: str  # empty when the CPI would label exactly the zone and region the stack intends


def _obj(vcenter: str, target: TagTarget) -> Obj:
    if target.type == "Datacenter":
        return (vcenter, "Datacenter", target.datacenter, "", target.name)
    if target.type == "ClusterComputeResource":
        return (vcenter, "ClusterComputeResource", target.datacenter, target.name, target.name)
    return (vcenter, "HostSystem", target.datacenter, target.cluster or "", target.name)


def _chain(vcenter: str, zone: Zone, host: str) -> list[Obj]:
    dc, cluster = zone.datacenter, zone.compute_cluster
    return [
        (vcenter, "HostSystem", dc, cluster, host),
        (vcenter, "ClusterComputeResource", dc, cluster, cluster),
        (vcenter, "Datacenter", dc, "", dc),
        (vcenter, "Folder", "", "", "root"),
    ]


def zone_verdicts(cfg: StackConfig) -> Iterator[ZoneVerdict]:
    topo = cfg.topology
    attached: dict[Obj, set[Tag]] = defaultdict(set)
    for placement in tag_placements(cfg):
        category = topo.zone_category if placement.kind == "zone" else topo.region_category
        for target in placement.targets:
            attached[_obj(placement.vcenter, target)].add(Tag(category, placement.tag))
    for zone in topo.zones:
        vcenter = cfg.zone_vcenter(zone).name
        for host in sorted(zone.hosts) or [ANY_HOST]:
            chain = _chain(vcenter, zone, host)
            describe = {o: f"{o[1]} {o[4]}" for o in chain}
            subject = f"zone {zone.name}'s nodes" + (f" on host {host}" if host != ANY_HOST else "")
            try:
                placed = lookup_zone_by_moref(
                    chain,
                    attached,
                    zone_category=topo.zone_category,
                    region_category=topo.region_category,
                    subject=subject,
                    describe=describe,
                )
            except TopologyError as e:
                yield ZoneVerdict(zone.name, host, str(e))
                continue
            if (placed.zone, placed.region) != (zone.name, zone.region):
                yield ZoneVerdict(
                    zone.name,
                    host,
                    f"{subject}: the CPI would label zone {placed.zone!r} (tag on {placed.zone_from}) and region "
                    f"{placed.region!r} (tag on {placed.region_from}), not zone {zone.name!r} region {zone.region!r}",
                )
            else:
                yield ZoneVerdict(zone.name, host, "")
