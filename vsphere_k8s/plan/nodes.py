"""Which nodes exist, where they go and what they are called.

Names are keyed by pool, zone and ordinal, never by list position, so adding a
zone or a node never renames (and so never replaces) another node. A name ends in
the node's generation (:func:`vsphere_k8s.plan.roll.generation`): what only a new
machine can change (template, Kubernetes version, a shape the VM cannot take live)
gives the slot a new name, so the replacement registers as a Node of its own beside
the old one until that one is drained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import NodeShape, StackConfig
from .addresses import CONTROL_PLANE, address_for

Role = Literal["control-plane", "worker"]


@dataclass(frozen=True)
class NodePlan:
    key: str  # stable resource key: "<pool>-<zone>-<ordinal>"
    name: str  # VM name, hostname and Kubernetes node name
    pool: str
    role: Role
    zone: str
    region: str
    vcenter: str
    datacenter: str
    ordinal: int
    ip: str | None  # None with DHCP
    shape: NodeShape
    init: bool  # the control-plane node that runs `kubeadm init`
    version: str = ""  # the kubelet's Kubernetes version
    generation: str = ""  # hash of what replaces the node when it changes

    @property
    def is_control_plane(self) -> bool:
        return self.role == "control-plane"


def node_name(cluster: str, pool: str, zone: str, ordinal: int, generation: str = "") -> str:
    base = f"{cluster}-{pool}-{zone}-{ordinal}"
    return f"{base}-{generation}" if generation else base


def plan_nodes(cfg: StackConfig) -> list[NodePlan]:
    """All nodes of the stack: control plane first, then worker pools in order."""
    from .roll import generation

    cp = cfg.node_pools.control_plane
    cp_version = cfg.kubernetes.version
    pools: list[tuple[str, Role, NodeShape, dict[str, int], str]] = [
        (CONTROL_PLANE, "control-plane", cp, cp.replicas, cp_version)
    ]
    pools += [(p.name, "worker", p, p.replicas, p.kubernetes_version or cp_version) for p in cfg.node_pools.workers]
    nodes: list[NodePlan] = []
    first_cp = True
    for pool, role, shape, replicas, version in pools:
        gen = generation(shape, version)
        for zone_name, count in replicas.items():
            zone = cfg.zone(zone_name)
            region = cfg.region(zone.region)
            for ordinal in range(count):
                nodes.append(
                    NodePlan(
                        key=f"{pool}-{zone_name}-{ordinal}",
                        name=node_name(cfg.cluster.name, pool, zone_name, ordinal, gen),
                        pool=pool,
                        role=role,
                        zone=zone_name,
                        region=region.name,
                        vcenter=cfg.zone_vcenter(zone).name,
                        datacenter=zone.datacenter,
                        ordinal=ordinal,
                        ip=address_for(cfg, zone_name, pool, ordinal),
                        shape=shape,
                        init=role == "control-plane" and first_cp,
                        version=version,
                        generation=gen,
                    )
                )
                if role == "control-plane":
                    first_cp = False
    return nodes
