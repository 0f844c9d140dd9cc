"""VirtualMachine of the STAND-IN vSphere plugin (a test double of pulumi-resource-vsphere).

Clone-from-template only (the only way the program makes VMs), following the
real provider's create: CloneVM_Task into the folder, pool, datastore and host,
one ReconfigVM_Task for name, CPUs, memory, guest id, firmware, flags
(``enableDiskUuid`` is ``flags.diskUuidEnabled``), extraConfig, hardware version,
disk growth and NIC backing; UpgradeVM_Task when the version did not take; tags
through the tagging API; power on; then the guest IP and network waiters with
the real defaults (``waitForGuestNetTimeout`` 5 minutes, routable). A failure
before power-on destroys the clone (the real rollback); a waiter timeout leaves
the VM and reports an initialization failure, so the engine keeps it in state.
The id is the VM's BIOS UUID (``config.uuid``), as the real provider's.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pyVmomi import vim as _vim

from providers.vcenter.tagging import ObjectRef
from toolchain.standins.schema import Failure, Schema
from toolchain.standins.server import InitFailedError, ProviderError, Resource
from toolchain.standins.wire import UNKNOWN
from vsphere_k8s.facts import VM_TYPE

from .connection import VSphereProvider, vsphere
from .vm_read import GIB, disks_of, hardware_number, nic_type, nics_of, read_vm
from .vm_schema import VM

# pyVmomi's types are generated and partial: treat its namespaces as untyped.
vim: Any = _vim

_NIC_CLASSES: dict[str, type[Any]] = {
    "e1000": vim.vm.device.VirtualE1000,
    "e1000e": vim.vm.device.VirtualE1000e,
    "vmxnet3": vim.vm.device.VirtualVmxnet3,
    "sriov": vim.vm.device.VirtualSriovEthernetCard,
}


def _folder(p: VSphereProvider, pool: Any, path: str) -> Any:
    """The VM folder at ``path`` under the pool's datacenter (the real provider's rule)."""
    dc = p.datacenter_of(pool)
    folder = p.call(lambda: dc.vmFolder)
    for part in [x for x in (path or "").strip("/").split("/") if x]:
        children = p.prop(folder, "childEntity")
        match = next((c for c in children if isinstance(c, vim.Folder) and p.prop(c, "name") == part), None)
        if match is None:
            raise ProviderError(f"cannot locate folder {path!r} in datacenter {p.call(lambda: dc.name)!r}")
        folder = match
    return folder


def _backing(p: VSphereProvider, network_id: str) -> Any:
    if network_id.startswith("dvportgroup-"):
        pg = p.entity(vim.dvs.DistributedVirtualPortgroup, network_id, "network")
        switch = p.call(lambda: pg.config.distributedVirtualSwitch)
        port = vim.dvs.PortConnection(portgroupKey=pg.key, switchUuid=p.call(lambda: switch.uuid))
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
    net = p.entity(vim.Network, network_id, "network")
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(network=net, deviceName=p.call(lambda: net.name))


def _device_changes(p: VSphereProvider, vm: Any, inputs: Mapping[str, Any]) -> list[Any]:
    """Disk growth and NIC backing/type, matched to the clone's devices by position."""
    devices = list(p.call(lambda: vm.config.hardware.device))
    changes: list[Any] = []
    op = vim.vm.device.VirtualDeviceSpec.Operation
    for disk, (device, _) in zip(inputs.get("disks") or [], disks_of(devices), strict=False):
        want = int(disk.get("size") or 0) * GIB
        have = int(device.capacityInBytes or (device.capacityInKB or 0) * 1024)
        if want and want < have:
            raise ProviderError(f"virtual disk {disk.get('label')!r}: virtual disks cannot be shrunk")
        if want > have:
            device.capacityInKB = want // 1024
            device.capacityInBytes = want
            changes.append(vim.vm.device.VirtualDeviceSpec(operation=op.edit, device=device))
    nics = nics_of(devices)
    wanted = list(inputs.get("networkInterfaces") or [])
    for i, nic in enumerate(wanted):
        backing = _backing(p, str(nic["networkId"]))
        kind = str(nic.get("adapterType") or "vmxnet3")
        if i < len(nics) and nic_type(nics[i]) == kind:
            nics[i].backing = backing
            changes.append(vim.vm.device.VirtualDeviceSpec(operation=op.edit, device=nics[i]))
            continue
        if i < len(nics):  # another adapter type: the real provider re-creates the device
            changes.append(vim.vm.device.VirtualDeviceSpec(operation=op.remove, device=nics[i]))
        card = _NIC_CLASSES[kind](key=-(i + 1), backing=backing, addressType="generated")
        changes.append(vim.vm.device.VirtualDeviceSpec(operation=op.add, device=card))
    changes += [vim.vm.device.VirtualDeviceSpec(operation=op.remove, device=n) for n in nics[len(wanted) :]]
    return changes


