"""The NodeRetirement resource: one per node; see the package docstring."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi.dynamic import Resource

from .plan import KEYS
from .provider import NodeRetirementProvider


@dataclass
class NodeRetirementArgs:
    node_name: str
    role: str
    kubernetes_version: str
    kubeconfig: pulumi.Input[str]
    vm_id: pulumi.Input[str]  # the VM this node runs on: retired before it is deleted
    etcd_endpoints: pulumi.Input[list[str]] = field(default_factory=list)
    etcd_ca_cert: pulumi.Input[str] | None = None
    etcd_client_cert: pulumi.Input[str] | None = None
    etcd_client_key: pulumi.Input[str] | None = None
    etcd_node_client_port: int | None = None  # see Inputs.etcd_node_client_port
    ready_timeout_seconds: float = 900
    drain_timeout_seconds: float = 600


class NodeRetirement(Resource, module="kubernetes", name="NodeRetirement"):
    ready_reason: pulumi.Output[str]

    def __init__(self, name: str, args: NodeRetirementArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            **{k: v for k, v in vars(args).items() if k not in KEYS.secret},
            "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            "etcd_client_key": pulumi.Output.secret(args.etcd_client_key) if args.etcd_client_key else None,
            **dict.fromkeys(KEYS.outputs),
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(KEYS.secret))
        super().__init__(NodeRetirementProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
