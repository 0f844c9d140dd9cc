"""DRS groups and rules of the STAND-IN vSphere plugin (a test double of pulumi-resource-vsphere).

ComputeClusterVmAntiAffinityRule, ComputeClusterVmGroup, ComputeClusterHostGroup
and ComputeClusterVmHostRule, each one entry of a cluster's ``configurationEx``
changed with ReconfigureComputeResource_Task. Ids, ForceNew fields and defaults
are the real provider's: a rule is ``<cluster moid>:<rule key>``, a group
``<cluster moid>:<group name>``; the cluster (and a group's name) force a new
resource; VMs are named by their BIOS UUIDs, hosts by moid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyVmomi import vim as _vim

from toolchain.standins.schema import Field, Schema
from toolchain.standins.server import ProviderError, Resource

from .connection import VSphereProvider, vsphere

# pyVmomi's types are generated and partial: treat its namespaces as untyped.
vim: Any = _vim


def _cluster(p: VSphereProvider, moid: str) -> Any:
    return p.entity(vim.ClusterComputeResource, moid, "compute cluster")


def _cluster_if_any(p: VSphereProvider, moid: str) -> Any | None:
    obj = p.ref(vim.ClusterComputeResource, moid)
    return obj if moid and p.exists(obj) else None


def _reconfigure(p: VSphereProvider, cluster: Any, spec: Any, what: str) -> None:
    task = p.call(lambda: cluster.ReconfigureComputeResource_Task(spec=spec, modify=True))
    p.wait(task, what)


def vm_refs(p: VSphereProvider, uuids: list[str]) -> list[Any]:
    refs = []
    for uuid in uuids:
        vm = p.find_vm_by_uuid(uuid)
        if vm is None:
            raise ProviderError(f"virtual machine with UUID {uuid!r} not found")
        refs.append(vm)
    return refs


def vm_uuids(p: VSphereProvider, refs: list[Any]) -> list[str]:
    return sorted(str(p.prop(r, "config.uuid")) for r in refs or [])


def _split(resource_id: str) -> tuple[str, str]:
    cluster, sep, rest = resource_id.partition(":")
    if not sep:
        raise ProviderError(f"bad ID {resource_id!r}")
    return cluster, rest


class _ClusterEntry(Resource):
    """One rule or group in a cluster's ``configurationEx``: edited and removed the same way for every kind."""

    autoname = True

    def _config(self, cluster: Any) -> Any:
        return vsphere(self).call(lambda: cluster.configurationEx)

    def _spec(self, operation: str, info: Any = None, remove: Any = None) -> Any:
        raise NotImplementedError

    def _entry(self, inputs: Mapping[str, Any], resource_id: str | None = None) -> Any:
        """The rule's or group's info for ``inputs`` (an edit keeps the key ``resource_id`` names)."""
        raise NotImplementedError

    def _what(self, name: str) -> str:
        raise NotImplementedError

    def _removal(self, entry: Any) -> Any:
        """What ``removeKey`` names the entry by."""
        raise NotImplementedError

    def _find(self, resource_id: str) -> tuple[Any, Any] | None:
        raise NotImplementedError

    def update(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        p = vsphere(self)
        cluster = _cluster(p, _split(resource_id)[0])
        spec = self._spec("edit", self._entry(news, resource_id))
        _reconfigure(p, cluster, spec, f"updating {self._what(str(news['name']))}")
        return self.read(resource_id, olds, news) or dict(news)

    def delete(self, resource_id: str, state: Mapping[str, Any], timeout: float) -> None:
        found = self._find(resource_id)
        if found is None:
            return
        cluster, entry = found
        spec = self._spec("remove", remove=self._removal(entry))
        _reconfigure(vsphere(self), cluster, spec, f"deleting {self._what(str(entry.name))}")


class ComputeClusterVmAntiAffinityRule(_ClusterEntry):
    pulumi_type = "vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule"
    schema: ClassVar[Schema] = {
        "computeClusterId": Field("str", required=True, force_new=True),
        "name": Field("str"),
        "virtualMachineIds": Field("set", required=True),
        "enabled": Field("bool", default=True),
        "mandatory": Field("bool"),
    }

    def _entry(self, inputs: Mapping[str, Any], resource_id: str | None = None) -> Any:
        return self._info(inputs, int(_split(resource_id)[1]) if resource_id else None)

    def _what(self, name: str) -> str:
        return "the anti-affinity rule"

    def _removal(self, entry: Any) -> Any:
        return entry.key

    def _info(self, inputs: Mapping[str, Any], key: int | None = None) -> Any:
        p = vsphere(self)
        return vim.cluster.AntiAffinityRuleSpec(
            key=key,
            name=inputs["name"],
            enabled=bool(inputs.get("enabled", True)),
            mandatory=bool(inputs.get("mandatory", False)),
            userCreated=True,
            vm=vm_refs(p, list(inputs.get("virtualMachineIds") or [])),
        )

    def _spec(self, operation: str, info: Any = None, remove: Any = None) -> Any:
        return vim.cluster.ConfigSpecEx(
            rulesSpec=[vim.cluster.RuleSpec(operation=operation, info=info, removeKey=remove)]
        )

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        p = vsphere(self)
        cluster = _cluster(p, str(inputs["computeClusterId"]))
        _reconfigure(p, cluster, self._spec("add", self._entry(inputs)), f"creating {self._what(inputs['name'])}")
        found = [r for r in self._config(cluster).rule if r.name == inputs["name"]]
        if not found:
            raise ProviderError(f"rule {inputs['name']!r} not found after its creation")
        resource_id = f"{cluster._moId}:{found[-1].key}"
        return resource_id, self.read(resource_id, {}, inputs) or dict(inputs)

    def _is_kind(self, rule: Any) -> bool:
        return isinstance(rule, vim.cluster.AntiAffinityRuleSpec)

    def _fields(self, rule: Any) -> dict[str, Any]:
        """What this kind of rule reads back beyond the fields every rule has."""
        return {"virtualMachineIds": vm_uuids(vsphere(self), list(rule.vm or []))}

    def _find(self, resource_id: str) -> tuple[Any, Any] | None:
        p = vsphere(self)
        cluster_id, key = _split(resource_id)
        cluster = _cluster_if_any(p, cluster_id)
        if cluster is None:
            return None
        for rule in self._config(cluster).rule:
            if str(rule.key) == key and self._is_kind(rule):
                return cluster, rule
        return None

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._find(resource_id)
        if found is None:
            return None
        cluster, rule = found
        return {
            "computeClusterId": cluster._moId,
            "name": rule.name,
            "enabled": bool(rule.enabled),
            "mandatory": bool(rule.mandatory),
            **self._fields(rule),
        }


class ComputeClusterVmHostRule(ComputeClusterVmAntiAffinityRule):
    pulumi_type = "vsphere:index/computeClusterVmHostRule:ComputeClusterVmHostRule"
    schema: ClassVar[Schema] = {
        "computeClusterId": Field("str", required=True, force_new=True),
        "name": Field("str"),
        "vmGroupName": Field("str", required=True),
        "affinityHostGroupName": Field("str"),
        "antiAffinityHostGroupName": Field("str"),
        "enabled": Field("bool", default=True),
        "mandatory": Field("bool"),
    }

    def _info(self, inputs: Mapping[str, Any], key: int | None = None) -> Any:
        return vim.cluster.VmHostRuleInfo(
            key=key,
            name=inputs["name"],
            enabled=bool(inputs.get("enabled", True)),
            mandatory=bool(inputs.get("mandatory", False)),
            userCreated=True,
            vmGroupName=inputs["vmGroupName"],
            affineHostGroupName=inputs.get("affinityHostGroupName") or None,
            antiAffineHostGroupName=inputs.get("antiAffinityHostGroupName") or None,
        )

    def _is_kind(self, rule: Any) -> bool:
        return isinstance(rule, vim.cluster.VmHostRuleInfo)

    def _fields(self, rule: Any) -> dict[str, Any]:
        return {
            "vmGroupName": rule.vmGroupName or "",
            "affinityHostGroupName": rule.affineHostGroupName or "",
            "antiAffinityHostGroupName": rule.antiAffineHostGroupName or "",
        }


class ComputeClusterVmGroup(_ClusterEntry):
    pulumi_type = "vsphere:index/computeClusterVmGroup:ComputeClusterVmGroup"
    members = "virtualMachineIds"
    schema: ClassVar[Schema] = {
        "name": Field("str", force_new=True),
        "computeClusterId": Field("str", required=True, force_new=True),
        "virtualMachineIds": Field("set"),
    }

    def _group(self, inputs: Mapping[str, Any]) -> Any:
        refs = vm_refs(vsphere(self), list(inputs.get(self.members) or []))
        return vim.cluster.VmGroup(name=inputs["name"], userCreated=True, vm=refs)

    def _members(self, group: Any) -> list[str]:
        return vm_uuids(vsphere(self), list(group.vm or []))

    def _entry(self, inputs: Mapping[str, Any], resource_id: str | None = None) -> Any:
        return self._group(inputs)

    def _what(self, name: str) -> str:
        return f"group {name!r}"

    def _removal(self, entry: Any) -> Any:
        return entry.name

    def _spec(self, operation: str, info: Any = None, remove: Any = None) -> Any:
        return vim.cluster.ConfigSpecEx(
            groupSpec=[vim.cluster.GroupSpec(operation=operation, info=info, removeKey=remove)]
        )

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        p = vsphere(self)
        cluster = _cluster(p, str(inputs["computeClusterId"]))
        _reconfigure(p, cluster, self._spec("add", self._entry(inputs)), f"creating {self._what(inputs['name'])}")
        resource_id = f"{cluster._moId}:{inputs['name']}"
        return resource_id, self.read(resource_id, {}, inputs) or dict(inputs)

    def _find(self, resource_id: str) -> tuple[Any, Any] | None:
        cluster_id, name = _split(resource_id)
        cluster = _cluster_if_any(vsphere(self), cluster_id)
        if cluster is None:
            return None
        kind = vim.cluster.VmGroup if self.members == "virtualMachineIds" else vim.cluster.HostGroup
        for group in self._config(cluster).group:
            if group.name == name and isinstance(group, kind):
                return cluster, group
        return None

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._find(resource_id)
        if found is None:
            return None
        cluster, group = found
        return {"computeClusterId": cluster._moId, "name": group.name, self.members: self._members(group)}


class ComputeClusterHostGroup(ComputeClusterVmGroup):
    pulumi_type = "vsphere:index/computeClusterHostGroup:ComputeClusterHostGroup"
    members = "hostSystemIds"
    schema: ClassVar[Schema] = {
        "name": Field("str", force_new=True),
        "computeClusterId": Field("str", required=True, force_new=True),
        "hostSystemIds": Field("set"),
    }

    def _group(self, inputs: Mapping[str, Any]) -> Any:
        p = vsphere(self)
        hosts = [p.entity(vim.HostSystem, str(h), "host") for h in inputs.get("hostSystemIds") or []]
        return vim.cluster.HostGroup(name=inputs["name"], userCreated=True, host=hosts)

    def _members(self, group: Any) -> list[str]:
        return sorted(h._moId for h in group.host or [])
