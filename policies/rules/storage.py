"""StorageClasses: topologies that name labels the CSI sets and zones that exist; one default.
The CSI's snapshotter sidecar has the VolumeSnapshot API and a snapshot-controller behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vsphere_k8s.manifests.csi import SNAPSHOTS_ANNOTATION  # what csi.snapshots: external writes
from vsphere_k8s.topology import labels

from .. import facts
from ..facts import STORAGE_CLASS, WORKLOADS
from ..view import ResourceView, contains_unknown, is_true, of_type
from .base import Violation, zone_region_categories

_CSI_TOPOLOGY_KEY = "topology.csi.vmware.com/"
# Kubernetes' own zone/region labels (GA and deprecated beta). The vanilla CSI publishes these only in
# its deprecated [Labels] zone=/region= mode; with topology-categories its nodes' topology keys are
# topology.csi.vmware.com/<category>, so a class keyed on these never matches a node.
_K8S_ZONE_KEYS = (labels.ZONE, labels.BETA_ZONE)
_K8S_REGION_KEYS = (labels.REGION, labels.BETA_REGION)


def _legacy_zone_labels(resources: Sequence[ResourceView]) -> bool:
    """A CSI config of the stack uses the deprecated [Labels] zone/region keys (no topology-categories)."""
    return any(
        {"zone", "region"} & set(csi.sections.get("Labels", {})) and not csi.topology_categories
        for csi in facts.csi_configs(resources)
    )


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
    legacy = _legacy_zone_labels(resources)
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
                elif key in _K8S_ZONE_KEYS + _K8S_REGION_KEYS and not legacy:
                    csi_key = _CSI_TOPOLOGY_KEY + (cats.zone if key in _K8S_ZONE_KEYS else cats.region)
                    out.append(
                        Violation(
                            f"StorageClass {name} selects {key}, which the vSphere CSI never publishes with "
                            f"topology-categories (its nodes carry {csi_key}): with --strict-topology its volumes "
                            f"never provision; select {csi_key}",
                            sc.urn,
                        )
                    )
                    continue
                elif key in _K8S_ZONE_KEYS:
                    category = cats.zone
                elif key in _K8S_REGION_KEYS:
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


CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
_SNAPSHOT_KINDS = ("volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses")
SNAPSHOT_CRDS = frozenset(f"{plural}.snapshot.storage.k8s.io" for plural in _SNAPSHOT_KINDS)
_SNAPSHOTTER_IMAGE = "/csi-snapshotter:"
_CONTROLLER_IMAGE = "/snapshot-controller:"


def snapshotter_backed(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """A csi-snapshotter sidecar needs the VolumeSnapshot CRDs and a snapshot-controller.

    Without them it fails its watches forever and no VolumeSnapshot is ever taken. They count as
    present when the stack creates them, or when the workload declares them provided by the
    cluster (the annotation ``csi.snapshots: external`` writes).
    """
    crds = {str(r.prop("metadata", "name")) for r in of_type(resources, CRD)}
    workloads = list(of_type(resources, *WORKLOADS))
    controller = any(_CONTROLLER_IMAGE in str(c.get("image") or "") for w in workloads for c in facts.containers(w))
    missing = [f"CRD {c}" for c in sorted(SNAPSHOT_CRDS - crds)] + ([] if controller else ["a snapshot-controller"])
    out = []
    for workload in workloads:
        if not any(_SNAPSHOTTER_IMAGE in str(c.get("image") or "") for c in facts.containers(workload)):
            continue
        annotations = workload.prop("metadata", "annotations")
        if contains_unknown(annotations) or (
            isinstance(annotations, Mapping) and annotations.get(SNAPSHOTS_ANNOTATION) == "external"
        ):
            continue
        if missing:
            name = workload.prop("metadata", "name") or workload.name
            out.append(
                Violation(
                    f"{name} runs csi-snapshotter without {', '.join(missing)}: no snapshot would "
                    f"ever be taken; drop the sidecar (csi.snapshots: off) or, where the cluster already runs "
                    f"them, set csi.snapshots: external",
                    workload.urn,
                )
            )
    return out
