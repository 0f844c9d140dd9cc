"""Per-node cloud-init user-data: kubeadm init on one control-plane node, join on the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from vsphere_k8s.config import StackConfig
from vsphere_k8s.plan.nodes import NodePlan
from vsphere_k8s.render.cloud_init import render_user_data, step_of
from vsphere_k8s.render.kubeadm import JoinMaterial, api_endpoint

from .pki import Pki, PkiArgs


@dataclass
class BootstrapArgs:
    config: StackConfig
    nodes: Sequence[NodePlan]


class Bootstrap(pulumi.ComponentResource):
    """Owns the cluster PKI and renders every node's user-data (a secret: it holds CA keys and the token)."""

    def __init__(self, name: str, args: BootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:bootstrap:Bootstrap", name, None, opts)
        cfg = args.config
        nodes = list(args.nodes)
        inits = [n.key for n in nodes if n.init]
        # None once the cluster runs and its init VM was replaced (vsphere_k8s.plan.nodes.init_slot).
        if len(inits) > 1:
            raise ValueError(f"at most one node may run kubeadm init, got {len(inits)}: {', '.join(inits)}")
        self.endpoint = api_endpoint(cfg, nodes)  # host:port, checked before anything is created
        self.pki = Pki(f"{name}-pki", PkiArgs(cfg, [n.key for n in nodes]), pulumi.ResourceOptions(parent=self))
        ttl = cfg.kubernetes.join_token_ttl_minutes
        cp_pki = self.pki.control_plane_pki()

        def render(node: NodePlan) -> pulumi.Output[str]:
            join = pulumi.Output.all(self.pki.tokens[node.key], self.pki.ca_cert_hash).apply(
                lambda t: JoinMaterial(t[0], t[1], ttl)
            )
            if node.is_control_plane:
                text = pulumi.Output.all(join, cp_pki).apply(lambda v: render_user_data(cfg, nodes, node, v[0], v[1]))
            else:
                text = join.apply(lambda j: render_user_data(cfg, nodes, node, j, None))
            return pulumi.Output.secret(text)

        self.user_data: dict[str, pulumi.Output[str]] = {n.key: render(n) for n in nodes}
        # Each node's token, for the NodeJoin that creates it in the API (joiners) and deletes it.
        self.tokens: dict[str, pulumi.Output[str]] = dict(self.pki.tokens)
        self.token_ttl_minutes = ttl
        self.steps: dict[str, str] = {n.key: step_of(n) for n in nodes}
        # user-data itself stays off the component's outputs: N copies of the CA keys in state buy nothing.
        outputs: dict[str, Any] = {"endpoint": self.endpoint, "steps": self.steps}
        self.register_outputs(outputs)
