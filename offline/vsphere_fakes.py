"""The mocks' answers: vSphere invokes and resources the way the provider would give them
(ids shaped like managed object references, computed fields filled in), plus the
dynamic, tls and random fakes (:mod:`.dynamic_fakes`, :mod:`.tls_random_fakes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime import mocks as pmocks

from vsphere_k8s.facts import VM_TYPE

from . import dynamic_fakes, tls_random_fakes
from .ids import stable_id, stable_uuid

Handler = Callable[[pmocks.MockResourceArgs], dict[str, Any]]
InvokeHandler = Callable[[Mapping[str, Any]], dict[str, Any]]


class VSphereMocks(pmocks.Mocks):
    """Answers like the vSphere, Kubernetes, TLS and random providers would.

    Extend by registering handlers: ``resources[type_token]`` computes extra
    output fields for a resource, ``invokes[token]`` answers a function call.
    Unknown resources echo their inputs, as the engine does for state.
    """

    def __init__(self) -> None:
        self.resources: dict[str, Handler] = {}
        self.invokes: dict[str, InvokeHandler] = {}
        self.invoke_log: list[tuple[str, dict[str, Any]]] = []
        # Objects that "exist" in the mocked vCenter; None means everything does.
        self.inventory: dict[str, set[str]] | None = None
        _install_defaults(self)

    def new_resource(self, args: pmocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        handler = self.resources.get(args.typ)
        state = dict(args.inputs)
        if handler is not None:
            state.update(handler(args))
        rid = state.pop("__id", None) or f"{args.name}-{stable_id(args.typ, args.name)}"
        return str(rid), state

    def call(self, args: pmocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.invoke_log.append((args.token, dict(args.args)))
        handler = self.invokes.get(args.token)
        # The SDK iterates the failures of a tuple answer: an empty list, never None.
        if handler is None:
            return {}, []
        try:
            return handler(args.args), []
        except LookupError as exc:
            # How the real provider fails a lookup of something that is not there.
            return {}, [("", str(exc))]

    def exists(self, kind: str, name: str) -> bool:
        return self.inventory is None or name in self.inventory.get(kind, set())


def _lookup(
    mocks: VSphereMocks,
    kind: str,
    prefix: str,
    extra: Callable[[str, Mapping[str, Any]], dict[str, Any]] | None = None,
) -> InvokeHandler:
    def handler(args: Mapping[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", ""))
        if not mocks.exists(kind, name):
            raise LookupError(f"{kind} '{name}' not found")
        scope = str(args.get("datacenterId", ""))
        out = {"id": f"{prefix}-{stable_id(kind, scope, name)}", "name": name}
        if extra:
            out.update(extra(name, args))
        return out

    return handler


def _install_defaults(m: VSphereMocks) -> None:
    inv = "vsphere:index/"
    m.invokes[f"{inv}getDatacenter:getDatacenter"] = _lookup(m, "datacenter", "datacenter")
    m.invokes[f"{inv}getComputeCluster:getComputeCluster"] = _lookup(
        m,
        "cluster",
        "domain-c",
        lambda name, a: {"resourcePoolId": f"resgroup-{stable_id('rp', str(a.get('datacenterId')), name)}"},
    )
    m.invokes[f"{inv}getDatastore:getDatastore"] = _lookup(m, "datastore", "datastore")
    m.invokes[f"{inv}getNetwork:getNetwork"] = _lookup(m, "network", "network")
    m.invokes[f"{inv}getResourcePool:getResourcePool"] = _lookup(m, "resourcePool", "resgroup")
    m.invokes[f"{inv}getHost:getHost"] = _lookup(
        m, "host", "host", lambda name, a: {"resourcePoolId": f"resgroup-{stable_id('hrp', name)}"}
    )
    m.invokes[f"{inv}getFolder:getFolder"] = _lookup(m, "folder", "group-v")
    m.invokes[f"{inv}getVirtualMachine:getVirtualMachine"] = _lookup(
        m,
        "template",
        "vm",
        lambda name, a: {
            "uuid": stable_uuid("template", str(a.get("datacenterId")), name),
            "guestId": "ubuntu64Guest",
            "firmware": "efi",
            "hardwareVersion": 19,
            "scsiType": "pvscsi",
            "disks": [{"label": "disk0", "size": 20, "thinProvisioned": True, "eagerlyScrub": False}],
            "networkInterfaceTypes": ["vmxnet3"],
            "networkInterfaces": [{"adapterType": "vmxnet3", "networkId": "network-0"}],
        },
    )

    def vm(args: pmocks.MockResourceArgs) -> dict[str, Any]:
        name = str(args.inputs.get("name", args.name))
        bios = stable_uuid("vm", name)
        return {
            "__id": bios,
            "uuid": bios,
            "moid": f"vm-{stable_id('vm', name)}",
            "defaultIpAddress": "",
            "guestIpAddresses": [],
            "vmwareToolsStatus": "guestToolsRunning",
        }

    m.resources[VM_TYPE] = vm
    # TagAttachment (providers/tag_attachment): as after a clean create, every target attached and owned.
    m.resources["pulumi-python:dynamic/vsphere:TagAttachment"] = dynamic_fakes.tag_attachment
    # NodeBinding (providers/node_binding): as after a clean bind to the VM the stack created.
    m.resources["pulumi-python:dynamic/vsphere:NodeBinding"] = dynamic_fakes.node_binding
    m.resources[f"{inv}tagCategory:TagCategory"] = lambda a: {
        "__id": f"urn:vmomi:InventoryServiceCategory:{stable_uuid('cat', a.name)}:GLOBAL"
    }
    m.resources[f"{inv}tag:Tag"] = lambda a: {
        "__id": f"urn:vmomi:InventoryServiceTag:{stable_uuid('tag', a.name)}:GLOBAL"
    }
    m.resources.update(tls_random_fakes.HANDLERS)  # cluster PKI and join tokens (components/pki.py)
    # vCenter role ids are integers; custom roles start above the built-in ones.
    m.resources[f"{inv}role:Role"] = lambda a: {
        "__id": str(1000 + int(stable_id("role", a.name), 16) % 100000),
        "label": str(a.inputs.get("name", a.name)),
    }
