"""Thin vCenter adapter for NodeBinding: one snapshot of VMs and topology tags serves every node.

A snapshot costs a constant number of round trips whatever the number of nodes: one
inventory read (ContainerView + PropertyCollector), one category list, one tag list
per topology category and one batched attached-objects call. It is cached per
process and vCenter, so all bindings of one provider process share it; a lookup
that misses (a VM created after the snapshot) refreshes it once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vsphere_k8s.topology import Ancestor, TopologyError, placement

from .plan import BindingError, VmFacts


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    inventory: Any  # providers.vcenter.inventory.Inventory
    vm_names: dict[str, str]  # BIOS UUID -> VM name (several VMs with one UUID: see duplicates)
    vm_refs: dict[str, Any]  # BIOS UUID -> ObjectRef
    duplicates: dict[str, list[str]]  # BIOS UUID -> VM names, when more than one VM has it
    tags_on: dict[Any, dict[str, tuple[str, ...]]]  # ObjectRef -> category name -> tag names

    def ancestors(self, ref: Any) -> list[Ancestor]:
        chain = []
        for parent in self.inventory.ancestors(ref):
            obj = self.inventory.objects.get(parent)
            chain.append(
                Ancestor(f"{parent.type}:{parent.id}", obj.name if obj else parent.id, self.tags_on.get(parent, {}))
            )
        return chain

    def facts(self, bios_uuid: str, zone_category: str, region_category: str) -> VmFacts:
        if bios_uuid in self.duplicates:
            raise BindingError(f"BIOS UUID {bios_uuid} is shared by VMs {', '.join(self.duplicates[bios_uuid])}")
        ref = self.vm_refs[bios_uuid]
        name = self.vm_names[bios_uuid]
        try:
            where = placement(name, self.ancestors(ref), zone_category, region_category)
        except TopologyError as error:
            raise BindingError(str(error)) from None
        return VmFacts(
            name=name,
            moid=ref.id,
            bios_uuid=bios_uuid,
            zone=where.zone.tag,
            region=where.region.tag,
            zone_source=f"{where.zone.ref.split(':', 1)[0]} {where.zone.name}",
            region_source=f"{where.region.ref.split(':', 1)[0]} {where.region.name}",
        )


def endpoint_of(inputs: Any) -> Any:
    from providers.vcenter.connection import Endpoint  # type: ignore[import-not-found,unused-ignore]

    return Endpoint(
        host=inputs.server,
        port=inputs.port,
        username=inputs.username,
        password=inputs.password.get_secret_value(),
        insecure=inputs.insecure,
        ca_cert=inputs.ca_cert,
        thumbprint=inputs.thumbprint,
    )


def read_snapshot(conn: Any, categories: tuple[str, ...], clock: Callable[[], float] = time.monotonic) -> Snapshot:
    """Inventory and topology tags, in a constant number of round trips."""
    from providers.vcenter.inventory import read_inventory  # type: ignore[import-not-found,unused-ignore]
    from providers.vcenter.tagging import TaggingClient  # type: ignore[import-not-found,unused-ignore]

    started = clock()
    inventory = read_inventory(conn)
    tagging = TaggingClient(conn)
    by_id = {c.name: c for c in tagging.categories()}
    missing = [c for c in categories if c not in by_id]
    if missing:
        names = ", ".join(map(repr, missing))
        raise BindingError(f"tag categor{'y' if len(missing) == 1 else 'ies'} {names} not found in vCenter")
    tag_names: dict[str, tuple[str, str]] = {}  # tag id -> (category name, tag name)
    for category in categories:
        for tag in tagging.tags_for_category(by_id[category].id):
            tag_names[tag.id] = (category, tag.name)
    tags_on: dict[Any, dict[str, list[str]]] = {}
    if tag_names:
        for tag_id, objects in tagging.attached_objects(sorted(tag_names)).items():
            category, name = tag_names[tag_id]
            for obj in objects:
                tags_on.setdefault(obj, {}).setdefault(category, []).append(name)
    vm_names: dict[str, str] = {}
    vm_refs: dict[str, Any] = {}
    duplicates: dict[str, list[str]] = {}
    for ref, vm in inventory.vms.items():
        if not vm.bios_uuid or getattr(vm, "template", False):
            continue
        key = vm.bios_uuid.lower()
        if key in vm_names:
            duplicates.setdefault(key, [vm_names[key]]).append(vm.name)
        vm_names[key] = vm.name
        vm_refs[key] = ref
    return Snapshot(
        taken_at=started,
        inventory=inventory,
        vm_names=vm_names,
        vm_refs=vm_refs,
        duplicates=duplicates,
        tags_on={obj: {c: tuple(sorted(n)) for c, n in cats.items()} for obj, cats in tags_on.items()},
    )


_TRANSPORT_BACKOFF = (0.2, 0.5, 1.0)
_SNAPSHOTS: dict[Any, Snapshot] = {}
_LOCKS: dict[Any, threading.Lock] = {}
_GUARD = threading.Lock()


def snapshot(endpoint: Any, categories: tuple[str, ...], fresher_than: float | None = None) -> Snapshot:
    """The process's snapshot for this vCenter and categories; re-read when older than ``fresher_than``.

    Concurrent callers share one read. A failed read caches nothing.
    """
    from providers.vcenter.connection import connection_for  # type: ignore[import-not-found,unused-ignore]

    key = (endpoint, categories)
    with _GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        cached = _SNAPSHOTS.get(key)
        if cached is not None and (fresher_than is None or cached.taken_at >= fresher_than):
            return cached
        conn = connection_for(endpoint)
        for delay in (*_TRANSPORT_BACKOFF, None):
            try:
                fresh = read_snapshot(conn, categories)
                break
            except OSError:
                # A vCenter that restarted drops the pooled TLS connection mid-request (SSLEOFError,
                # reset): the next attempt opens a new one and the adapter logs in again.
                if delay is None:
                    raise
                time.sleep(delay)
        _SNAPSHOTS[key] = fresh
        return fresh


def forget_snapshots() -> None:
    """Drop cached snapshots: what a new provider process (the next run) starts with."""
    with _GUARD:
        _SNAPSHOTS.clear()
