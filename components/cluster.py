"""The whole cluster: topology, PKI, node pools, Kubernetes access, cloud provider, bindings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from vsphere_k8s.config import StackConfig
from vsphere_k8s.plan.nodes import plan_nodes

from .providers import vsphere_providers


@dataclass
class ClusterArgs:
    config: StackConfig


class Cluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:index:Cluster", name, None, opts)
        cfg = args.config
        self.config = cfg
        self.nodes = plan_nodes(cfg)
        self.vsphere = vsphere_providers(cfg, parent=self)
        # Sub-components are wired below, in dependency order.
        self._outputs: dict[str, Any] = {
            "clusterName": cfg.cluster.name,
            "nodes": {n.name: {"zone": n.zone, "region": n.region, "role": n.role, "ip": n.ip} for n in self.nodes},
        }
        self.register_outputs(self._outputs)

    def exports(self) -> dict[str, Any]:
        return dict(self._outputs)
