"""The VirtualMachine schema of the STAND-IN vSphere plugin (a test double of pulumi-resource-vsphere).

Names are the Python SDK's wire names; defaults, computed fields and ForceNew
are terraform-provider-vsphere 2.16's (``resource_vsphere_virtual_machine.go``
and its sub-resource schemas). A replace comes only from ``clone`` (every field
but ``timeout``), ``datastorePath``, ``replaceTrigger`` and a NIC's
``ovfMapping``, as in the real provider's CustomizeDiff; everything else updates
in place.
"""

from __future__ import annotations

from toolchain.standins.schema import Field

DISK = {
    "label": Field("str"),
    "size": Field("int"),
    "thinProvisioned": Field("bool", default=True),
    "eagerlyScrub": Field("bool", default=False),
    "unitNumber": Field("int", default=0),
    "datastoreId": Field("str", computed=True),
    "path": Field("str", computed=True),
    "keepOnRemove": Field("bool", default=False),
    "attach": Field("bool", default=False),
    "diskMode": Field("str", default="persistent"),
    "diskSharing": Field("str", default="sharingNone"),
    "writeThrough": Field("bool", default=False),
    "ioLimit": Field("int", default=-1),
    "ioReservation": Field("int", default=0),
    "ioShareLevel": Field("str", default="normal"),
    "ioShareCount": Field("int", computed=True),
    "storagePolicyId": Field("str", computed=True),
    "controllerType": Field("str", default="scsi"),
    "uuid": Field("str", computed=True),
    "key": Field("int", computed=True),
    "deviceAddress": Field("str", computed=True),
}

NIC = {
    "networkId": Field("str", required=True),
    "adapterType": Field("str", default="vmxnet3", choices=("e1000", "e1000e", "sriov", "vmxnet3", "vrdma")),
    "useStaticMac": Field("bool", default=False),
    "macAddress": Field("str", computed=True),
    "bandwidthLimit": Field("int", default=-1),
    "bandwidthReservation": Field("int", default=0),
    "bandwidthShareLevel": Field("str", default="normal"),
    "bandwidthShareCount": Field("int", computed=True),
    "ovfMapping": Field("str", force_new=True),
    "physicalFunction": Field("str"),
    "externalPortId": Field("str", computed=True),
    "key": Field("int", computed=True),
    "deviceAddress": Field("str", computed=True),
}

CLONE = {
    "templateUuid": Field("str", required=True, force_new=True),
    "linkedClone": Field("bool", force_new=True),
    "timeout": Field("int", default=30),  # the one clone field that does not replace
    "customize": Field("object", force_new=True),
    "customizationSpec": Field("object", force_new=True),
    "ovfNetworkMap": Field("map", force_new=True),
    "ovfStorageMap": Field("map", force_new=True),
}


def _b(default: bool | None = None) -> Field:
    return Field("bool") if default is None else Field("bool", default=default)


def _i(default: int | None = None, computed: bool = False) -> Field:
    return Field("int", computed=computed) if default is None else Field("int", default=default)


def _s(default: str | None = None, computed: bool = False) -> Field:
    return Field("str", computed=computed) if default is None else Field("str", default=default)


VM = {
    "alternateGuestName": _s(),
    "annotation": _s(computed=True),
    "bootDelay": _i(0),
    "bootRetryDelay": _i(10000),
    "bootRetryEnabled": _b(),
    "cdroms": Field("list"),
    "clone": Field("object", elem=CLONE),
    "cpuHotAddEnabled": _b(),
    "cpuHotRemoveEnabled": _b(),
    "cpuLimit": _i(-1),
    "cpuPerformanceCountersEnabled": _b(),
    "cpuReservation": _i(0),
    "cpuShareCount": _i(computed=True),
    "cpuShareLevel": _s("normal"),
    "customAttributes": Field("map"),
    "datacenterId": _s(),
    "datastoreClusterId": _s(),
    "datastoreId": _s(computed=True),
    "datastorePath": Field("str", force_new=True),
    "disks": Field("list", computed=True, elem=DISK),
    "efiSecureBootEnabled": _b(),
    "enableDiskUuid": _b(),
    "enableLogging": _b(),
    "eptRviMode": _s(computed=True),
    "evcMode": _s(),
    "extraConfig": Field("map"),
    "extraConfigRebootRequired": _b(True),
    "firmware": Field("str", default="bios", choices=("bios", "efi")),
    "folder": _s(),
    "forcePowerOff": _b(True),
    "guestId": _s(computed=True),
    "hardwareVersion": _i(computed=True),
    "hostSystemId": _s(computed=True),
    "hvMode": _s(computed=True),
    "ideControllerCount": _i(2),
    "ignoredGuestIps": Field("list"),
    "latencySensitivity": _s("normal"),
    "memory": _i(1024),
    "memoryHotAddEnabled": _b(),
    "memoryLimit": _i(-1),
    "memoryReservation": _i(0),
    "memoryReservationLockedToMax": _b(),
    "memoryShareCount": _i(computed=True),
    "memoryShareLevel": _s("normal"),
    "migrateWaitTimeout": _i(30),
    "name": _s(),
    "nestedHvEnabled": _b(),
    "networkInterfaces": Field("list", elem=NIC),
    "numCoresPerNumaNode": _i(),
    "numCoresPerSocket": _i(1),
    "numCpus": _i(1),
    "nvmeControllerCount": _i(0),
    "ovfDeploy": Field("object"),
    "pciDeviceIds": Field("set"),
    "poweronTimeout": _i(300),
    "replaceTrigger": Field("str", force_new=True),
    "resourcePoolId": Field("str", required=True),
    "runToolsScriptsAfterPowerOn": _b(True),
    "runToolsScriptsAfterResume": _b(True),
    "runToolsScriptsBeforeGuestReboot": _b(False),
    "runToolsScriptsBeforeGuestShutdown": _b(True),
    "runToolsScriptsBeforeGuestStandby": _b(True),
    "sataControllerCount": _i(0),
    "scsiBusSharing": _s("noSharing"),
    "scsiControllerCount": _i(1),
    "scsiType": Field("str", default="pvscsi", choices=("lsilogic", "lsilogic-sas", "pvscsi")),
    "shutdownWaitTimeout": _i(3),
    "storagePolicyId": _s(computed=True),
    "swapPlacementPolicy": _s("inherit"),
    "syncTimeWithHost": _b(True),
    "syncTimeWithHostPeriodically": _b(),
    "tags": Field("set"),
    "toolsUpgradePolicy": _s("manual"),
    "vapp": Field("object"),
    "vbsEnabled": _b(),
    "videoCard": Field("object"),
    "vtpm": Field("object"),
    "vvtdEnabled": _b(),
    "waitForGuestIpTimeout": _i(0),
    "waitForGuestNetRoutable": _b(True),
    "waitForGuestNetTimeout": _i(5),  # minutes: the real default waits for a routable IP
    # Computed only.
    "changeVersion": Field("str", output=True),
    "defaultIpAddress": Field("str", output=True),
    "guestIpAddresses": Field("list", output=True),
    "imported": Field("bool", output=True),
    "moid": Field("str", output=True),
    "powerState": Field("str", output=True),
    "rebootRequired": Field("bool", output=True),
    "uuid": Field("str", output=True),
    "vappTransports": Field("list", output=True),
    "vmwareToolsStatus": Field("str", output=True),
    "vmxPath": Field("str", output=True),
}
