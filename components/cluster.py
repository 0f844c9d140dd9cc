"""The whole cluster: topology, PKI, node pools, Kubernetes access, cloud provider, bindings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from vsphere_k8s.config import StackConfig
from vsphere_k8s.plan.nodes import plan_nodes

from .cloud_provider import CloudProvider, CloudProviderArgs
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
        self._outputs: dict[str, Any] = {
            "clusterName": cfg.cluster.name,
            "nodes": {n.name: {"zone": n.zone, "region": n.region, "role": n.role, "ip": n.ip} for n in self.nodes},
        }
        # Sub-components, in dependency order. Each block adds its outputs to self._outputs.
        # [topology] tag categories, tags, tag attachments (components/topology.py)
        # [bootstrap] cluster PKI, tokens, per-node cloud-init user-data (components/pki.py, bootstrap.py)
        # [node-pools] node VMs (components/node_pool.py)
        # [kube-access] kubeconfig, Kubernetes provider, API readiness (components/kube_access.py)
        # [cloud-provider] cloud-config secrets, CPI, CSI, storage classes, vCenter roles
        kube = getattr(self, "kube", None)  # the [kube-access] block's KubeAccess (.provider, .ready)
        if kube is not None:
            ready = kube.ready if isinstance(kube.ready, (list, tuple)) else [kube.ready]
            self.cloud_provider = CloudProvider(
                f"{name}-cloud-provider",
                CloudProviderArgs(cfg, kube.provider, ready, self.vsphere),
                pulumi.ResourceOptions(parent=self),
            )
            self._outputs["cloudProvider"] = self.cloud_provider.outputs
        # [node-bindings] NodeBinding per node (providers/node_binding)
        self.register_outputs(self._outputs)

    def exports(self) -> dict[str, Any]:
        return dict(self._outputs)
