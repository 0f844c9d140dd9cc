"""The TagAttachment resource: one tag on a set of vCenter objects the stack does not own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .plan import KEYS
from .provider import TagAttachmentProvider


@dataclass
class TagAttachmentArgs:
    server: str
    port: int
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    tag_id: pulumi.Input[str]
    category_id: pulumi.Input[str]
    # {"type": "Datacenter" | "ClusterComputeResource" | "HostSystem", "datacenter": ..., "name": ..., "cluster"?: ...}
    targets: Sequence[dict[str, str]]
    insecure: bool = False
    thumbprint: str | None = None
    ca_cert: str | None = None


class TagAttachment(Resource, module="vsphere", name="TagAttachment"):
    tag_id: pulumi.Output[str]
    resolved: pulumi.Output[dict[str, str]]  # target key -> moref
    attached: pulumi.Output[list[str]]  # target keys carrying the tag (as last read)
    owned: pulumi.Output[list[str]]  # target keys this resource attached: what delete detaches
    conflicts: pulumi.Output[dict[str, list[str]]]  # target key -> other tags of the category (drift)

    def __init__(self, name: str, args: TagAttachmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "server": args.server,
            "port": args.port,
            "username": pulumi.Output.secret(args.username),
            "password": pulumi.Output.secret(args.password),
            "insecure": args.insecure,
            "thumbprint": args.thumbprint,
            "ca_cert": args.ca_cert,
            "tag_id": args.tag_id,
            "category_id": args.category_id,
            "targets": [dict(t) for t in sorted(args.targets, key=lambda t: sorted(t.items()))],
            "resolved": None,
            "attached": None,
            "owned": None,
            "conflicts": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(KEYS.secret))
        super().__init__(TagAttachmentProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
