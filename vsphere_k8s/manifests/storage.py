"""StorageClasses for the vSphere CSI driver, topology-aware when the stack has zones.

With ``[Labels] topology-categories`` the driver publishes each node's zone under
``topology.csi.vmware.com/<zone category>`` (not ``topology.kubernetes.io/zone``,
which only its deprecated zone/region mode uses), so that is the key the zonal
classes restrict on; it is derived from the same category name as the CSI config.
"""

from __future__ import annotations

from dataclasses import dataclass

from vsphere_k8s.config import StackConfig
from vsphere_k8s.config import StorageClass as StorageClassConfig
from vsphere_k8s.render.csi_conf import topology_label

from .csi import DRIVER
from .meta import Manifest, metadata

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
# Used when the stack lists no classes: a default one, and one per zone.
DEFAULT_CLASSES = (
    StorageClassConfig(name="vsphere", default=True),
    StorageClassConfig(name="vsphere-zonal", per_zone=True),
)


@dataclass(frozen=True)
class PlannedClass:
    """One StorageClass to create: its name, source entry and the zones it is limited to."""

    name: str
    source: StorageClassConfig
    zones: tuple[str, ...]  # empty: anywhere
    default: bool


def zone_topology_key(cfg: StackConfig) -> str:
    return topology_label(cfg.topology.zone_category)


def configured_classes(cfg: StackConfig) -> tuple[StorageClassConfig, ...]:
    return tuple(cfg.storage_classes) or DEFAULT_CLASSES


def plan_classes(cfg: StackConfig) -> list[PlannedClass]:
    zones = [z.name for z in cfg.topology.zones]
    planned: list[PlannedClass] = []
    for sc in configured_classes(cfg):
        if sc.per_zone:
            # Named by zone, never by position: adding a zone adds a class and renames none.
            planned += [PlannedClass(f"{sc.name}-{zone}", sc, (zone,), False) for zone in zones]
        else:
            planned.append(PlannedClass(sc.name, sc, tuple(sc.zones), sc.default))
    return planned


def storage_class(cfg: StackConfig, planned: PlannedClass) -> Manifest:
    sc = planned.source
    parameters: dict[str, str] = {"csi.storage.k8s.io/fstype": sc.fs_type}
    if sc.storage_policy_name:
        parameters["storagepolicyname"] = sc.storage_policy_name
    if sc.datastore_url:
        parameters["datastoreurl"] = sc.datastore_url
    annotations = {DEFAULT_CLASS_ANNOTATION: "true"} if planned.default else None
    manifest: Manifest = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": metadata(planned.name, annotations=annotations),
        "provisioner": DRIVER,
        "parameters": parameters,
        "reclaimPolicy": sc.reclaim_policy,
        "allowVolumeExpansion": sc.allow_volume_expansion,
        # With zones, bind where the pod lands, so the volume and the pod share a zone.
        "volumeBindingMode": "WaitForFirstConsumer" if cfg.topology.zones else "Immediate",
    }
    if planned.zones:
        manifest["allowedTopologies"] = [
            {"matchLabelExpressions": [{"key": zone_topology_key(cfg), "values": list(planned.zones)}]}
        ]
    return manifest


def manifests(cfg: StackConfig) -> list[Manifest]:
    return [storage_class(cfg, p) for p in plan_classes(cfg)]
