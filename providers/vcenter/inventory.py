"""One batched read of the vCenter inventory: every object a zone lookup or a node binding needs.

A ContainerView over the root folder and one PropertyCollector retrieval (paged)
return name and parent of datacenters, folders, compute resources, hosts,
resource pools and vApps, and the identity, host, resource pool and parent of
every VM: a constant number of round trips, whatever the number of nodes. These
are exactly the chains the CPI's zone lookup walks (host, pool, VM).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from .connection import VCenterConnection
from .tagging import ObjectRef

# ResourcePool includes VirtualApp (a subtype), as the view matches subtypes.
_CONTAINERS = (vim.Datacenter, vim.Folder, vim.ComputeResource, vim.HostSystem, vim.ResourcePool)
_VM_PROPS = [
    "name",
    "parent",
    "parentVApp",
    "resourcePool",
    "runtime.host",
    "config.uuid",
    "config.instanceUuid",
    "config.template",
]


@dataclass(frozen=True)
class InventoryObject:
    ref: ObjectRef
    name: str
    parent: ObjectRef | None


@dataclass(frozen=True)
class VmInfo:
    ref: ObjectRef
    name: str
    bios_uuid: str  # config.uuid, the SMBIOS UUID a guest reports (byte-swapped) as its system UUID
    instance_uuid: str
    host: ObjectRef | None
    template: bool = False
    resource_pool: ObjectRef | None = None  # a ResourcePool or VirtualApp


@dataclass
class Inventory:
    objects: dict[ObjectRef, InventoryObject] = field(default_factory=dict)
    vms: dict[ObjectRef, VmInfo] = field(default_factory=dict)

    def ancestors(self, ref: ObjectRef) -> list[ObjectRef]:
        """The VM's host (for a VM), then each parent up to the root folder, nearest first."""
        chain: list[ObjectRef] = []
        vm = self.vms.get(ref)
        current = vm.host if vm is not None else self._parent(ref)
        seen: set[ObjectRef] = set()
        while current is not None and current not in seen:
            seen.add(current)
            chain.append(current)
            current = self._parent(current)
        return chain

    def chain(self, ref: ObjectRef | None) -> list[ObjectRef]:
        """The object itself, then each parent up to the root folder, as govmomi's ``mo.Ancestors`` gives
        them nearest first (a VM in a vApp continues through the vApp)."""
        out: list[ObjectRef] = []
        current = ref
        while current is not None and current not in out:
            out.append(current)
            current = self._parent(current)
        return out

    def datacenter_of(self, ref: ObjectRef) -> InventoryObject | None:
        return next((self.objects[a] for a in self.chain(ref) if a.type == "Datacenter" and a in self.objects), None)

    def name_of(self, ref: ObjectRef) -> str:
        obj = self.objects.get(ref)
        return obj.name if obj is not None else ref.id

    def _parent(self, ref: ObjectRef) -> ObjectRef | None:
        obj = self.objects.get(ref)
        return obj.parent if obj is not None else None

    def vm_by_bios_uuid(self) -> dict[str, VmInfo]:
        return {vm.bios_uuid.lower(): vm for vm in self.vms.values() if vm.bios_uuid and not vm.template}

    def vm_by_name(self, name: str) -> list[VmInfo]:
        return [vm for vm in self.vms.values() if vm.name == name]


def _ref(mo: Any) -> ObjectRef:
    return ObjectRef(str(mo._wsdlName), str(mo._moId))


def read_inventory(conn: VCenterConnection, *, vms: bool = True) -> Inventory:
    """The inventory in one retrieval; ``vms=False`` leaves out the VMs (tag placement needs none)."""
    content = conn.service_content()
    types = [*_CONTAINERS, vim.VirtualMachine] if vms else list(_CONTAINERS)
    view = conn.call(lambda: content.viewManager.CreateContainerView(content.rootFolder, types, True))
    pc: Any = vmodl.query.PropertyCollector  # pyVmomi is untyped
    spec = pc.FilterSpec(
        objectSet=[
            pc.ObjectSpec(
                obj=view,
                skip=True,
                selectSet=[pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)],
            )
        ],
        propSet=[
            *(pc.PropertySpec(type=t, pathSet=["name", "parent"]) for t in _CONTAINERS),
            *([pc.PropertySpec(type=vim.VirtualMachine, pathSet=_VM_PROPS)] if vms else []),
        ],
    )
    inventory = Inventory()
    try:
        result = conn.call(lambda: content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions()))
        while result is not None:
            for obj in result.objects:
                _add(inventory, obj)
            result = _next_page(conn, content, result.token)
    finally:
        conn.call(view.DestroyView)
    return inventory


def _next_page(conn: VCenterConnection, content: Any, token: str | None) -> Any:
    if not token:
        return None
    return conn.call(lambda: content.propertyCollector.ContinueRetrievePropertiesEx(token))


def _add(inventory: Inventory, obj: Any) -> None:
    props = {p.name: p.val for p in obj.propSet}
    ref = _ref(obj.obj)
    parent = props.get("parent")
    if ref.type == "VirtualMachine":
        host = props.get("runtime.host")
        pool = props.get("resourcePool")
        parent = parent or props.get("parentVApp")
        inventory.vms[ref] = VmInfo(
            ref=ref,
            name=str(props.get("name", "")),
            bios_uuid=str(props.get("config.uuid") or "").lower(),
            instance_uuid=str(props.get("config.instanceUuid") or "").lower(),
            host=_ref(host) if host is not None else None,
            template=bool(props.get("config.template")),
            resource_pool=_ref(pool) if pool is not None else None,
        )
    inventory.objects[ref] = InventoryObject(ref, str(props.get("name", "")), _ref(parent) if parent else None)
