"""Run the real program under Pulumi's mocks and record what it registers.

The mocks answer the vSphere invokes the program makes the way the provider
would (ids shaped like managed object references, computed fields filled in),
and a recording monitor keeps every registration with its parent, provider,
dependencies and which inputs are secret. The offline preview, the unit tests
and the benchmarks all use this one harness.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

Handler = Callable[[pmocks.MockResourceArgs], dict[str, Any]]
InvokeHandler = Callable[[Mapping[str, Any]], dict[str, Any]]


def stable_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]


def stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str
    dependencies: list[str]
    secret_inputs: set[str]  # top-level input keys holding a secret
    custom: bool
    additional_secret_outputs: list[str]
    component_outputs: dict[str, Any] = field(default_factory=dict)


def _unwrap(value: Any) -> tuple[Any, bool]:
    """(value with secrets unwrapped at any depth, whether any was secret)."""
    if rpc.is_rpc_secret(value):
        inner, _ = _unwrap(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, dict):
        pairs = {k: _unwrap(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_unwrap(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _inputs(struct: Any) -> tuple[dict[str, Any], set[str]]:
    """Plain inputs and the top-level keys that held a secret."""
    values = rpc.deserialize_properties(struct)
    plain, secrets = {}, set()
    for key, value in values.items():
        plain[key], secret = _unwrap(value)
        if secret:
            secrets.add(key)
    return plain, secrets


class RecordingMonitor(pmocks.MockMonitor):
    """A MockMonitor that also remembers each registration's place in the tree."""

    def __init__(self, mocks: pmocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        reg = self.resources.get(response.urn)
        inputs, secret_inputs = _inputs(request.object)
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            inputs=inputs,
            outputs=dict(reg.state) if reg is not None else {},
            provider=request.provider,
            dependencies=list(request.dependencies),
            secret_inputs=secret_inputs,
            custom=bool(request.custom),
            additional_secret_outputs=list(request.additionalSecretOutputs),
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC name
        outputs = rpc.deserialize_properties(request.outputs)
        if request.urn in self.registrations:
            self.registrations[request.urn].component_outputs = outputs
        elif request.urn.endswith("pulumi:pulumi:Stack::" + request.urn.rsplit("::", 1)[-1]):
            self.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


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

    m.resources[f"{inv}virtualMachine:VirtualMachine"] = vm
    m.resources[f"{inv}tagCategory:TagCategory"] = lambda a: {
        "__id": f"urn:vmomi:InventoryServiceCategory:{stable_uuid('cat', a.name)}:GLOBAL"
    }
    m.resources[f"{inv}tag:Tag"] = lambda a: {
        "__id": f"urn:vmomi:InventoryServiceTag:{stable_uuid('tag', a.name)}:GLOBAL"
    }
    # vCenter role ids are integers; custom roles start above the built-in ones.
    m.resources[f"{inv}role:Role"] = lambda a: {
        "__id": str(1000 + int(stable_id("role", a.name), 16) % 100000),
        "label": str(a.inputs.get("name", a.name)),
    }


@dataclass
class Recording:
    registrations: dict[str, Registration]
    stack_outputs: dict[str, Any]
    invokes: list[tuple[str, dict[str, Any]]]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.type == type_token]

    def by_name(self, name: str) -> Registration:
        matches = [r for r in self.registrations.values() if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} registrations named {name!r}")
        return matches[0]

    def children(self, urn: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.parent == urn]


def configure(
    config: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    secret_keys: set[str] = frozenset(),  # type: ignore[assignment]
    mocks: VSphereMocks | None = None,
) -> tuple[VSphereMocks, RecordingMonitor]:
    """Point the Pulumi runtime at fresh mocks with ``config`` (top-level keys, no namespace)."""
    import json

    mocks = mocks or VSphereMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    flat = {f"{project}:{k}": (v if isinstance(v, str) else json.dumps(v)) for k, v in config.items()}
    pulumi.runtime.set_all_config(flat, [f"{project}:{k}" for k in secret_keys])
    return mocks, monitor


def run(program: Callable[[], None], monitor: RecordingMonitor, mocks: VSphereMocks) -> Recording:
    """Run ``program`` to completion under the configured mocks."""
    from pulumi.runtime.settings import SETTINGS
    from pulumi.runtime.stack import run_pulumi_func

    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    _sync_await(run_pulumi_func(program))
    return Recording(dict(monitor.registrations), dict(monitor.stack_outputs), list(mocks.invoke_log))
