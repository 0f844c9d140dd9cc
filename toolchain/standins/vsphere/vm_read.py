"""Reading a VM into VirtualMachine state, for the STAND-IN vSphere plugin (a test double).

What vCenter knows is read from it (identity, sizing, flags, extraConfig keys the
program manages, placement, devices, tags, guest addresses, power state); what
only the configuration knows (waiter timeouts, clone settings, disk labels and
I/O settings the stand-in does not model) is carried over from the state or
inputs, so a refresh changes nothing it cannot see. That is a fidelity limit:
drift in those carried fields goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim as _vim

from providers.vcenter.tagging import ObjectRef

from .connection import VSphereProvider

# pyVmomi's types are generated and partial: treat its namespaces as untyped.
vim: Any = _vim

GIB = 1024**3
_NIC_TYPES: dict[type[Any], str] = {
    vim.vm.device.VirtualE1000: "e1000",
    vim.vm.device.VirtualE1000e: "e1000e",
    vim.vm.device.VirtualVmxnet3: "vmxnet3",
    vim.vm.device.VirtualSriovEthernetCard: "sriov",
}
_SCSI_TYPES: dict[type[Any], str] = {
    vim.vm.device.ParaVirtualSCSIController: "pvscsi",
    vim.vm.device.VirtualLsiLogicController: "lsilogic",
    vim.vm.device.VirtualLsiLogicSASController: "lsilogic-sas",
    vim.vm.device.VirtualBusLogicController: "buslogic",
}


def nic_type(device: Any) -> str:
    for kind, name in _NIC_TYPES.items():
        if isinstance(device, kind):
            return name
    return "unknown"


def hardware_number(version: str | None) -> int:
    try:
        return int(str(version or "").removeprefix("vmx-"))
    except ValueError:
        return 0


def scsi_type(devices: list[Any]) -> str:
    found = {name for d in devices for kind, name in _SCSI_TYPES.items() if isinstance(d, kind)}
    return found.pop() if len(found) == 1 else ("mixed" if found else "")


def disks_of(devices: list[Any]) -> list[tuple[Any, Any]]:
    """(disk, its controller) in bus order, as the real provider lists them."""
    controllers = {d.key: d for d in devices if isinstance(d, vim.vm.device.VirtualController)}
    disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
    pairs = [(d, controllers.get(d.controllerKey)) for d in disks]
    return sorted(pairs, key=lambda p: (getattr(p[1], "busNumber", 0), p[0].unitNumber or 0))


def nics_of(devices: list[Any]) -> list[Any]:
    nics = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    return sorted(nics, key=lambda d: d.unitNumber or 0)


def network_id(device: Any) -> str:
    backing = device.backing
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
        return str(backing.network._moId) if backing.network is not None else ""
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        return str(backing.port.portgroupKey)
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo):
        return str(backing.opaqueNetworkId)
    return ""


def _disk_state(disk: Any, controller: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    backing = disk.backing
    datastore = getattr(backing, "datastore", None)
    bus = getattr(controller, "busNumber", 0)
    capacity = int(disk.capacityInBytes or (disk.capacityInKB or 0) * 1024)
    return {
        **given,
        "label": given.get("label") or (disk.deviceInfo.label if disk.deviceInfo else ""),
        "size": capacity // GIB,
        "thinProvisioned": bool(getattr(backing, "thinProvisioned", False)),
        "eagerlyScrub": bool(getattr(backing, "eagerlyScrub", False)),
        "unitNumber": given.get("unitNumber", 0) if bus == 0 else int(disk.unitNumber or 0),
        "datastoreId": str(datastore._moId) if datastore is not None else "",
        "path": str(getattr(backing, "fileName", "")).split("] ", 1)[-1],
        "uuid": str(getattr(backing, "uuid", "") or ""),
        "key": int(disk.key),
        "deviceAddress": f"scsi:{bus}:{disk.unitNumber or 0}",
        "diskMode": str(getattr(backing, "diskMode", "") or given.get("diskMode", "persistent")),
    }


def _nic_state(nic: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **given,
        "networkId": network_id(nic),
        "adapterType": nic_type(nic),
        "macAddress": str(nic.macAddress or ""),
        "key": int(nic.key),
        "deviceAddress": f"pci:0:{nic.unitNumber or 0}",
    }


def _folder(p: VSphereProvider, vm: Any) -> str:
    """The VM's folder relative to its datacenter's VM folder ("" at the root), as the real one states it."""
    parts: list[str] = []
    current = p.call(lambda: vm.parent)
    while current is not None and not isinstance(current, vim.Datacenter):
        parent = p.prop(current, "parent")
        if isinstance(parent, vim.Datacenter):
            break  # the datacenter's own "vm" folder is the root of the relative path
        parts.append(str(p.prop(current, "name")))
        current = parent
    return "/".join(reversed(parts))


def guest_addresses(guest: Any) -> list[str]:
    return [str(ip) for nic in (guest.net or []) for ip in (nic.ipAddress or [])]


def read_vm(p: VSphereProvider, vm: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The VirtualMachine outputs of ``vm``; ``given`` is the state or inputs to carry from."""
    config = p.call(lambda: vm.config)
    runtime = p.fetch(vm, ["runtime.powerState", "runtime.host"])
    guest = p.call(lambda: vm.guest)
    devices = list(config.hardware.device)
    known_keys = set((given.get("extraConfig") or {}).keys())
    extra = {str(o.key): str(o.value) for o in config.extraConfig or [] if o.key in known_keys and o.value != ""}
    vmx = str(config.files.vmPathName or "")
    ds_name = vmx[1:].split("]", 1)[0] if vmx.startswith("[") else ""
    datastore = next((d for d in p.call(lambda: vm.datastore) or [] if p.prop(d, "name") == ds_name), None)
    given_disks = list(given.get("disks") or [])
    given_nics = list(given.get("networkInterfaces") or [])
    disks = [
        _disk_state(d, c, given_disks[i] if i < len(given_disks) else {}) for i, (d, c) in enumerate(disks_of(devices))
    ]
    nics = [_nic_state(n, given_nics[i] if i < len(given_nics) else {}) for i, n in enumerate(nics_of(devices))]
    pool = p.call(lambda: vm.resourcePool)
    power = {"poweredOn": "on", "poweredOff": "off", "suspended": "suspended"}.get(
        str(runtime.get("runtime.powerState", "")), ""
    )
    host = runtime.get("runtime.host")
    tags = p.tagging.attached_tags(ObjectRef("VirtualMachine", vm._moId))
    addresses = guest_addresses(guest)
    live = {
        "name": config.name,
        "uuid": config.uuid,
        "moid": vm._moId,
        "numCpus": int(config.hardware.numCPU),
        "numCoresPerSocket": int(config.hardware.numCoresPerSocket or 1),
        "memory": int(config.hardware.memoryMB),
        "guestId": config.guestId or "",
        "alternateGuestName": config.alternateGuestName or "",
        "annotation": config.annotation or "",
        "firmware": config.firmware or "bios",
        "hardwareVersion": hardware_number(config.version),
        "enableDiskUuid": bool(config.flags.diskUuidEnabled) if config.flags else False,
        "cpuHotAddEnabled": bool(config.cpuHotAddEnabled),
        "cpuHotRemoveEnabled": bool(config.cpuHotRemoveEnabled),
        "memoryHotAddEnabled": bool(config.memoryHotAddEnabled),
        "nestedHvEnabled": bool(config.nestedHVEnabled),
        "changeVersion": str(config.changeVersion or ""),
        "resourcePoolId": pool._moId if pool is not None else given.get("resourcePoolId"),
        "folder": _folder(p, vm),
        "hostSystemId": host._moId if host is not None else "",
        "datastoreId": datastore._moId if datastore is not None else given.get("datastoreId", ""),
        "vmxPath": vmx.split("] ", 1)[-1],
        "scsiType": scsi_type(devices) or given.get("scsiType", "pvscsi"),
        "disks": disks,
        "networkInterfaces": nics,
        "tags": tags,
        "powerState": power,
        "vmwareToolsStatus": str(guest.toolsRunningStatus or ""),
        "defaultIpAddress": str(guest.ipAddress or (addresses[0] if addresses else "")),
        "guestIpAddresses": addresses,
        "rebootRequired": False,
        "imported": False,
        "vappTransports": [],
    }
    if known_keys or "extraConfig" in given:
        live["extraConfig"] = extra
    return {**given, **live}


