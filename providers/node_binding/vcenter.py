"""The vCenter side of NodeBinding: one snapshot of inventory and topology tags per run.

A snapshot is one ContainerView/PropertyCollector read plus, per category, the
tag list and one batched attached-objects call: a constant number of round
trips whatever the number of nodes. Bindings in the same provider process (one
``pulumi up``) share it for ``max_age`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from providers.vcenter.connection import VCenterConnection
from providers.vcenter.inventory import Inventory, read_inventory
from providers.vcenter.tagging import ObjectRef, TaggingClient
from vsphere_k8s.topology import Placement, TopologyError, placement_of

from .plan import VmView

SNAPSHOT_MAX_AGE = 30.0


@dataclass(frozen=True)
class Snapshot:
    inventory: Inventory
    zone_tags: Mapping[ObjectRef, frozenset[str]]
    region_tags: Mapping[ObjectRef, frozenset[str]]
    zone_category: str
    region_category: str
    taken_at: float

    def vms_by_uuid(self) -> dict[str, VmView]:
        return {u: VmView(vm.ref.id, vm.name, u) for u, vm in self.inventory.vm_by_bios_uuid().items()}

    def placement(self, moid: str, subject: str) -> Placement:
        ref = ObjectRef("VirtualMachine", moid)
        if ref not in self.inventory.vms:
            raise TopologyError(f"{subject}: VM {moid} is not in the inventory")
        ancestors = self.inventory.ancestors(ref)
        describe = {a: f"{a.type} {self._name(a)}" for a in ancestors}
        return placement_of(
            ancestors,
            self.zone_tags,
            self.region_tags,
            zone_category=self.zone_category,
            region_category=self.region_category,
            subject=subject,
            describe=describe,
        )

    def _name(self, ref: ObjectRef) -> str:
        obj = self.inventory.objects.get(ref)
        return obj.name if obj is not None else ref.id


Carried = dict[ObjectRef, frozenset[str]]


def _tags_by_object(tagging: TaggingClient, zone_category: str, region_category: str) -> tuple[Carried, Carried]:
    """(zone, region) tag names per object: one category listing and one attached-objects call serve both."""
    by_name = {c.name: c for c in tagging.categories()}
    tag_of: dict[str, tuple[str, str]] = {}  # tag id -> (category name, tag name)
    for category in (zone_category, region_category):
        found = by_name.get(category)
        if found is None:
            raise TopologyError(f"tag category {category!r} does not exist in vCenter {tagging.conn.endpoint.host}")
        tag_of.update({t.id: (category, t.name) for t in tagging.tags_for_category(found.id)})
    carried: dict[str, dict[ObjectRef, set[str]]] = {zone_category: {}, region_category: {}}
    for tag_id, objects in tagging.attached_objects(list(tag_of)).items():
        category, name = tag_of[tag_id]
        for obj in objects:
            carried[category].setdefault(obj, set()).add(name)
    zone, region = (
        {ref: frozenset(names) for ref, names in carried[c].items()} for c in (zone_category, region_category)
    )
    return zone, region


def read_snapshot(conn: VCenterConnection, zone_category: str, region_category: str) -> Snapshot:
    zone_tags, region_tags = _tags_by_object(TaggingClient(conn), zone_category, region_category)
    return Snapshot(
        inventory=read_inventory(conn),
        zone_tags=zone_tags,
        region_tags=region_tags,
        zone_category=zone_category,
        region_category=region_category,
        taken_at=time.monotonic(),
    )


_SNAPSHOTS: dict[tuple[int, str, str], Snapshot] = {}
_LOCK = threading.Lock()


def snapshot(
    conn: VCenterConnection,
    zone_category: str,
    region_category: str,
    *,
    max_age: float = SNAPSHOT_MAX_AGE,
    newer_than: float | None = None,
) -> Snapshot:
    """The shared snapshot for this connection, read again when older than ``max_age`` or taken before
    ``newer_than`` (a monotonic time: "I need something newer than what I saw")."""
    key = (id(conn), zone_category, region_category)
    with _LOCK:  # concurrent bindings wait for one read instead of each doing their own
        found = _SNAPSHOTS.get(key)
        now = time.monotonic()
        stale = found is None or now - found.taken_at > max_age
        if found is not None and newer_than is not None and found.taken_at <= newer_than:
            stale = True
        if stale:
            found = _SNAPSHOTS[key] = read_snapshot(conn, zone_category, region_category)
        assert found is not None
        return found


def forget_snapshots() -> None:
    """Drop every snapshot: the next binding reads vCenter again (as a new ``pulumi up`` would)."""
    with _LOCK:
        _SNAPSHOTS.clear()
