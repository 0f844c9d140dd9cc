"""One node pool's VMs: cloned from the template, placed in their zones, configured through guestinfo.

What the CPI and CSI need from a node VM is set here and nowhere else:
disk.EnableUUID (stable disk ids for CSI attach), hardware version 15 or later,
cloud-init metadata/user-data in guestinfo, the zone and region tags, and
anti-affinity so that one host failure takes at most one VM of a pool.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_vsphere as vsphere

from vsphere_k8s.config import StackConfig, Zone
from vsphere_k8s.facts import MIN_HARDWARE_VERSION
from vsphere_k8s.plan.addresses import CONTROL_PLANE
from vsphere_k8s.plan.nodes import NodePlan
from vsphere_k8s.plan.placement import anti_affinity_groups, initial_host
from vsphere_k8s.render import guestinfo

from .lookups import LookupFailed, VSphereLookups


@dataclass
class NodePoolArgs:
    config: StackConfig
    pool: str  # "cp" or a worker pool's name
    nodes: Sequence[NodePlan]  # this pool's nodes (plan_nodes filtered by pool)
    providers: Mapping[str, vsphere.Provider]  # vCenter name -> provider
    lookups: VSphereLookups
    zone_tags: Mapping[str, pulumi.Input[str]]  # zone -> tag id
    region_tags: Mapping[str, pulumi.Input[str]]  # region -> tag id (in the region's own vCenter)
    user_data: Mapping[str, pulumi.Input[str]]  # node key -> cloud-init user-data (kept secret)
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)  # e.g. the tag attachments
    # Day 2 (vsphere_k8s/plan/roll.py): slot -> the slots whose gate this slot's VM waits for (given
    # for rolling slots only, so a first `up` or a scale-up creates its VMs at once) ...
    after: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # ... and what makes a node's gate once its VM is declared (its NodeRetirement: Ready on create,
    # drained on delete), kept in ``gates`` (shared by every pool: the workers wait for the control plane).
    gate: Callable[[NodePlan, vsphere.VirtualMachine], pulumi.Resource] | None = None
    gates: dict[str, pulumi.Resource] = field(default_factory=dict)
    # slot -> what else its VM waits for (bootstrap: a joining control plane, the cluster's recorded version).
    before: Mapping[str, Sequence[pulumi.Resource]] = field(default_factory=dict)
    # A region spanning vCenters has a tag in each: (vCenter, region) -> that vCenter's tag id.
    region_tags_in: Mapping[tuple[str, str], pulumi.Input[str]] = field(default_factory=dict)


def pool_path(pool: str) -> str:
    return "nodePools.controlPlane" if pool == CONTROL_PLANE else f"nodePools.workers[{pool}]"


class NodePool(pulumi.ComponentResource):
    vms: dict[str, vsphere.VirtualMachine]  # node key -> VM
    uuids: dict[str, pulumi.Output[str]]  # node key -> BIOS UUID (the CPI's providerID is vsphere://<uuid>)
    moids: dict[str, pulumi.Output[str]]  # node key -> managed object id ("vm-123")
    anti_affinity: dict[str, vsphere.ComputeClusterVmAntiAffinityRule]  # group key -> rule

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:vsphere:NodePool", name, None, opts)
        cfg = args.config
        nodes = list(args.nodes)
        missing = sorted(n.key for n in nodes if n.key not in args.user_data)
        if missing:
            raise ValueError(f"NodePool {name}: no user-data for node(s) {', '.join(missing)}")
        wrong = sorted(n.key for n in nodes if n.pool != args.pool)
        if wrong:
            raise ValueError(f"NodePool {name}: node(s) {', '.join(wrong)} belong to another pool than {args.pool}")
        self.vms = {}
        for node in nodes:  # in plan order: a slot's gate exists before the slots that wait for it
            self.vms[node.key] = self._vm(name, node, cfg.zone(node.zone), args)
            if args.gate is not None:
                args.gates[node.key] = args.gate(node, self.vms[node.key])
        self.uuids = {k: vm.uuid for k, vm in self.vms.items()}
        self.moids = {k: vm.moid for k, vm in self.vms.items()}
        self.anti_affinity = self._anti_affinity(name, nodes, args)
        self._host_rules(name, nodes, args)
        self.register_outputs(
            {
                "vms": {
                    n.key: {"name": n.name, "zone": n.zone, "uuid": self.uuids[n.key], "moid": self.moids[n.key]}
                    for n in nodes
                },
                "antiAffinityRules": sorted(self.anti_affinity),
            }
        )

    def _vm(self, name: str, node: NodePlan, zone: Zone, args: NodePoolArgs) -> vsphere.VirtualMachine:
        look = args.lookups
        shape = node.shape
        template = look.template(zone, shape.template, pool_path(node.pool))
        template_disk = template.disks[0] if template.disks else None
        if template_disk is not None and shape.disk_gib < template_disk.size:
            raise LookupFailed(
                f"{pool_path(node.pool)}.diskGib: {shape.disk_gib} GiB is smaller than template "
                f"{shape.template!r}'s disk ({template_disk.size} GiB); a clone cannot shrink it"
            )
        # A pool with maxSurge 0 replaces a node deleting first, under the same name (vsphere_k8s/plan/roll.py).
        deletes_first = any(p.name == node.pool and p.max_surge == 0 for p in args.config.node_pools.workers)
        host = initial_host(zone, node.ordinal)
        meta = guestinfo.metadata(node.name, node.name, guestinfo.network_config(zone.network, node.ip))
        rendered: pulumi.Output[dict[str, str]] = pulumi.Output.from_input(args.user_data[node.key]).apply(
            lambda ud: guestinfo.extra_config(meta, ud)
        )
        extra: pulumi.Output[dict[str, str]] = pulumi.Output.secret(rendered)
        adapter = template.network_interface_types[0] if template.network_interface_types else "vmxnet3"
        return vsphere.VirtualMachine(
            f"{name}-vm-{node.zone}-{node.ordinal}",
            name=node.name,
            resource_pool_id=look.resource_pool(zone),
            datastore_id=look.datastore(zone).id,
            folder=zone.folder,
            host_system_id=look.host(zone, host).id if host else None,
            num_cpus=shape.cpus,
            memory=shape.memory_mib,
            guest_id=template.guest_id,
            firmware=template.firmware,
            scsi_type=template.scsi_type,
            hardware_version=max(MIN_HARDWARE_VERSION, template.hardware_version or 0),
            enable_disk_uuid=True,
            network_interfaces=[
                vsphere.VirtualMachineNetworkInterfaceArgs(network_id=look.network(zone).id, adapter_type=adapter)
            ],
            disks=[
                vsphere.VirtualMachineDiskArgs(
                    label="disk0",
                    size=shape.disk_gib,
                    thin_provisioned=template_disk.thin_provisioned if template_disk else True,
                    eagerly_scrub=template_disk.eagerly_scrub if template_disk else False,
                )
            ],
            clone=vsphere.VirtualMachineCloneArgs(template_uuid=template.uuid),
            extra_config=extra,
            # guestinfo is read by cloud-init once per instance: changing it must not reboot a node.
            extra_config_reboot_required=False,
            wait_for_guest_net_timeout=args.config.node_pools.wait_for_guest_net_minutes,
            tags=[
                args.zone_tags[node.zone],
                args.region_tags_in.get((node.vcenter, node.region), args.region_tags[node.region]),
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.providers[node.vcenter],
                depends_on=[
                    *args.depends_on,
                    *args.before.get(node.key, ()),
                    *(args.gates[s] for s in args.after.get(node.key, ())),
                ],
                additional_secret_outputs=["extra_config"],
                # A new name is a new machine (the slot's generation moved: vsphere_k8s/plan/nodes.py),
                # created before the old one is retired and deleted; never a rename in place.
                replace_on_changes=["name"],
                # The generation replaces the VM also where the name stays (a deletes-first pool) or where
                # the provider would change it live (a version, CPU without hot-add). The engine ignores a
                # trigger that was unset, so a VM made before it existed is not replaced for it.
                replacement_trigger=node.generation,
                # Deleting first: the engine deletes the node's retirement (replaced with the VM: drain,
                # Node deleted) and then the VM before it creates the new VM.
                delete_before_replace=True if deletes_first else None,
                # cloud-init reads user-data once per instance, so changing it in place does nothing for
                # the guest; and once the node has joined, NodeJoin removes it from the VM (it holds the
                # join token and the control plane's keys): no later up may put it back or see drift.
                ignore_changes=[f'extraConfig["{key}"]' for key in guestinfo.SECRET_BEARING_KEYS],
            ),
        )

    def _anti_affinity(
        self, name: str, nodes: list[NodePlan], args: NodePoolArgs
    ) -> dict[str, vsphere.ComputeClusterVmAntiAffinityRule]:
        rules = {}
        cfg = args.config
        for group in anti_affinity_groups(cfg, nodes):
            zone = cfg.zone(next(n.zone for n in nodes if n.key == group.node_keys[0]))
            rules[group.key] = vsphere.ComputeClusterVmAntiAffinityRule(
                f"{name}-anti-affinity-{group.datacenter}-{group.compute_cluster}",
                name=f"{cfg.cluster.name}-{group.pool}-anti-affinity",
                compute_cluster_id=args.lookups.compute_cluster(zone).id,
                virtual_machine_ids=[self.vms[k].id for k in group.node_keys],
                mandatory=group.mandatory,
                opts=pulumi.ResourceOptions(parent=self, provider=args.providers[group.vcenter]),
            )
        return rules

    def _host_rules(self, name: str, nodes: list[NodePlan], args: NodePoolArgs) -> None:
        """Zones narrowed to hosts: DRS must keep the pool's VMs there, or a vMotion changes their zone."""
        cfg = args.config
        by_zone: dict[str, list[NodePlan]] = defaultdict(list)
        for node in nodes:
            by_zone[node.zone].append(node)
        for zone_name, members in sorted(by_zone.items()):
            zone = cfg.zone(zone_name)
            if not zone.hosts:
                continue
            cluster_id = args.lookups.compute_cluster(zone).id
            provider = args.providers[members[0].vcenter]
            child = pulumi.ResourceOptions(parent=self, provider=provider)
            prefix = f"{cfg.cluster.name}-{args.pool}-{zone.name}"
            hosts = vsphere.ComputeClusterHostGroup(
                f"{name}-host-group-{zone.name}",
                name=f"{prefix}-hosts",
                compute_cluster_id=cluster_id,
                host_system_ids=[args.lookups.host(zone, h).id for h in sorted(zone.hosts)],
                opts=child,
            )
            vms = vsphere.ComputeClusterVmGroup(
                f"{name}-vm-group-{zone.name}",
                name=f"{prefix}-vms",
                compute_cluster_id=cluster_id,
                virtual_machine_ids=[self.vms[n.key].id for n in sorted(members, key=lambda n: n.key)],
                opts=child,
            )
            vsphere.ComputeClusterVmHostRule(
                f"{name}-vm-host-rule-{zone.name}",
                name=f"{prefix}-in-zone",
                compute_cluster_id=cluster_id,
                vm_group_name=vms.name,
                affinity_host_group_name=hosts.name,
                mandatory=True,
                opts=child,
            )


def hostname_only_user_data(nodes: Sequence[NodePlan]) -> dict[str, pulumi.Input[str]]:
    """User-data that only names the host: for nodes of a cluster the stack does not bootstrap."""
    return {n.key: pulumi.Output.secret(guestinfo.hostname_user_data(n.name)) for n in nodes}
