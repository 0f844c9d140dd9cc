"""The permission's vCenter side: AuthorizationManager calls for one principal on one entity."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim, vmodl

from providers.vcenter.connection import VCenterConnection

from .plan import Inputs, Observed

_TYPES: dict[str, Any] = {"Folder": vim.Folder, "Datacenter": vim.Datacenter, "Datastore": vim.Datastore}


def _entity(conn: VCenterConnection, inputs: Inputs) -> Any:
    stub = conn.service_content().rootFolder._stub  # the session's SOAP stub, shared by every object
    return _TYPES[inputs.entity_type](inputs.entity_id, stub)


def _same_principal(a: str, b: str) -> bool:
    return a.lower() == b.lower()  # vCenter compares principal names without case


def read(conn: VCenterConnection, inputs: Inputs) -> Observed | None:
    """The principal's own permission on the entity; None if it has none (or the entity is gone)."""
    auth = conn.service_content().authorizationManager
    try:
        perms = conn.call(lambda: auth.RetrieveEntityPermissions(_entity(conn, inputs), False))
    except vmodl.fault.ManagedObjectNotFound:
        return None
    for p in perms or []:
        if _same_principal(p.principal, inputs.principal) and bool(p.group) == inputs.is_group:
            return Observed(int(p.roleId), bool(p.propagate))
    return None


def grant(conn: VCenterConnection, inputs: Inputs) -> None:
    """SetEntityPermissions with this principal alone: it adds or updates only this one."""
    auth = conn.service_content().authorizationManager
    perm = vim.AuthorizationManager.Permission(  # type: ignore[no-untyped-call]
        principal=inputs.principal, group=inputs.is_group, roleId=inputs.role_id, propagate=inputs.propagate
    )
    conn.call(lambda: auth.SetEntityPermissions(_entity(conn, inputs), [perm]))


def revoke(conn: VCenterConnection, inputs: Inputs) -> None:
    """RemoveEntityPermission of this principal; already gone (or the entity is) is done."""
    auth = conn.service_content().authorizationManager
    try:
        conn.call(lambda: auth.RemoveEntityPermission(_entity(conn, inputs), inputs.principal, inputs.is_group))
    except (vim.fault.NotFound, vmodl.fault.ManagedObjectNotFound):
        return
