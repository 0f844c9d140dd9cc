"""The zone and region tag categories: single cardinality, and the same names in the tags,
the CPI's labels, the CSI's topology-categories and the node bindings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import facts
from ..facts import TAG_CATEGORY
from ..view import ResourceView, is_unknown, of_type
from .base import Violation, zone_region_categories

NODE_BINDING = "pulumi-python:dynamic/vsphere:NodeBinding"


def tag_category_single(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """SINGLE cardinality: with two tags of one category on an object the CPI keeps whichever vCenter lists last."""
    if resource.type != TAG_CATEGORY:
        return []
    cardinality = resource.prop("cardinality")
    if is_unknown(cardinality) or str(cardinality).upper() == "SINGLE":
        return []
    return [f"tag category {resource.prop('name')!r} has cardinality {cardinality}; zones and regions need SINGLE"]


def categories_consistent(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """The tag categories, the CPI's labels and the CSI's topology-categories name the same things."""
    out = []
    category_names = {str(c.prop("name")) for c in of_type(resources, TAG_CATEGORY) if isinstance(c.prop("name"), str)}
    cpis, csis = facts.cpi_configs(resources), facts.csi_configs(resources)
    zoned = bool(facts.tags(resources)) or len(category_names) > 0
    cpi_labels: set[str] = set()
    for cpi in cpis:
        region, zone = cpi.labels.get("region"), cpi.labels.get("zone")
        if not (region and zone):
            if zoned:
                out.append(
                    Violation(
                        "vsphere.conf has no labels.region/labels.zone: the CPI will not label zones", cpi.source.urn
                    )
                )
            continue
        cpi_labels = {str(region), str(zone)}
        for kind, name in (("region", region), ("zone", zone)):
            if category_names and name not in category_names:
                out.append(
                    Violation(
                        f"vsphere.conf labels.{kind} is {name!r} but the stack's tag categories are "
                        f"{sorted(category_names)}",
                        cpi.source.urn,
                    )
                )
    # The node binding labels zones the way the CPI does: with other categories the two would fight.
    for binding in of_type(resources, NODE_BINDING):
        cats = (binding.prop("region_category"), binding.prop("zone_category"))
        expected_pair = zone_region_categories(resources, config)
        if all(isinstance(c, str) for c in cats) and cats != (expected_pair.region, expected_pair.zone):
            out.append(
                Violation(
                    f"NodeBinding {binding.name} reads categories {cats[0]!r}/{cats[1]!r}, the CPI "
                    f"{expected_pair.region!r}/{expected_pair.zone!r}",
                    binding.urn,
                )
            )
    for csi in csis:
        topo = set(csi.topology_categories)
        if not topo:
            if zoned:
                out.append(
                    Violation(
                        "csi-vsphere.conf has no [Labels] topology-categories: volumes ignore zones", csi.source.urn
                    )
                )
            continue
        expected = cpi_labels or category_names
        if expected and topo != expected:
            out.append(
                Violation(
                    f"csi-vsphere.conf topology-categories {sorted(topo)} differ from {sorted(expected)} "
                    "(the CPI's labels and the stack's tag categories)",
                    csi.source.urn,
                )
            )
    return out
