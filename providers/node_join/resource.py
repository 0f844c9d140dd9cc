"""JoinToken and NodeJoin: one node VM's token for its join, and its guestinfo emptied of secrets after it.

Two resources because the dynamic-provider host runs four calls at a time: the token must exist
before the NodeBinding (which waits for the node to register) starts, and the removal must come
after it, so the cluster wires JoinToken -> NodeBinding -> NodeJoin and no wait holds a thread
that a token it waits for would need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from vsphere_k8s.render.guestinfo import SECRET_BEARING_KEYS

from .plan import KEYS, TOKEN_KEYS
from .provider import JoinTokenProvider, NodeJoinProvider


@dataclass
class _NodeTokenArgs:
    """What both resources take: the node, its VM (whose age starts the join window), its token."""

    node_name: pulumi.Input[str]
    server: str
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    kubeconfig: pulumi.Input[str]
    vm_uuid: pulumi.Input[str]
    token: pulumi.Input[str]
    token_ttl_minutes: int = 60
    port: int = 443
    insecure: bool = False
    thumbprint: str | None = None
    ca_cert: str | None = None


def _props(args: _NodeTokenArgs, outputs: Sequence[str]) -> dict[str, Any]:
    """The resource's properties: the secret inputs wrapped as secrets, the outputs declared empty."""
    return {
        **{k: v for k, v in vars(args).items() if k not in KEYS.secret},
        **{k: pulumi.Output.secret(getattr(args, k)) for k in KEYS.secret},
        **dict.fromkeys(outputs),
    }


def _with_secret_outputs(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    # A new list each time: merge() hands the options' lists on uncopied.
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(KEYS.secret)))


@dataclass
class JoinTokenArgs(_NodeTokenArgs):
    create_token: bool = True  # False for the init node: kubeadm init creates its own


class JoinToken(Resource, module="vsphere", name="JoinToken"):
    token_id: pulumi.Output[str]  # the public half: names the Secret bootstrap-token-<id>
    expires: pulumi.Output[str | None]

    def __init__(self, name: str, args: JoinTokenArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = _props(args, TOKEN_KEYS.outputs)
        super().__init__(JoinTokenProvider(), name, props, _with_secret_outputs(opts))


@dataclass
class NodeJoinArgs(_NodeTokenArgs):
    scrub_keys: Sequence[str] = field(default_factory=lambda: list(SECRET_BEARING_KEYS))
    timeout_seconds: int = 900


class NodeJoin(Resource, module="vsphere", name="NodeJoin"):
    joined_at: pulumi.Output[str]
    token_id: pulumi.Output[str]
    token_deleted: pulumi.Output[bool]
    scrubbed_keys: pulumi.Output[list[str]]
    exposed_keys: pulumi.Output[list[str]]  # secret-bearing keys the last read found on the VM again

    def __init__(self, name: str, args: NodeJoinArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**_props(args, KEYS.outputs), "scrub_keys": list(args.scrub_keys)}
        super().__init__(NodeJoinProvider(), name, props, _with_secret_outputs(opts))
