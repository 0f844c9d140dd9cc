"""The get* functions of the STAND-IN vSphere plugin (a test double of pulumi-resource-vsphere).

Each answers with the real data source's output names (the SDK's ``Get*Result``
getters) and ids (moids; a VM's BIOS UUID), and fails as the real one does when
the object is missing: with an error naming the kind and the name it looked for
(``datacenter 'DC9' not found``), which the program wraps with the config key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim as _vim

from providers.vcenter.tagging import BASE
from toolchain.standins.server import Function, Provider, ProviderError

from .connection import VSphereProvider
from .tagging import category_state
from .vm_read import template_outputs

# pyVmomi's types are generated and partial: treat its namespaces as untyped.
vim: Any = _vim


def _p(provider: Provider) -> VSphereProvider:
    assert isinstance(provider, VSphereProvider)
    return provider


def _named(p: VSphereProvider, root: Any, kind: type[Any], name: str, what: str) -> Any:
    """The one object of ``kind`` under ``root`` whose name (or path under it) is ``name``."""
    leaf = name.rstrip("/").rsplit("/", 1)[-1]
    found = [o for o in p.view(root, [kind]) if p.prop(o, "name") == leaf]
    if not found:
        raise ProviderError(f"{what} '{name}' not found")
    if len(found) > 1:
        raise ProviderError(f"path '{name}' resolves to multiple {what}s")
    return found[0]


def _dc(p: VSphereProvider, dc_id: Any) -> Any:
    if dc_id:
        dc = p.ref(vim.Datacenter, str(dc_id))
        if not p.exists(dc):
            raise ProviderError(f"cannot locate datacenter: datacenter {dc_id!r} not found")
        return dc
    dcs = p.view(p.content.rootFolder, [vim.Datacenter])
    if len(dcs) != 1:
        raise ProviderError("default datacenter resolves to multiple instances, please specify")
    return dcs[0]


def get_datacenter(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    name = args.get("name")
    try:
        dc = _named(p, p.content.rootFolder, vim.Datacenter, str(name), "datacenter") if name else _dc(p, None)
    except ProviderError as error:
        raise ProviderError(f"error fetching datacenter: {error}") from None
    vms = sorted(str(p.prop(v, "name")) for v in p.view(dc, [vim.VirtualMachine]))
    return {"id": dc._moId, "name": p.call(lambda: dc.name), "virtualMachines": vms}


def get_compute_cluster(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    dc = _dc(p, args.get("datacenterId"))
    try:
        cluster = _named(p, p.call(lambda: dc.hostFolder), vim.ClusterComputeResource, str(args["name"]), "cluster")
    except ProviderError as error:
        raise ProviderError(f"error loading cluster: {error}") from None
    pool = p.call(lambda: cluster.resourcePool)
    return {
        "id": cluster._moId,
        "name": args["name"],
        "datacenterId": args.get("datacenterId"),
        "resourcePoolId": pool._moId if pool is not None else "",
    }


def get_datastore(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    dc = _dc(p, args.get("datacenterId"))
    try:
        ds = _named(p, p.call(lambda: dc.datastoreFolder), vim.Datastore, str(args["name"]), "datastore")
    except ProviderError as error:
        raise ProviderError(f"error fetching datastore: {error}") from None
    stats: dict[str, str] = {}
    if args.get("stats"):
        summary = p.call(lambda: ds.summary)
        stats = {"capacity": str(summary.capacity), "free": str(summary.freeSpace)}
    return {"id": ds._moId, "name": args["name"], "datacenterId": args.get("datacenterId"), "stats": stats}


def get_network(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    dc = _dc(p, args.get("datacenterId"))
    name = str(args["name"])
    nets = [n for n in p.view(p.call(lambda: dc.networkFolder), [vim.Network]) if p.prop(n, "name") == name]
    switch_uuid = args.get("distributedVirtualSwitchUuid")
    if switch_uuid:
        nets = [
            n
            for n in nets
            if isinstance(n, vim.dvs.DistributedVirtualPortgroup)
            and p.prop(n, "config.distributedVirtualSwitch.uuid") == switch_uuid
        ]
    if not nets:
        raise ProviderError(f"network {name} not found")
    if len(nets) > 1:
        raise ProviderError(f"path '{name}' resolves to multiple networks")
    net = nets[0]
    return {
        "id": net._moId,
        "name": name,
        "type": type(net).__name__.rsplit(".", 1)[-1],
        "datacenterId": args.get("datacenterId"),
        "distributedVirtualSwitchUuid": switch_uuid,
        "filters": args.get("filters"),
        "retryInterval": args.get("retryInterval"),
        "retryTimeout": args.get("retryTimeout"),
        "vpcId": args.get("vpcId"),
        "vpcProjectId": args.get("vpcProjectId"),
    }


def get_resource_pool(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    dc = _dc(p, args.get("datacenterId"))
    name = str(args.get("name") or "")
    root = p.call(lambda: dc.hostFolder)
    if args.get("parentResourcePoolId"):
        root = p.entity(vim.ResourcePool, str(args["parentResourcePoolId"]), "resource pool")
    try:
        pool = _named(p, root, vim.ResourcePool, name, "resource pool")
    except ProviderError as error:
        raise ProviderError(f"error fetching resource pool by path {name!r}: {error}") from None
    parent = p.call(lambda: pool.parent)
    return {
        "id": pool._moId,
        "name": name,
        "datacenterId": args.get("datacenterId"),
        "parentResourcePoolId": parent._moId if isinstance(parent, vim.ResourcePool) else "",
    }


def get_host(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    dc = _dc(p, args.get("datacenterId"))
    try:
        host = _named(p, p.call(lambda: dc.hostFolder), vim.HostSystem, str(args.get("name") or ""), "host")
    except ProviderError as error:
        raise ProviderError(f"error fetching host: {error}") from None
    compute = p.call(lambda: host.parent)
    pool = p.call(lambda: compute.resourcePool) if compute is not None else None
    return {
        "id": host._moId,
        "name": args.get("name"),
        "datacenterId": args.get("datacenterId"),
        "resourcePoolId": pool._moId if pool is not None else "",
    }


def get_folder(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    path = str(args["path"])
    current = p.content.rootFolder
    for part in [x for x in path.strip("/").split("/") if x]:
        children = p.prop(current, "childEntity") if isinstance(current, vim.Folder) else []
        if isinstance(current, vim.Datacenter):
            children = [p.prop(current, a) for a in _DC_FOLDERS]
        match = next((c for c in children if p.prop(c, "name") == part), None)
        if match is None:
            raise ProviderError(f"cannot locate folder: folder '{path}' not found")
        current = match
    return {"id": current._moId, "path": path}


_DC_FOLDERS = ("vmFolder", "hostFolder", "datastoreFolder", "networkFolder")


def get_virtual_machine(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    if args.get("uuid"):
        vm = p.find_vm_by_uuid(str(args["uuid"]))
        if vm is None:
            raise ProviderError(f"error fetching virtual machine: virtual machine with UUID {args['uuid']!r} not found")
    elif args.get("moid"):
        vm = p.entity(vim.VirtualMachine, str(args["moid"]), "virtual machine")
    else:
        dc = _dc(p, args.get("datacenterId"))
        name = "/".join(filter(None, [str(args.get("folder") or "").strip("/"), str(args.get("name") or "")]))
        try:
            vm = _named(p, p.call(lambda: dc.vmFolder), vim.VirtualMachine, name, "vm")
        except ProviderError as error:
            raise ProviderError(f"error fetching virtual machine: {error}") from None
    return template_outputs(p, vm, args.get("datacenterId"))


def _categories(p: VSphereProvider) -> list[dict[str, Any]]:
    ids = p.conn.rest("GET", f"{BASE}/category") or []
    raws = [p.conn.rest("GET", f"{BASE}/category/id:{i}") for i in ids]
    return [r for r in raws if isinstance(r, dict)]


def get_tag_category(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    name = str(args.get("name") or "")
    found = [c for c in _categories(p) if c.get("name") == name or (args.get("id") and c.get("id") == args["id"])]
    if not found:
        raise ProviderError(f"category name {name!r} not found")
    if len(found) > 1:
        raise ProviderError(
            f"tag category name {name!r} returned multiple results; unique tag category names are required"
        )
    return {"id": found[0]["id"], **category_state(found[0])}


def get_tag(provider: Provider, args: Mapping[str, Any]) -> dict[str, Any]:
    p = _p(provider)
    name, category = str(args.get("name") or ""), str(args.get("categoryId") or "")
    tags = [t for t in p.tagging.tags_for_category(category) if t.name == name]
    if not tags:
        raise ProviderError(f"tag name {name!r} not found in category ID {category!r}")
    if len(tags) > 1:
        raise ProviderError(f"tag name {name!r} returned multiple results; unique tag names are required")
    raw = p.conn.rest("GET", f"{BASE}/tag/id:{tags[0].id}") or {}
    return {"id": tags[0].id, "name": name, "categoryId": category, "description": str(raw.get("description") or "")}


FUNCTIONS: dict[str, Function] = {
    f"vsphere:index/{name}:{name}": fn
    for name, fn in {
        "getDatacenter": get_datacenter,
        "getComputeCluster": get_compute_cluster,
        "getDatastore": get_datastore,
        "getNetwork": get_network,
        "getVirtualMachine": get_virtual_machine,
        "getResourcePool": get_resource_pool,
        "getHost": get_host,
        "getFolder": get_folder,
        "getTag": get_tag,
        "getTagCategory": get_tag_category,
    }.items()
}
