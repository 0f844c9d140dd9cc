"""The world's one walk over the simulator's VMs: chosen properties of every VM in one
PropertyCollector read over a container view (what the node agent, the day-2 recorder and the
vCenter reader each need, without three copies of the filter spec)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyVmomi import vim, vmodl


def vm_properties(content: Any, paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(managed object id, {property path: value}) of every VM; a path a VM lacks is absent."""
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    pc: Any = vmodl.query.PropertyCollector
    try:
        spec = pc.FilterSpec(
            objectSet=[
                pc.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)],
                )
            ],
            propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=list(paths))],
        )
        return [
            (str(obj.obj._moId), {p.name: p.val for p in obj.propSet})
            for obj in content.propertyCollector.RetrieveContents([spec]) or []
        ]
    finally:
        view.Destroy()


def powered_on(content: Any, *, extra: Sequence[str] = ()) -> list[tuple[str, dict[str, Any]]]:
    """:func:`vm_properties` (with ``name``) of the powered-on VMs only."""
    found = vm_properties(content, ["name", "runtime.powerState", *extra])
    return [(moid, props) for moid, props in found if props.get("runtime.powerState") == "poweredOn"]


def find_vm(content: Any, name: str) -> Any:
    """The VM of that name (a managed object to call methods on), found in one read; None if absent."""
    moid = next((m for m, props in vm_properties(content, ["name"]) if props.get("name") == name), None)
    return None if moid is None else vim.VirtualMachine(moid, content.propertyCollector._stub)


def annotation_of(content: Any, name: str) -> str:
    """A VM's notes (``config.annotation``), in the same one read; empty if absent or unset."""
    found = vm_properties(content, ["name", "config.annotation"])
    return next((str(p.get("config.annotation") or "") for _m, p in found if p.get("name") == name), "")
