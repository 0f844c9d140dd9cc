"""The NodeBinding resource: one Kubernetes node bound to its vSphere VM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pulumi.dynamic import Resource

from .provider import NodeBindingProvider

# Credentials and the kubeconfig: secret in, and kept secret in state (read/update/delete need them).
SECRET_KEYS = ("username", "password", "kubeconfig")


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
    vm_uuid: pulumi.Input[str] | None = None  # BIOS UUID of the VM the stack created for this node
    expected_zone: str | None = None  # where the stack placed the VM (informational)
    expected_region: str | None = None
    mode: Literal["verify", "enforce"] = "verify"
    timeout_seconds: float = 600
    poll_seconds: float = 5


class NodeBinding(Resource, module="vsphere", name="NodeBinding"):
    node_name: pulumi.Output[str]
    vm: pulumi.Output[str]  # VM name
    vm_moid: pulumi.Output[str]
    bios_uuid: pulumi.Output[str]
    provider_id: pulumi.Output[str]  # vsphere://<bios uuid>
    zone: pulumi.Output[str]
    region: pulumi.Output[str]
    zone_source: pulumi.Output[str]
    region_source: pulumi.Output[str]
    observed_provider_id: pulumi.Output[str]
    observed_labels: pulumi.Output[dict[str, str]]
    owned_labels: pulumi.Output[list[str]]
    drift: pulumi.Output[list[str]]

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
            "expected_zone": args.expected_zone,
            "expected_region": args.expected_region,
            "mode": args.mode,
            "timeout_seconds": args.timeout_seconds,
            "poll_seconds": args.poll_seconds,
            "vm": None,
            "vm_moid": None,
            "bios_uuid": None,
            "provider_id": None,
            "zone": None,
            "region": None,
            "zone_source": None,
            "region_source": None,
            "observed_provider_id": None,
            "observed_labels": None,
            "owned_labels": None,
            "drift": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_KEYS))
        super().__init__(NodeBindingProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
