"""Node VMs: the vSphere CSI driver's prerequisites (disk UUIDs, virtual hardware)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vsphere_k8s.facts import MIN_HARDWARE_VERSION

from ..facts import VM
from ..view import ResourceView, is_unknown


def vm_disk_uuid_and_hardware(vm: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """CSI attaches disks by their UUID and needs virtual hardware ``MIN_HARDWARE_VERSION`` or later."""
    if vm.type != VM:
        return []
    problems = []
    minimum = int(config.get("minHardwareVersion", MIN_HARDWARE_VERSION))
    uuid = vm.prop("enableDiskUuid")
    if not is_unknown(uuid) and uuid is not True:
        problems.append("enableDiskUuid must be true (disk.EnableUUID=TRUE): the CSI driver identifies disks by UUID")
    extra = vm.prop("extraConfig")
    if isinstance(extra, Mapping) and str(extra.get("disk.EnableUUID", "TRUE")).upper() == "FALSE":
        problems.append("extraConfig sets disk.EnableUUID=FALSE, which overrides enableDiskUuid")
    version = vm.prop("hardwareVersion")
    if version is None:
        problems.append(
            f"hardwareVersion is not set: the clone keeps the template's, which may be below {minimum}; "
            f"set it to {minimum} or later"
        )
    elif not is_unknown(version) and int(version) < minimum:
        problems.append(f"hardwareVersion {int(version)} is below {minimum}, the vSphere CSI driver's minimum")
    return problems
