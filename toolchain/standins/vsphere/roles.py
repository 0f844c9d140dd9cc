"""Role and EntityPermissions of the STAND-IN vSphere plugin (a test double of pulumi-resource-vsphere).

Through the AuthorizationManager, as the real provider: a role's id is its
numeric role id as a string and its privileges read back without the ``System.*``
ones vCenter adds to every role (so a plan stays empty); an EntityPermissions'
id is the entity's moid, its entity forces a new resource, and the permissions
read back sorted by principal, case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyVmomi import vim as _vim

from toolchain.standins.schema import DiffResult, Field, Schema
from toolchain.standins.server import ProviderError, Resource
from toolchain.standins.wire import contains_unknown, reveal

from .connection import VSphereProvider, vsphere

# pyVmomi's types are generated and partial: treat its namespaces as untyped.
vim: Any = _vim


class Role(Resource):
    pulumi_type = "vsphere:index/role:Role"
    autoname = True
    schema: ClassVar[Schema] = {
        "name": Field("str"),
        "rolePrivileges": Field("list"),
        "label": Field("str", output=True),
    }

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any], ignore: tuple[str, ...]) -> DiffResult:
        result = super().diff(olds, news, ignore)
        # The real provider suppresses a privileges diff that is only a reordering.
        old, new = olds.get("rolePrivileges"), news.get("rolePrivileges")
        if isinstance(old, list) and isinstance(new, list) and sorted(map(str, old)) == sorted(map(str, new)):
            result.changes.pop("rolePrivileges", None)
        return result

    def _manager(self) -> Any:
        return vsphere(self).content.authorizationManager

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        p, name = vsphere(self), str(inputs["name"])
        privileges = [str(x) for x in inputs.get("rolePrivileges") or []]
        try:
            role_id = p.call(lambda: self._manager().AddAuthorizationRole(name=name, privIds=privileges))
        except vim.fault.VimFault as fault:
            raise ProviderError(f"error while creating role with name {name} {fault.msg}") from None
        return str(role_id), self.read(str(role_id), {}, inputs) or dict(inputs)

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        roles = vsphere(self).call(lambda: self._manager().roleList)
        role = next((r for r in roles if str(r.roleId) == resource_id), None)
        if role is None:
            return None
        label = role.info.label if role.info is not None else ""
        privileges = [x for x in role.privilege or [] if x.split(".")[0] != "System"]
        # Keep the program's order when the set is the same (the real diff ignores order).
        given = list(state.get("rolePrivileges") or inputs.get("rolePrivileges") or [])
        if sorted(given) == sorted(privileges):
            privileges = given
        return {"name": role.name, "rolePrivileges": privileges, "label": label or ""}

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        p = vsphere(self)
        privileges = [str(x) for x in news.get("rolePrivileges") or []]
        try:
            p.call(
                lambda: self._manager().UpdateAuthorizationRole(
                    roleId=int(resource_id), newName=str(news["name"]), privIds=privileges
                )
            )
        except vim.fault.VimFault as fault:
            raise ProviderError(f"error while updating role with is {resource_id} {fault.msg}") from None
        return self.read(resource_id, olds, news) or dict(news)

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        if self.read(resource_id, state, {}) is None:
            return
        try:
            vsphere(self).call(
                lambda: self._manager().RemoveAuthorizationRole(roleId=int(resource_id), failIfUsed=True)
            )
        except vim.fault.VimFault as fault:
            raise ProviderError(f"error while deleting role with id {resource_id} {fault.msg}") from None


_PERMISSION = {
    "userOrGroup": Field("str", required=True),
    "isGroup": Field("bool", required=True),
    "propagate": Field("bool", required=True),
    "roleId": Field("str", required=True),
}


def _entity(p: VSphereProvider, entity_type: str, entity_id: str) -> Any:
    kind = getattr(vim, entity_type, None)
    if kind is None:
        raise ProviderError(f"unknown entity type {entity_type!r}")
    if entity_type == "VirtualMachine" and "-" in entity_id and not entity_id.startswith("vm-"):
        vm = p.find_vm_by_uuid(entity_id)  # a VM may be named by its UUID
        if vm is None:
            raise ProviderError(f"virtual machine with UUID {entity_id!r} not found")
        return vm
    return p.ref(kind, entity_id)


def _remove(p: VSphereProvider, manager: Any, entity: Any, perm: Mapping[str, Any]) -> None:
    user, group = str(perm["userOrGroup"]), bool(perm.get("isGroup"))
    p.call(lambda: manager.RemoveEntityPermission(entity=entity, user=user, isGroup=group))


def _sorted(perms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(perms, key=lambda x: str(x["userOrGroup"]).lower())


class EntityPermissions(Resource):
    pulumi_type = "vsphere:index/entityPermissions:EntityPermissions"
    schema: ClassVar[Schema] = {
        "entityId": Field("str", required=True, force_new=True),
        "entityType": Field("str", required=True, force_new=True),
        "permissions": Field("list", required=True, elem=_PERMISSION),
    }

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any], ignore: tuple[str, ...]) -> DiffResult:
        result = super().diff(olds, news, ignore)

        def canon(items: Any) -> Any:
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                return None
            return _sorted([{**i, "userOrGroup": str(i.get("userOrGroup", "")).lower()} for i in items])

        # The real provider ignores order and the case of principals.
        old, new = reveal(olds.get("permissions")), reveal(news.get("permissions"))
        if not contains_unknown(new) and canon(old) is not None and canon(old) == canon(new):
            result.changes = {k: v for k, v in result.changes.items() if not k.startswith("permissions")}
        return result

    def _set(self, p: VSphereProvider, entity: Any, perms: list[Mapping[str, Any]]) -> None:
        seen: set[str] = set()
        objs = []
        for perm in perms:
            principal = str(perm["userOrGroup"])
            if principal.lower() in seen:
                raise ProviderError(
                    f"user/group {principal} repeated, there is already a permission defined for the user/group"
                )
            seen.add(principal.lower())
            objs.append(
                vim.AuthorizationManager.Permission(
                    principal=principal,
                    group=bool(perm.get("isGroup")),
                    propagate=bool(perm.get("propagate")),
                    roleId=int(str(perm["roleId"])),
                )
            )
        manager = p.content.authorizationManager
        p.call(lambda: manager.SetEntityPermissions(entity=entity, permission=objs))

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        p = vsphere(self)
        entity = _entity(p, str(inputs["entityType"]), str(inputs["entityId"]))
        try:
            self._set(p, entity, list(inputs["permissions"]))
        except vim.fault.VimFault as fault:
            raise ProviderError(
                f"error while creating permission for entity id {inputs['entityId']} {fault.msg}"
            ) from None
        resource_id = str(entity._moId)
        return resource_id, self.read(resource_id, inputs, inputs) or dict(inputs)

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        p = vsphere(self)
        entity_type = str(state.get("entityType") or inputs.get("entityType") or "")
        entity = _entity(p, entity_type, resource_id)
        if not p.exists(entity):
            return None
        manager = p.content.authorizationManager
        found = p.call(lambda: manager.RetrieveEntityPermissions(entity=entity, inherited=False))
        if not found:
            return None
        perms = _sorted(
            [
                {
                    "userOrGroup": x.principal,
                    "isGroup": bool(x.group),
                    "propagate": bool(x.propagate),
                    "roleId": str(x.roleId),
                }
                for x in found
            ]
        )
        return {"entityId": state.get("entityId") or resource_id, "entityType": entity_type, "permissions": perms}

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        p = vsphere(self)
        entity = _entity(p, str(news["entityType"]), resource_id)
        manager = p.content.authorizationManager
        self._set(p, entity, list(news["permissions"]))
        keep = {str(x["userOrGroup"]).lower() for x in news["permissions"]}
        for old in olds.get("permissions") or []:
            if str(old["userOrGroup"]).lower() not in keep:
                _remove(p, manager, entity, old)
        return self.read(resource_id, news, news) or dict(news)

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        p = vsphere(self)
        entity = _entity(p, str(state.get("entityType") or ""), resource_id)
        if not p.exists(entity):
            return
        manager = p.content.authorizationManager
        for perm in state.get("permissions") or []:
            try:
                _remove(p, manager, entity, perm)
            except vim.fault.NotFound:
                continue  # already removed out of band
