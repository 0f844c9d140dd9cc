"""The whole cluster: topology, PKI, node pools, Kubernetes access, cloud provider, bindings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from providers.node_binding.resource import NodeBinding, NodeBindingArgs
from providers.node_join.resource import JoinToken, JoinTokenArgs, NodeJoin, NodeJoinArgs
from vsphere_k8s.config import StackConfig
from vsphere_k8s.plan.nodes import plan_nodes

from .bootstrap import Bootstrap, BootstrapArgs
from .cloud_provider import CloudProvider, CloudProviderArgs
from .kube_access import KubeAccess, KubeAccessArgs
from .lookups import VSphereLookups
from .node_pool import NodePool, NodePoolArgs, hostname_only_user_data
from .providers import vsphere_providers
from .topology import Topology, TopologyArgs


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
        self.topology = Topology(
            f"{name}-topology", TopologyArgs(cfg, self.vsphere), pulumi.ResourceOptions(parent=self)
        )
        self._outputs["topology"] = {
            "regionTagIds": dict(self.topology.region_tags),
            "zoneTagIds": dict(self.topology.zone_tags),
        }
        self.bootstrap: Bootstrap | None = None
        user_data: Mapping[str, pulumi.Input[str]]
        if cfg.kubernetes.mode == "bootstrap":
            self.bootstrap = Bootstrap(
                f"{name}-bootstrap", BootstrapArgs(cfg, self.nodes), pulumi.ResourceOptions(parent=self)
            )
            user_data = self.bootstrap.user_data
            self._outputs["apiEndpoint"] = self.bootstrap.endpoint
        else:
            # mode: existing: the nodes join a cluster this stack did not make (their template or
            # the site's own provisioning carries the join), so their user-data only names the host.
            user_data = hostname_only_user_data(self.nodes)
        lookups = VSphereLookups(cfg, self.vsphere)
        self.node_pools: dict[str, NodePool] = {}
        for pool in dict.fromkeys(n.pool for n in self.nodes):
            self.node_pools[pool] = NodePool(
                f"{name}-{pool}",
                NodePoolArgs(
                    config=cfg,
                    pool=pool,
                    nodes=[n for n in self.nodes if n.pool == pool],
                    providers=self.vsphere,
                    lookups=lookups,
                    zone_tags=self.topology.zone_tags,
                    region_tags=self.topology.region_tags,
                    region_tags_in={
                        (vc, tag): tid for (vc, kind, tag), tid in self.topology.tags_in.items() if kind == "region"
                    },
                    user_data=user_data,
                    # Zones tagged before any node boots: the CPI reads a node's zone once, at init.
                    depends_on=list(self.topology.attachments.values()),
                ),
                pulumi.ResourceOptions(parent=self),
            )
        self.vms = {key: vm for pool in self.node_pools.values() for key, vm in pool.vms.items()}
        self._outputs["nodeVms"] = {
            n.name: {"key": n.key, "uuid": self.vms[n.key].uuid, "moid": self.vms[n.key].moid} for n in self.nodes
        }
        self.kube = KubeAccess(
            f"{name}-kube",
            KubeAccessArgs(
                cfg,
                pki=self.bootstrap.pki if self.bootstrap else None,
                endpoint=self.bootstrap.endpoint if self.bootstrap else None,
                # The API wait starts once the control-plane VMs exist, so its timeout measures boot and
                # kubeadm only. Workers play no part in the API (and a dependency on every VM would make
                # each Kubernetes resource after it cost the SDK a walk over all nodes).
                depends_on=[self.vms[n.key] for n in self.nodes if n.is_control_plane] if self.bootstrap else [],
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self._outputs["kubeconfig"] = self.kube.kubeconfig
        self.cloud_provider = CloudProvider(
            f"{name}-cloud-provider",
            CloudProviderArgs(cfg, self.kube.provider, [self.kube.ready], self.vsphere),
            pulumi.ResourceOptions(parent=self),
        )
        self._outputs["cloudProvider"] = self.cloud_provider.outputs
        self.join_tokens = self._join_tokens(name, cfg)
        self.bindings: dict[str, NodeBinding] = {}
        if cfg.node_binding.mode != "off":
            # Zones tagged before they are read, and the API up before nodes are looked at.
            after: list[pulumi.Resource] = [self.kube.ready, *self.topology.attachments.values()]
            if cfg.node_binding.mode == "verify":
                # Verify waits for the CPI, so deploy it first (enforce needs none). The DaemonSet alone:
                # depending on the whole component costs the SDK a walk of all its children per binding.
                after.append(self.cloud_provider.cpi)
            for n in self.nodes:
                vc = cfg.vcenter(n.vcenter)
                account = cfg.credentials[vc.name].program
                self.bindings[n.key] = NodeBinding(
                    f"{name}-bind-{n.key}",
                    NodeBindingArgs(
                        node_name=n.name,
                        server=vc.server,
                        port=vc.port,
                        username=account.username,
                        password=account.password.get_secret_value(),
                        kubeconfig=self.kube.kubeconfig,
                        zone_category=cfg.topology.zone_category,
                        region_category=cfg.topology.region_category,
                        insecure=vc.tls.insecure,
                        thumbprint=vc.tls.thumbprint,
                        ca_cert=vc.tls.ca_cert,
                        vm_uuid=self.vms[n.key].uuid,
                        vm_moid=self.vms[n.key].moid,
                        expected_zone=n.zone,
                        expected_region=n.region,
                        datacenters=list(vc.datacenters),
                        mode=cfg.node_binding.mode,
                        timeout_seconds=cfg.node_binding.timeout_seconds,
                    ),
                    # A joining node needs its token before the binding waits for it to register.
                    pulumi.ResourceOptions(parent=self, depends_on=[*after, *self._token_of(n.key)]),
                )
            self._outputs["nodeBindings"] = {
                n.name: {"vm": b.bound_vm, "providerID": b.provider_id, "zone": b.zone, "region": b.region}
                for n in self.nodes
                for b in [self.bindings[n.key]]
            }
        self.joins = self._joins(name, cfg)
        self.register_outputs(self._outputs)

    def _vcenter_args(self, cfg: StackConfig, vcenter: str) -> dict[str, Any]:
        vc = cfg.vcenter(vcenter)
        account = cfg.credentials[vc.name].program
        return {
            "server": vc.server,
            "port": vc.port,
            "username": account.username,
            "password": account.password.get_secret_value(),
            "insecure": vc.tls.insecure,
            "thumbprint": vc.tls.thumbprint,
            "ca_cert": vc.tls.ca_cert,
        }

    def _token_of(self, key: str) -> list[pulumi.Resource]:
        return [self.join_tokens[key]] if key in self.join_tokens else []

    def _join_tokens(self, name: str, cfg: StackConfig) -> dict[str, JoinToken]:
        """Bootstrap mode: each node's own token, in the API for its join only (docs/bootstrap-secrets.md)."""
        if self.bootstrap is None:
            return {}
        return {
            n.key: JoinToken(
                f"{name}-token-{n.key}",
                JoinTokenArgs(
                    node_name=n.name,
                    kubeconfig=self.kube.kubeconfig,
                    vm_uuid=self.vms[n.key].uuid,
                    token=self.bootstrap.tokens[n.key],
                    create_token=not n.init,  # kubeadm init creates the init node's own token
                    token_ttl_minutes=self.bootstrap.token_ttl_minutes,
                    **self._vcenter_args(cfg, n.vcenter),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[self.kube.ready]),
            )
            for n in self.nodes
        }

    def _joins(self, name: str, cfg: StackConfig) -> dict[str, NodeJoin]:
        """Bootstrap mode: once a node has joined (and its binding is done), its token is deleted and its
        VM's guestinfo holds no secret (existing mode's user-data only names the host)."""
        if self.bootstrap is None:
            return {}
        joins: dict[str, NodeJoin] = {}
        for n in self.nodes:
            after: list[pulumi.Resource] = [self.kube.ready, *self._token_of(n.key)]
            if n.key in self.bindings:
                after.append(self.bindings[n.key])
            joins[n.key] = NodeJoin(
                f"{name}-join-{n.key}",
                NodeJoinArgs(
                    node_name=n.name,
                    kubeconfig=self.kube.kubeconfig,
                    vm_uuid=self.vms[n.key].uuid,
                    token=self.bootstrap.tokens[n.key],
                    token_ttl_minutes=self.bootstrap.token_ttl_minutes,
                    timeout_seconds=cfg.node_binding.timeout_seconds,
                    **self._vcenter_args(cfg, n.vcenter),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=after),
            )
        return joins

    def exports(self) -> dict[str, Any]:
        return dict(self._outputs)