def template_outputs(p: VSphereProvider, vm: Any, datacenter_id: str | None) -> dict[str, Any]:
    """getVirtualMachine's answer: the VM's configuration in the data source's shape."""
    state = read_vm(p, vm, {})
    config = p.call(lambda: vm.config)
    devices = list(config.hardware.device)
    disks = [
        {
            "label": d.deviceInfo.label if d.deviceInfo else "",
            "size": int(d.capacityInBytes or (d.capacityInKB or 0) * 1024) // GIB,
            "thinProvisioned": bool(getattr(d.backing, "thinProvisioned", False)),
            "eagerlyScrub": bool(getattr(d.backing, "eagerlyScrub", False)),
            "unitNumber": int(d.unitNumber or 0),
        }
        for d, _ in disks_of(devices)
    ]
    nics = nics_of(devices)
    return {
        **{k: v for k, v in state.items() if k not in ("disks", "networkInterfaces", "powerState", "vmxPath")},
        "id": config.uuid,
        "instanceUuid": config.instanceUuid,
        "datacenterId": datacenter_id,
        "folder": "/" + "/".join(filter(None, [str(p.datacenter_of(vm).name), "vm", state["folder"]])),
        "disks": disks,
        "networkInterfaceTypes": [nic_type(n) for n in nics],
        "networkInterfaces": [
            {"adapterType": nic_type(n), "macAddress": n.macAddress or "", "networkId": network_id(n)} for n in nics
        ],
        "scsiControllerScanCount": 1,
        "sataControllerScanCount": 0,
        "ideControllerScanCount": 2,
        "nvmeControllerScanCount": 0,
        "extraConfig": {str(o.key): str(o.value) for o in config.extraConfig or []},
        "vtpm": any(isinstance(d, vim.vm.device.VirtualTPM) for d in devices),
        "videoCards": [],
        "vapp": None,
    }