def _config_spec(inputs: Mapping[str, Any], olds: Mapping[str, Any] | None) -> Any:
    """The ReconfigVM spec of the settings the stand-in models."""
    old_extra = dict((olds or {}).get("extraConfig") or {})
    new_extra = dict(inputs.get("extraConfig") or {})
    extra = [vim.option.OptionValue(key=k, value=str(v)) for k, v in new_extra.items() if old_extra.get(k) != v]
    extra += [vim.option.OptionValue(key=k, value="") for k in old_extra if k not in new_extra]  # removes it
    version = inputs.get("hardwareVersion")
    return vim.vm.ConfigSpec(
        name=inputs.get("name"),
        numCPUs=int(inputs.get("numCpus") or 1),
        numCoresPerSocket=int(inputs.get("numCoresPerSocket") or 1),
        memoryMB=int(inputs.get("memory") or 1024),
        guestId=inputs.get("guestId") or None,
        alternateGuestName=inputs.get("alternateGuestName") or None,
        annotation=inputs.get("annotation"),
        firmware=inputs.get("firmware") or None,
        cpuHotAddEnabled=bool(inputs.get("cpuHotAddEnabled")),
        cpuHotRemoveEnabled=bool(inputs.get("cpuHotRemoveEnabled")),
        memoryHotAddEnabled=bool(inputs.get("memoryHotAddEnabled")),
        nestedHVEnabled=bool(inputs.get("nestedHvEnabled")),
        flags=vim.vm.FlagInfo(diskUuidEnabled=bool(inputs.get("enableDiskUuid"))),
        extraConfig=extra or None,
        version=f"vmx-{int(version)}" if version else None,
    )


