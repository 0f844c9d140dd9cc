"""StorageClasses: topologies that name labels the CSI sets and zones that exist; one default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import facts
from ..facts import STORAGE_CLASS
from ..view import ResourceView, contains_unknown, is_true, of_type
from .base import Violation, zone_region_categories

_CSI_TOPOLOGY_KEY = "topology.csi.vmware.com/"
_K8S_ZONE_KEY = "topology.kubernetes.io/zone"
_K8S_REGION_KEY = "topology.kubernetes.io/region"


def storage_class_topologies(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """allowedTopologies use labels the CSI sets and name zones and regions that exist."""
    cats = zone_region_categories(resources, config)
    known = {
        cats.zone: facts.tag_names_in(resources, cats.zone),
        cats.region: facts.tag_names_in(resources, cats.region),
    }
    extra_zones = config.get("zones") or []  # zones whose tags exist outside this stack
    known[cats.zone] |= {str(z) for z in extra_zones}
    csi_categories = {c for csi in facts.csi_configs(resources) for c in csi.topology_categories}
    out = []
    for sc in of_type(resources, STORAGE_CLASS):
        topologies = sc.prop("allowedTopologies")
        if not isinstance(topologies, list) or contains_unknown(topologies):
            continue
        name = sc.prop("metadata", "name") or sc.name
        for term in topologies:
            for expr in (term or {}).get("matchLabelExpressions") or []:
                key, values = str(expr.get("key")), [str(v) for v in expr.get("values") or []]
                if key.startswith(_CSI_TOPOLOGY_KEY):
                    category = key.removeprefix(_CSI_TOPOLOGY_KEY)
                    if csi_categories and category not in csi_categories:
                        out.append(
                            Violation(
                                f"StorageClass {name} selects {key} but the CSI labels nodes only with "
                                f"{sorted(csi_categories)}",
                                sc.urn,
                            )
                        )
                        continue
                elif key == _K8S_ZONE_KEY:
                    category = cats.zone
                elif key == _K8S_REGION_KEY:
                    category = cats.region
                else:
                    out.append(Violation(f"StorageClass {name} selects unknown topology key {key}", sc.urn))
                    continue
                existing = known.get(category) or set()
                missing = [v for v in values if v not in existing]
                if existing and missing:
                    out.append(
                        Violation(
                            f"StorageClass {name} allows {key} in {missing}, which no {category} tag names "
                            f"(known: {sorted(existing)}); its volumes could never be placed",
                            sc.urn,
                        )
                    )
    return out


def single_default_storage_class(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """Two default StorageClasses make PVC placement depend on creation order."""
    defaults = [
        sc
        for sc in of_type(resources, STORAGE_CLASS)
        if is_true(sc.prop("metadata", "annotations", "storageclass.kubernetes.io/is-default-class"))
    ]
    if len(defaults) <= 1:
        return []
    names = ", ".join(str(sc.prop("metadata", "name") or sc.name) for sc in defaults)
    return [Violation(f"{len(defaults)} default StorageClasses ({names}); keep one", sc.urn) for sc in defaults[1:]]
