"""The Permission resource: one principal's role on one vCenter entity."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi.dynamic import Resource

from .plan import KEYS
from .provider import PermissionProvider


@dataclass
class PermissionArgs:
    server: str
    port: int
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    entity_type: str
    entity_id: pulumi.Input[str]
    principal: pulumi.Input[str]
    role_id: pulumi.Input[int]
    propagate: bool = True
    is_group: bool = False
    insecure: bool = False
    thumbprint: str | None = None
    ca_cert: str | None = None


class Permission(Resource, module="vsphere", name="Permission"):
    observed_role_id: pulumi.Output[int | None]
    observed_propagate: pulumi.Output[bool | None]

    def __init__(self, name: str, args: PermissionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            **{k: v for k, v in vars(args).items() if k not in KEYS.secret},
            "username": pulumi.Output.secret(args.username),
            "password": pulumi.Output.secret(args.password),
            **dict.fromkeys(KEYS.outputs),
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(KEYS.secret))
        super().__init__(PermissionProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