def _ignored(address: str, ignored: list[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True
    if ip.is_link_local or ip.is_loopback:
        return True
    for entry in ignored:
        text = str(entry)
        if ("/" in text and ip in ipaddress.ip_network(text, strict=False)) or text == address:
            return True
    return False


def _routable(guest: Any, address: str, prefix: int) -> bool:
    """True when the address shares a subnet with a default gateway the guest reports."""
    for stack in guest.ipStack or []:
        for route in (stack.ipRouteConfig.ipRoute if stack.ipRouteConfig else []) or []:
            default = route.network in ("0.0.0.0", "::")  # noqa: S104 - default routes, not a bind address
            if default and route.gateway and route.gateway.ipAddress:
                net = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
                if ipaddress.ip_address(route.gateway.ipAddress) in net:
                    return True
    return False


def wait_for_guest(p: VSphereProvider, vm: Any, inputs: Mapping[str, Any]) -> None:
    """The real provider's two waiters; a timeout under 1 minute disables one."""
    ignored = list(inputs.get("ignoredGuestIps") or [])
    ip_timeout = int(inputs.get("waitForGuestIpTimeout") or 0)
    net_setting = inputs.get("waitForGuestNetTimeout")
    net_timeout = 5 if net_setting is None else int(net_setting)
    routable = inputs.get("waitForGuestNetRoutable", True) is not False

    def ip_ready() -> bool:
        address = p.call(lambda: vm.guest.ipAddress)
        return bool(address) and not _ignored(str(address), ignored)

    def net_ready() -> bool:
        guest = p.call(lambda: vm.guest)
        for nic in guest.net or []:
            for addr in (nic.ipConfig.ipAddress if nic.ipConfig else []) or []:
                if _ignored(str(addr.ipAddress), ignored):
                    continue
                if not routable or _routable(guest, str(addr.ipAddress), int(addr.prefixLength)):
                    return True
        return False

    for minutes, ready in ((ip_timeout, ip_ready), (net_timeout, net_ready)):
        if minutes < 1:
            continue
        deadline = time.monotonic() + 60 * minutes
        while not ready():
            if time.monotonic() > deadline or p.cancelled.is_set():
                raise ProviderError("timeout waiting for an available IP address")
            time.sleep(2)


class VirtualMachine(Resource):
    pulumi_type = VM_TYPE
    autoname = True
    schema: ClassVar[Schema] = VM

    def validate(self, inputs: Mapping[str, Any]) -> list[Failure]:
        failures = []
        if "datastoreId" not in inputs and "datastoreClusterId" not in inputs:
            failures.append(Failure("datastoreId", "one of datastore_id datastore_cluster_id must be specified"))
        cpus, cores = inputs.get("numCpus", 1), inputs.get("numCoresPerSocket", 1)
        if isinstance(cpus, int) and isinstance(cores, int) and cores and cpus % cores:
            failures.append(Failure("numCoresPerSocket", f"{cpus} is not evenly divisible by {cores}"))
        return failures

    def preview_update(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        return {**olds, **news, "changeVersion": UNKNOWN}

    # --- create -----------------------------------------------------------------------------
    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        p = vsphere(self)
        clone = inputs.get("clone") or {}
        if not clone.get("templateUuid"):
            raise ProviderError("the stand-in vSphere provider only creates VMs by cloning (clone.templateUuid)")
        template = p.find_vm_by_uuid(str(clone["templateUuid"]))
        if template is None:
            uuid = clone["templateUuid"]
            raise ProviderError(f"cannot locate virtual machine or template with UUID {uuid!r}: not found")
        pool = p.entity(vim.ResourcePool, str(inputs["resourcePoolId"]), "resource pool")
        folder = _folder(p, pool, str(inputs.get("folder") or ""))
        relocate = vim.vm.RelocateSpec(pool=pool)
        if inputs.get("datastoreId"):
            relocate.datastore = p.entity(vim.Datastore, str(inputs["datastoreId"]), "datastore")
        if inputs.get("hostSystemId"):
            relocate.host = p.entity(vim.HostSystem, str(inputs["hostSystemId"]), "host")
        else:
            # vCenter places a clone on a host of the target pool's cluster (DRS); the simulator
            # keeps the template's host, which may be in another cluster (and so another zone).
            relocate.host = _host_of_pool(p, pool)
        spec = vim.vm.CloneSpec(location=relocate, powerOn=False, template=False)
        name = str(inputs["name"])
        task = p.call(lambda: template.CloneVM_Task(folder=folder, name=name, spec=spec))
        minutes = int(clone.get("timeout") or 30)
        vm = p.wait(task, "error cloning virtual machine", timeout=60 * minutes)
        uuid = str(p.call(lambda: vm.config.uuid))
        # vCenter's clone keeps the source's annotation (Notes) unless the spec sets one; vcsim's drops it.
        notes = inputs.get("annotation")
        notes = str(p.call(lambda: template.config.annotation) or "") if notes is None else notes
        try:
            self._post_clone(p, vm, {**inputs, "annotation": notes})
        except Exception as error:
            self._destroy(p, vm)  # the real provider rolls a half-configured clone back
            raise ProviderError(f"error reconfiguring virtual machine: {error}") from None
        try:
            wait_for_guest(p, vm, inputs)
        except ProviderError as error:
            raise InitFailedError(str(error), uuid, read_vm(p, vm, inputs)) from None
        return uuid, read_vm(p, vm, inputs)

    def _post_clone(self, p: VSphereProvider, vm: Any, inputs: Mapping[str, Any]) -> None:
        spec = _config_spec(inputs, None)
        spec.deviceChange = _device_changes(p, vm, inputs)
        p.wait(p.call(lambda: vm.ReconfigVM_Task(spec=spec)), "error reconfiguring virtual machine")
        self._upgrade(p, vm, inputs.get("hardwareVersion"))
        for tag_id in inputs.get("tags") or []:
            p.tagging.attach(str(tag_id), ObjectRef("VirtualMachine", vm._moId))
        p.wait(p.call(vm.PowerOnVM_Task), "error powering on virtual machine")

    def _upgrade(self, p: VSphereProvider, vm: Any, target: Any) -> None:
        if not target:
            return
        current = hardware_number(p.call(lambda: vm.config.version))
        if current > int(target):
            raise ProviderError(f"cannot downgrade virtual machine hardware version: current {current} > {target}")
        if current < int(target):
            task = p.call(lambda: vm.UpgradeVM_Task(version=f"vmx-{int(target)}"))
            p.wait(task, "error upgrading virtual machine hardware version")

    # --- read / update / delete ------------------------------------------------------------
    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        p = vsphere(self)
        vm = p.find_vm_by_uuid(resource_id)
        if vm is None:
            return None
        return read_vm(p, vm, {**inputs, **state})

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        p = vsphere(self)
        vm = p.find_vm_by_uuid(resource_id)
        if vm is None:
            raise ProviderError(f"cannot locate virtual machine with UUID {resource_id!r}: not found")
        sizing = any(olds.get(k) != news.get(k) for k in ("numCpus", "numCoresPerSocket", "memory", "firmware"))
        flags = bool(olds.get("enableDiskUuid")) != bool(news.get("enableDiskUuid"))
        extra = (olds.get("extraConfig") or {}) != (news.get("extraConfig") or {})
        reboot = sizing or flags or (extra and news.get("extraConfigRebootRequired", True) is not False)
        powered_on = p.power_state(vm) == "poweredOn"
        if reboot and powered_on:
            # The real provider shuts the guest down (forcing it when forcePowerOff) and restarts it.
            p.wait(p.call(vm.PowerOffVM_Task), "error shutting down virtual machine")
        spec = _config_spec(news, olds)
        spec.deviceChange = _device_changes(p, vm, news)
        p.wait(p.call(lambda: vm.ReconfigVM_Task(spec=spec)), "error reconfiguring virtual machine")
        self._upgrade(p, vm, news.get("hardwareVersion"))
        obj = ObjectRef("VirtualMachine", vm._moId)
        have, want = set(p.tagging.attached_tags(obj)), {str(t) for t in news.get("tags") or []}
        for tag_id in sorted(want - have):
            p.tagging.attach(tag_id, obj)
        for tag_id in sorted(set(olds.get("tags") or []) & (have - want)):
            p.tagging.detach(str(tag_id), obj)
        if reboot and powered_on:
            p.wait(p.call(vm.PowerOnVM_Task), "error powering on virtual machine")
        return read_vm(p, vm, news)

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        p = vsphere(self)
        vm = p.find_vm_by_uuid(resource_id)
        if vm is not None:  # already gone is success for the stand-in (the real one errors)
            self._destroy(p, vm)

    @staticmethod
    def _destroy(p: VSphereProvider, vm: Any) -> None:
        if p.power_state(vm) != "poweredOff":
            p.wait(p.call(vm.PowerOffVM_Task), "error shutting down virtual machine")
        p.wait(p.call(vm.Destroy_Task), "error destroying virtual machine")


def _host_of_pool(p: VSphereProvider, pool: Any) -> Any:
    """The first connected host of the compute resource that owns ``pool`` (None: let vCenter pick)."""

    def connected(host: Any) -> bool:
        return bool(p.call(lambda: host.runtime.connectionState) == "connected")

    owner = p.call(lambda: pool.owner)
    hosts = [h for h in p.call(lambda: owner.host) or [] if connected(h)]
    return hosts[0] if hosts else None
