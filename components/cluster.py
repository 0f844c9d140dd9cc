"""The whole cluster: topology, PKI, node pools, Kubernetes access, cloud provider, bindings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from providers.kubeadm_config.resource import ClusterAddons, ClusterAddonsArgs, ClusterVersion, ClusterVersionArgs
from providers.node_binding.resource import NodeBinding, NodeBindingArgs
from providers.node_join.resource import JoinToken, JoinTokenArgs, NodeJoin, NodeJoinArgs
from providers.node_retirement.plan import ETCD_CLIENT_PORT, client_urls
from providers.node_retirement.resource import NodeRetirement, NodeRetirementArgs
from vsphere_k8s import versions
from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.plan import skew
from vsphere_k8s.plan.nodes import NodePlan, plan_nodes, slot_records
from vsphere_k8s.plan.roll import NodeSpec, RollPlan, ordering, plan_roll, policies_of, specs_of

from .bootstrap import Bootstrap, BootstrapArgs
from .cloud_provider import CloudProvider, CloudProviderArgs
from .kube_access import KubeAccess, KubeAccessArgs
from .lookups import VSphereLookups, template_version_issues
from .node_pool import NodePool, NodePoolArgs, hostname_only_user_data
from .providers import vsphere_providers
from .topology import Topology, TopologyArgs


@dataclass
class ClusterArgs:
    config: StackConfig
    # The last run's ``nodeSlots`` output (components/memory.py): slot key -> name, generation,
    # spec. It keeps node names stable and is what a roll is planned against.
    previous_slots: Mapping[str, Mapping[str, Any]] | None = None


class Cluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:index:Cluster", name, None, opts)
        cfg = args.config
        self.config = cfg
        self.nodes = plan_nodes(cfg, args.previous_slots)
        self.roll = self._plan_roll(cfg, args.previous_slots or {})
        self.vsphere = vsphere_providers(cfg, parent=self)
        lookups = VSphereLookups(cfg, self.vsphere)
        # A template that says another Kubernetes version than its pool: refused before anything is made.
        if template_issues := template_version_issues(cfg, lookups):
            raise pulumi.RunError(ConfigError(template_issues, pulumi.get_stack()).render())
        self._outputs: dict[str, Any] = {
            "clusterName": cfg.cluster.name,
            "nodes": {n.name: {"zone": n.zone, "region": n.region, "role": n.role, "ip": n.ip} for n in self.nodes},
            # Not the roll plan: an output that changes with every roll would make the next preview
            # show a change; the plan is logged (see _plan_roll).
            "nodeSlots": slot_records(self.nodes),
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
        self._kube: KubeAccess | None = None
        # The cluster is there already (mode existing, or a bootstrap stack that ran before): its API
        # does not wait for the VMs.
        if self.bootstrap is None or args.previous_slots:
            self._kube = self._kube_access(name, cfg, [])
        self.cluster_version: ClusterVersion | None = None
        before: dict[str, list[pulumi.Resource]] = {}
        if self.bootstrap is not None and args.previous_slots:
            # A joining control-plane node's kubeadm takes the cluster's recorded version: move it first.
            self.cluster_version = self._cluster_version(name, cfg)
            before = {n.key: [self.cluster_version] for n in self.nodes if n.is_control_plane and not n.init}
        # The engine runs a roll in order through dependencies: a rolling slot's new VM waits for the
        # previous batch's nodes (their NodeRetirements: Ready), and every retirement depends on the
        # previous batch's, so the engine's deletes (after every create, in reverse) retire batch by batch.
        chain = ordering(specs_of(self.nodes), policies_of(cfg)).vm_after
        rolling = {r.slot for r in self.roll.replace} if self.roll else set()
        self.retirements: dict[str, NodeRetirement] = {}
        gates: dict[str, Any] = {}
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
                    after={k: v for k, v in chain.items() if k in rolling},
                    gate=lambda n, vm: self._retirement(name, cfg, n, vm, [gates[s] for s in chain.get(n.key, ())]),
                    gates=gates,
                    before=before,
                ),
                pulumi.ResourceOptions(parent=self),
            )
        self.vms = {key: vm for pool in self.node_pools.values() for key, vm in pool.vms.items()}
        self._outputs["nodeVms"] = {
            n.name: {"key": n.key, "uuid": self.vms[n.key].uuid, "moid": self.vms[n.key].moid} for n in self.nodes
        }
        assert self._kube is not None  # made with the first control-plane node's retirement at the latest
        self.kube = self._kube
        self._outputs["kubeconfig"] = self.kube.kubeconfig
        self.addons: ClusterAddons | None = None
        if self.bootstrap is not None and self.cluster_version is None:  # a new cluster: kubeadm init records it
            self.cluster_version = self._cluster_version(name, cfg)
        if self.bootstrap is not None and cfg.kubernetes.kubeadm_addons:
            # kubeadm's kube-proxy and CoreDNS, which only `kubeadm upgrade apply` would move: once every
            # control-plane node runs the version (kube-proxy no newer than the API servers), as the CPI.
            self.addons = ClusterAddons(
                f"{name}-kubeadm-addons",
                ClusterAddonsArgs(
                    kubeconfig=self.kube.kubeconfig,
                    kubernetes_version=cfg.kubernetes.version,
                    coredns_version=versions.COREDNS.get(cfg.kubernetes.minor),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[self.kube.ready, *self._control_plane_gates()]),
            )
        self.cloud_provider = CloudProvider(
            f"{name}-cloud-provider",
            # The CPI is a cloud-controller-manager, never newer than the API servers it talks to: on a
            # control-plane version bump its objects (and the CSI's) move once every new
            # control-plane node is Ready, not beside the first. (The old nodes go at the run's end.)
            CloudProviderArgs(cfg, self.kube.provider, [self.kube.ready, *self._control_plane_gates()], self.vsphere),
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

    def _kube_access(self, name: str, cfg: StackConfig, after: list[pulumi.Resource]) -> KubeAccess:
        return KubeAccess(
            f"{name}-kube",
            KubeAccessArgs(
                cfg,
                pki=self.bootstrap.pki if self.bootstrap else None,
                endpoint=self.bootstrap.endpoint if self.bootstrap else None,
                depends_on=after,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _cluster_version(self, name: str, cfg: StackConfig) -> ClusterVersion:
        assert self._kube is not None
        return ClusterVersion(
            f"{name}-kubeadm-version",
            ClusterVersionArgs(
                kubeconfig=self._kube.kubeconfig,
                kubernetes_version=cfg.kubernetes.version,
                timeout_seconds=cfg.kubernetes.api_ready_timeout_seconds,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self._kube.ready]),
        )

    def _control_plane_gates(self) -> list[NodeRetirement]:
        return [self.retirements[n.key] for n in self.nodes if n.is_control_plane and n.key in self.retirements]

    def _plan_roll(self, cfg: StackConfig, previous: Mapping[str, Mapping[str, Any]]) -> RollPlan | None:
        """What this run rolls, against the last run's record; logged, so `pulumi preview` says which
        nodes roll and why. A roll that cannot be made safely stops the run before anything changes."""
        old = [NodeSpec.from_json(r["spec"]) for r in previous.values() if isinstance(r.get("spec"), Mapping)]
        if not old:
            return None  # a new stack, or one whose last run kept no record: nothing to roll from
        plan = plan_roll(old, specs_of(self.nodes), policies_of(cfg))
        # Kubernetes' skew rules from what runs to what is asked (the control plane first, one minor
        # at a time, no downgrade): refused here, before a VM is cloned for the new version.
        have = skew.running_versions(old)
        want = skew.versions_of(cfg)
        issues = [*(skew.upgrade_issues(have, want) if have else ()), *plan.issues]
        if issues:
            raise pulumi.RunError(ConfigError(issues, pulumi.get_stack()).render())
        if not plan.changes_nothing:
            pulumi.log.info("node roll plan:\n  " + "\n  ".join(plan.summary()))
        return plan

    def _retirement(
        self, name: str, cfg: StackConfig, n: NodePlan, vm: Any, after: list[pulumi.Resource]
    ) -> NodeRetirement:
        """The node's gate: created once it is Ready (its etcd member caught up), deleted by draining it
        (and removing its etcd member) before its VM is deleted, since it depends on the VM."""
        if self._kube is None:
            # mode bootstrap: the API answers once the first control-plane node (kubeadm init) has
            # booted; its wait starts with that VM, before the other nodes' gates need the API.
            self._kube = self._kube_access(name, cfg, [vm])
        etcd = self._etcd_access(cfg, n)
        first_cp = n.is_control_plane and n.key == next(m.key for m in self.nodes if m.is_control_plane)
        if first_cp and not etcd:  # said once a run
            # mode existing without kubernetes.etcd (or etcdMemberRemoval off): no etcd to reach.
            pulumi.log.info(
                "kubernetes.etcd is not configured: a retired control-plane node is drained and its Node "
                "deleted, but its etcd member is not removed (remove it by hand: etcdctl member remove)"
            )
        self.retirements[n.key] = NodeRetirement(
            f"{name}-retire-{n.key}",
            NodeRetirementArgs(
                node_name=n.name,
                role=n.role,
                kubernetes_version=n.version,
                kubeconfig=self._kube.kubeconfig,
                vm_id=vm.id,
                **etcd,
                ready_timeout_seconds=cfg.node_pools.ready_timeout_seconds,
                drain_timeout_seconds=cfg.node_pools.drain_timeout_seconds,
            ),
            # Replaced whenever its VM is: with a delete-before-replace VM (maxSurge 0) the engine then
            # deletes the retirement (drains the node) before the VM, as it does a VM's dependents.
            pulumi.ResourceOptions(parent=self, depends_on=[vm, self._kube.ready, *after], replace_with=[vm]),
        )
        return self.retirements[n.key]

    def _etcd_access(self, cfg: StackConfig, n: NodePlan) -> dict[str, Any]:
        """How a control-plane node's retirement reaches etcd (NodeRetirementArgs' etcd_* fields; none
        for a worker): the stack's kubernetes.etcd, else in bootstrap mode the PKI's own etcd client
        certificate and kubeadm's client URL (:2379) on each static control-plane address, and by
        DHCP on the node's own InternalIP (the retirement finds the other members' URLs in the
        member list)."""
        if not n.is_control_plane:
            return {}
        given = cfg.kubernetes.etcd
        if given is not None:
            return {
                "etcd_endpoints": list(given.endpoints),
                "etcd_node_client_port": given.node_client_port,
                "etcd_ca_cert": given.ca_cert,
                "etcd_client_cert": given.client_cert,
                "etcd_client_key": given.client_key.get_secret_value() if given.client_key else None,
            }
        if self.bootstrap is None or not cfg.kubernetes.etcd_member_removal:
            return {}
        pki = self.bootstrap.pki
        return {
            "etcd_endpoints": client_urls([m.ip for m in self.nodes if m.is_control_plane]),
            # By DHCP the node's address is not the program's to know: the retirement reads it from
            # the Node (not from the VM's guest address, whose every refresh would show as a change).
            "etcd_node_client_port": ETCD_CLIENT_PORT if n.ip is None else None,
            "etcd_ca_cert": pki.etcd_ca.cert_pem,
            "etcd_client_cert": pki.etcd_client_cert_pem,
            "etcd_client_key": pki.etcd_client_key_pem,
        }

    def exports(self) -> dict[str, Any]:
        return dict(self._outputs)
