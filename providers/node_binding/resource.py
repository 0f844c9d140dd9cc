"""The NodeBinding resource: one Kubernetes node bound to its vSphere VM."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .plan import KEYS, Mode
from .provider import NodeBindingProvider


@dataclass(kw_only=True)
class NodeBindingArgs:
    """The program's side of :class:`~providers.node_binding.plan.Inputs` (same fields and defaults, values
    that may still be Outputs): the resource's props are these fields, in this order, and the outputs."""

    node_name: pulumi.Input[str]
    server: str
    port: int = 443
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    kubeconfig: pulumi.Input[str]
    insecure: bool = False
    thumbprint: str | None = None
    ca_cert: str | None = None
    zone_category: str
    region_category: str
    vm_uuid: pulumi.Input[str] | None = None  # BIOS UUID of the VM the stack created
    vm_moid: pulumi.Input[str] | None = None
    expected_zone: str | None = None
    expected_region: str | None = None
    datacenters: list[str] = field(default_factory=list)  # the vCenter's configured datacenters (empty: all)
    mode: Mode = "verify"
    timeout_seconds: int = 600


class NodeBinding(Resource, module="vsphere", name="NodeBinding"):
    bound_vm: pulumi.Output[str]  # moid of the node's VM
    bound_vm_name: pulumi.Output[str]
    provider_id: pulumi.Output[str]
    zone: pulumi.Output[str]
    region: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]  # the topology labels on the node, as last read
    owned_labels: pulumi.Output[dict[str, str]]  # labels this binding wrote: what delete removes
    drift: pulumi.Output[list[str]]  # differences found by the last read (refresh); update repairs

    def __init__(self, name: str, args: NodeBindingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        given = {f.name: getattr(args, f.name) for f in fields(args)}
        props: dict[str, Any] = {
            **{k: pulumi.Output.secret(v) if k in KEYS.secret else v for k, v in given.items()},
            "datacenters": list(args.datacenters),
            **dict.fromkeys(KEYS.outputs),
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(KEYS.secret))
        super().__init__(NodeBindingProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
