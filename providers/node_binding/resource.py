"""The NodeBinding resource: one Kubernetes node bound to its vSphere VM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .plan import KEYS, Mode
from .provider import NodeBindingProvider


@dataclass
class NodeBindingArgs:
    node_name: pulumi.Input[str]
    server: str
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    kubeconfig: pulumi.Input[str]
    zone_category: str
    region_category: str
    port: int = 443
    insecure: bool = False
    thumbprint: str | None = None
    ca_cert: str | None = None
    vm_uuid: pulumi.Input[str] | None = None  # BIOS UUID of the VM the stack created
    vm_moid: pulumi.Input[str] | None = None
    expected_zone: str | None = None
    expected_region: str | None = None
    datacenters: list[str] | None = None  # the vCenter's configured datacenters (empty: all)
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
        props: dict[str, Any] = {
            "node_name": args.node_name,
            "server": args.server,
            "port": args.port,
            "username": pulumi.Output.secret(args.username),
            "password": pulumi.Output.secret(args.password),
            "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            "insecure": args.insecure,
            "thumbprint": args.thumbprint,
            "ca_cert": args.ca_cert,
            "zone_category": args.zone_category,
            "region_category": args.region_category,
            "vm_uuid": args.vm_uuid,
            "vm_moid": args.vm_moid,
            "expected_zone": args.expected_zone,
            "expected_region": args.expected_region,
            "datacenters": list(args.datacenters or []),
            "mode": args.mode,
            "timeout_seconds": args.timeout_seconds,
            "bound_vm": None,
            "bound_vm_name": None,
            "provider_id": None,
            "zone": None,
            "region": None,
            "labels": None,
            "owned_labels": None,
            "drift": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(KEYS.secret))
        super().__init__(NodeBindingProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
