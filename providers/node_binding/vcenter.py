"""The vCenter side of NodeBinding: one snapshot of inventory and topology tags per run.

A snapshot is one ContainerView/PropertyCollector read plus, per category, the
tag list and one batched attached-objects call: a constant number of round
trips whatever the number of nodes. Bindings in the same provider process (one
``pulumi up``) share it for ``max_age`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from providers.vcenter.connection import VCenterConnection
from providers.vcenter.inventory import Inventory, read_inventory
from providers.vcenter.tagging import ObjectRef, TaggingClient
from vsphere_k8s.topology import Placement, Tag, TopologyError, zone_by_vm

from .plan import VmView

SNAPSHOT_MAX_AGE = 30.0


@dataclass(frozen=True)
class Snapshot:
    inventory: Inventory
    tags: Mapping[ObjectRef, frozenset[Tag]]  # the zone and region tags attached to each object
    zone_category: str
    region_category: str
    taken_at: float

    def vms_by_uuid(self, datacenters: Collection[str] = ()) -> dict[str, VmView]:
        """VMs by BIOS UUID; with ``datacenters``, only those in them (the CPI searches no others)."""
        wanted = {d.rstrip("/").rsplit("/", 1)[-1] for d in datacenters}  # a path names its last element
        out = {}
        for uuid, vm in self.inventory.vm_by_bios_uuid().items():
            dc = self.inventory.datacenter_of(vm.ref)
            if wanted and (dc is None or dc.name not in wanted):
                continue
            out[uuid] = VmView(vm.ref.id, vm.name, uuid, dc.name if dc is not None else "")
        return out

    def placement(self, moid: str, subject: str) -> Placement:
        """Zone and region of the VM, by the CPI's lookups: from its host, its resource pool, itself."""
        ref = ObjectRef("VirtualMachine", moid)
        vm = self.inventory.vms.get(ref)
        if vm is None:
            raise TopologyError(f"{subject}: VM {moid} is not in the inventory")
        inv = self.inventory
        host_chain = inv.chain(vm.host) if vm.host is not None else None
        pool_chain = inv.chain(vm.resource_pool) if vm.resource_pool is not None else None
        vm_chain = inv.chain(ref)
        seen = {a for c in (host_chain, pool_chain, vm_chain) for a in c or ()}
        return zone_by_vm(
            host_chain=host_chain,
            pool_chain=pool_chain,
            vm_chain=vm_chain,
            attached=self.tags,
            zone_category=self.zone_category,
            region_category=self.region_category,
            subject=subject,
            describe={a: f"{a.type} {inv.name_of(a)}" for a in seen},
        )


def _tags_by_object(
    tagging: TaggingClient, zone_category: str, region_category: str
) -> dict[ObjectRef, frozenset[Tag]]:
    """The zone and region tags on each object: one category listing and one attached-objects call serve both."""
    by_name = {c.name: c for c in tagging.categories()}
    tag_of: dict[str, Tag] = {}  # tag id -> its category and name
    for category in (zone_category, region_category):
        found = by_name.get(category)
        if found is None:
            raise TopologyError(f"tag category {category!r} does not exist in vCenter {tagging.conn.endpoint.host}")
        tag_of.update({t.id: Tag(category, t.name) for t in tagging.tags_for_category(found.id)})
    carried: dict[ObjectRef, set[Tag]] = {}
    for tag_id, objects in tagging.attached_objects(list(tag_of)).items():
        for obj in objects:
            carried.setdefault(obj, set()).add(tag_of[tag_id])
    return {ref: frozenset(tags) for ref, tags in carried.items()}


def read_snapshot(conn: VCenterConnection, zone_category: str, region_category: str) -> Snapshot:
    return Snapshot(
        inventory=read_inventory(conn),
        tags=_tags_by_object(TaggingClient(conn), zone_category, region_category),
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
