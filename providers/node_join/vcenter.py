"""NodeJoin's vCenter side: read which watched guestinfo keys a VM carries, and remove them.

Reads go through the PropertyCollector (one round trip, only the properties needed), as
every vCenter read of this program does; the removal is one ReconfigVM_Task setting each
key to the empty string, which is how vSphere deletes an extraConfig key.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from pyVmomi import vim, vmodl

from providers.vcenter.connection import VCenterConnection

from .plan import JoinError, VmView

TASK_TIMEOUT = 300.0
_PROPS = ["config.extraConfig", "config.createDate"]


def find_vm(conn: VCenterConnection, bios_uuid: str) -> Any:
    content = conn.service_content()
    return conn.call(lambda: content.searchIndex.FindByUuid(None, bios_uuid, True, False))


def _props(conn: VCenterConnection, vm: Any) -> dict[str, Any]:
    content = conn.service_content()
    pc: Any = vmodl.query.PropertyCollector  # pyVmomi is untyped
    spec = pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=vm, skip=False)],
        propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=_PROPS)],
    )
    try:
        found = conn.call(lambda: content.propertyCollector.RetrieveContents([spec])) or []
    except vmodl.fault.ManagedObjectNotFound:
        return {}
    return {p.name: p.val for obj in found for p in obj.propSet}


def read(conn: VCenterConnection, bios_uuid: str, keys: Sequence[str]) -> tuple[Any, VmView]:
    vm = find_vm(conn, bios_uuid)
    if vm is None:
        return None, VmView(False)
    props = _props(conn, vm)
    watched = set(keys)
    present = tuple(
        sorted(str(o.key) for o in props.get("config.extraConfig") or [] if o.key in watched and str(o.value or ""))
    )
    created = props.get("config.createDate")
    when = created.astimezone(dt.UTC) if isinstance(created, dt.datetime) else None
    return vm, VmView(True, present, when)


def remove_keys(conn: VCenterConnection, vm: Any, keys: Sequence[str], what: str) -> None:
    """One reconfigure: every key set to "" (deleted). Nothing else of the VM changes."""
    if not keys:
        return
    spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=k, value="") for k in keys])  # type: ignore[no-untyped-call]
    task = conn.call(lambda: vm.ReconfigVM_Task(spec=spec))
    deadline = time.monotonic() + TASK_TIMEOUT
    while True:
        info = conn.call(lambda: task.info)
        if info.state == "success":
            return
        if info.state == "error":
            raise JoinError(f"{what}: removing {', '.join(keys)} from the VM failed: {info.error.msg}")
        if time.monotonic() > deadline:
            raise JoinError(f"{what}: removing {', '.join(keys)} from the VM took over {TASK_TIMEOUT:.0f}s")
        time.sleep(0.2)
