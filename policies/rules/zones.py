"""Zones: each node VM in one zone and region; the control plane's quorum spread over zones and hosts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from vsphere_k8s.facts import CONTROL_PLANE_SIZES, CONTROL_PLANE_SIZES_SAID

from .. import facts
from ..facts import ANTI_AFFINITY
from ..view import ResourceView, is_true, is_unknown, of_type, referenced
from .base import Violation, zone_region_categories


def vm_single_zone_and_region(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """Each node VM carries exactly one zone tag and one region tag."""
    cats = zone_region_categories(resources, config)
    out = []
    for place in facts.vm_placements(resources, cats):
        if not place.resolved:
            continue  # tags this stack does not manage: vCenter answers for them, not the program
        for kind, found, category in (("zone", place.zones, cats.zone), ("region", place.regions, cats.region)):
            if len(found) != 1:
                listed = ", ".join(found) or "none"
                out.append(
                    Violation(
                        f"node VM {place.vm.name} has {len(found)} {kind} tags of category {category!r} ({listed}); "
                        "with two the CPI's answer would depend on the order vCenter lists them",
                        place.vm.urn,
                    )
                )
    return out


def control_plane_quorum_spread(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """``CONTROL_PLANE_SIZES`` control-plane VMs, over as many zones as exist, apart from each other on hosts."""
    cats = zone_region_categories(resources, config)
    placements = [p for p in facts.vm_placements(resources, cats) if facts.node_role(p.vm) == "control-plane"]
    if not placements:
        return []
    out = []
    count = len(placements)
    if count not in CONTROL_PLANE_SIZES:
        out.append(Violation(f"the control plane has {count} nodes; etcd needs {CONTROL_PLANE_SIZES_SAID}"))
    if count == 1:
        return out
    if all(p.resolved for p in placements):
        zones = facts.tag_names_in(resources, cats.zone)
        used = Counter(p.zones[0] for p in placements if len(p.zones) == 1)
        wanted = min(count, len(zones)) if zones else len(used)
        if len(used) < wanted:
            spread = ", ".join(f"{z}: {n}" for z, n in sorted(used.items()))
            out.append(
                Violation(
                    f"the {count} control-plane nodes use {len(used)} of {len(zones)} zones ({spread}); "
                    f"spread them over {wanted} zones so one zone's loss keeps quorum"
                )
            )
        largest = max(used.values(), default=0)
        if len(used) > 1 and largest > count // 2:
            out.append(Violation(f"one zone holds {largest} of {count} control-plane nodes: losing it loses quorum"))
    # VMs that share a compute cluster (a zone, or zones made of hosts of one cluster) may share a host:
    # a mandatory anti-affinity rule must keep them apart.
    vms = [p.vm for p in placements]
    together: dict[str, set[str]] = defaultdict(set)
    for rule in of_type(resources, ANTI_AFFINITY):
        if not is_true(rule.prop("mandatory")) and not is_unknown(rule.prop("mandatory")):
            continue
        members = {vm.urn for vm in referenced(rule, "virtualMachineIds", vms)}
        for urn in members:
            together[urn] |= members
    clusters = facts.zone_compute_clusters(resources, cats)
    by_place: dict[str, list[ResourceView]] = defaultdict(list)
    for p in placements:
        zone = p.zones[0] if len(p.zones) == 1 else "(no zone)"
        by_place[f"compute cluster {clusters[zone]}" if zone in clusters else f"zone {zone}"].append(p.vm)
    for place, place_vms in sorted(by_place.items()):
        for i, a in enumerate(place_vms):
            for b in place_vms[i + 1 :]:
                if b.urn not in together[a.urn]:
                    out.append(
                        Violation(
                            f"control-plane VMs {a.name} and {b.name} share {place} but no mandatory "
                            "VM anti-affinity rule keeps them on different hosts",
                            a.urn,
                        )
                    )
    return out
