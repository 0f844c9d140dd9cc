"""Lookups of existing vCenter objects through the vSphere provider's invokes.

Synchronous on purpose: a missing datastore or template must stop the program
before anything is created, with the config key that named it, rather than
surface later as an engine error about an invoke. Each object is looked up
once per program run, however many pools and zones use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi
import pulumi_vsphere as vsphere

from vsphere_k8s.config import StackConfig, Zone
from vsphere_k8s.errors import ConfigIssue
from vsphere_k8s.template_versions import annotation_issue, template_path

T = TypeVar("T")


class LookupFailed(pulumi.RunError):
    """An object the stack names does not exist (or is not visible to the program's account)."""


class VSphereLookups:
    def __init__(self, cfg: StackConfig, providers: Mapping[str, vsphere.Provider]) -> None:
        self._cfg = cfg
        self._providers = providers
        self._cache: dict[tuple[str, ...], Any] = {}

    def _invoke(self, key: tuple[str, ...], where: str, what: str, call: Callable[[pulumi.InvokeOptions], T]) -> T:
        if key not in self._cache:
            opts = pulumi.InvokeOptions(provider=self._providers[key[0]])
            try:
                self._cache[key] = call(opts)
            except Exception as error:  # the provider's message names the cause; ours names the key
                raise LookupFailed(f"{where}: {what} was not found in vCenter {key[0]} ({error})") from None
        result: T = self._cache[key]
        return result

    def datacenter(self, zone: Zone) -> vsphere.GetDatacenterResult:
        vc = self._cfg.zone_vcenter(zone).name
        return self._invoke(
            (vc, "datacenter", zone.datacenter),
            f"topology.zones[{zone.name}].datacenter",
            f"datacenter {zone.datacenter!r}",
            lambda o: vsphere.get_datacenter(name=zone.datacenter, opts=o),
        )

    def _in_dc(self, zone: Zone, kind: str, name: str, key: str, call: Callable[..., T]) -> T:
        vc = self._cfg.zone_vcenter(zone).name
        dc_id = str(self.datacenter(zone).id)
        return self._invoke(
            (vc, kind, zone.datacenter, name),
            f"topology.zones[{zone.name}].{key}",
            f"{kind} {name!r} in datacenter {zone.datacenter!r}",
            lambda o: call(name=name, datacenter_id=dc_id, opts=o),
        )

    def compute_cluster(self, zone: Zone) -> vsphere.GetComputeClusterResult:
        return self._in_dc(zone, "compute cluster", zone.compute_cluster, "computeCluster", vsphere.get_compute_cluster)

    def datastore(self, zone: Zone) -> vsphere.GetDatastoreResult:
        return self._in_dc(zone, "datastore", zone.datastore, "datastore", vsphere.get_datastore)

    def network(self, zone: Zone) -> vsphere.GetNetworkResult:
        return self._in_dc(zone, "network", zone.network.name, "network.name", vsphere.get_network)

    def resource_pool(self, zone: Zone) -> str:
        """The zone's resource pool id: the configured one, or the cluster's root pool."""
        if zone.resource_pool is None:
            return str(self.compute_cluster(zone).resource_pool_id)
        pool = self._in_dc(zone, "resource pool", zone.resource_pool, "resourcePool", vsphere.get_resource_pool)
        return str(pool.id)

    def host(self, zone: Zone, host: str) -> vsphere.GetHostResult:
        return self._in_dc(zone, "host", host, "hosts", vsphere.get_host)

    def template(self, zone: Zone, template: str, pool_path: str) -> vsphere.GetVirtualMachineResult:
        vc = self._cfg.zone_vcenter(zone).name
        dc_id = str(self.datacenter(zone).id)
        return self._invoke(
            (vc, "template", zone.datacenter, template),
            f"{pool_path}.template",
            f"template {template!r} in datacenter {zone.datacenter!r} (zone {zone.name})",
            lambda o: vsphere.get_virtual_machine(name=template, datacenter_id=dc_id, opts=o),
        )


def template_version_issues(cfg: StackConfig, lookups: VSphereLookups) -> list[ConfigIssue]:
    """Each pool's template as vCenter has it: an annotation ("Notes", where image-builder's OVAs
    record their Kubernetes release) that says another version than the pool runs. The lookups
    are the ones the VMs are cloned from (cached), so this costs no extra call."""
    cp = cfg.node_pools.control_plane
    pools: list[tuple[str | None, str, dict[str, int], str]] = [
        (None, cp.template, cp.replicas, cfg.kubernetes.version)
    ]
    pools += [
        (p.name, p.template, p.replicas, p.kubernetes_version or cfg.kubernetes.version) for p in cfg.node_pools.workers
    ]
    issues: list[ConfigIssue] = []
    for pool, template, replicas, version in pools:
        path = template_path(pool)
        for zone_name, count in replicas.items():
            if not count:
                continue
            found = lookups.template(cfg.zone(zone_name), template, path.removesuffix(".template"))
            issue = annotation_issue(path, template, str(getattr(found, "annotation", None) or ""), version)
            if issue is not None and issue not in issues:
                issues.append(issue)
    return issues
