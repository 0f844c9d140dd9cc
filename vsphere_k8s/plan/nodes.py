"""Which nodes exist, where they go and what they are called.

Names are keyed by pool, zone and ordinal, never by list position, so adding a
zone or a node never renames (and so never replaces) another node.

A slot's first node is named ``<cluster>-<pool>-<zone>-<ordinal>``: no suffix, so a stack made
before day-2 rolls existed keeps its names. The node's generation
(:func:`vsphere_k8s.plan.roll.generation`) hashes what only a new machine can change (template,
Kubernetes version, a shape the VM cannot take live). Each run records every slot's name and
generation as the stack output ``nodeSlots`` (read back by the next run, see
components/memory.py); a slot keeps its recorded name while its generation is unchanged, and
a slot whose generation moved gets ``<base>-<generation>``, so the replacement registers as a
Node of its own beside the old one until that one is drained. A pool that rolls deleting first
(``maxSurge: 0``) keeps its recorded names: its old node is gone before the new one registers.

Exactly one node of a new cluster runs ``kubeadm init``; the record marks its slot (``init``).
It stays the init node while its VM stays; once that VM is replaced, or the cluster is older
than the record, every new node joins the running cluster: a second ``kubeadm init`` on a
rolled control plane would start a cluster of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

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


def slot_name(base: str, gen: str, previous: Mapping[str, Any] | None, keep: bool = False) -> str:
    """The slot's recorded name while its generation holds (always, with ``keep``: a pool that
    replaces its nodes deleting first); ``base`` for a slot never recorded (a new slot, or a stack
    whose last run predates the record); a new name when it moved."""
    if not previous:
        return base
    if (keep or previous.get("generation") == gen) and previous.get("name"):
        return str(previous["name"])
    return f"{base}-{gen}"


def init_slot(control_plane: list[tuple[str, str, str]], previous: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The slot whose VM runs ``kubeadm init``, from the control-plane slots (key, base name,
    generation) in plan order and the last run's record; None when the cluster already runs
    and that VM is gone or being replaced (every new node joins)."""
    if not previous:
        return control_plane[0][0] if control_plane else None  # a new cluster
    marked = [k for k, r in previous.items() if r.get("init")]
    if marked:
        key = marked[0]
    else:
        # A record from before the marker: its first recorded control-plane slot ran init, if it still
        # has its base name (never rolled).
        first = next(((k, base) for k, base, _g in control_plane if k in previous), ("", ""))
        key = first[0] if (previous.get(first[0]) or {}).get("name") == first[1] else ""
    now = {k: g for k, _b, g in control_plane}
    same_vm = key in now and (previous.get(key) or {}).get("generation") == now[key]
    return key if same_vm else None


def plan_nodes(cfg: StackConfig, previous: Mapping[str, Mapping[str, Any]] | None = None) -> list[NodePlan]:
    """All nodes of the stack: control plane first, then worker pools in order. ``previous`` is
    the last run's ``nodeSlots`` record (slot key -> name, generation); without it every node
    has its base name."""
    from .roll import generation

    previous = previous or {}

    cp = cfg.node_pools.control_plane
    cp_version = cfg.kubernetes.version
    pools: list[tuple[str, Role, NodeShape, dict[str, int], str, bool]] = [
        (CONTROL_PLANE, "control-plane", cp, cp.replicas, cp_version, False)
    ]
    pools += [
        (p.name, "worker", p, p.replicas, p.kubernetes_version or cp_version, p.max_surge == 0)
        for p in cfg.node_pools.workers
    ]
    cp_gen = generation(cp, cp_version)
    cp_slots = [
        (f"{CONTROL_PLANE}-{z}-{o}", node_name(cfg.cluster.name, CONTROL_PLANE, z, o), cp_gen)
        for z, count in cp.replicas.items()
        for o in range(count)
    ]
    init = init_slot(cp_slots, previous)
    nodes: list[NodePlan] = []
    for pool, role, shape, replicas, version, keep in pools:
        gen = generation(shape, version)
        for zone_name, count in replicas.items():
            zone = cfg.zone(zone_name)
            region = cfg.region(zone.region)
            for ordinal in range(count):
                key = f"{pool}-{zone_name}-{ordinal}"
                base = node_name(cfg.cluster.name, pool, zone_name, ordinal)
                nodes.append(
                    NodePlan(
                        key=key,
                        name=slot_name(base, gen, previous.get(key), keep),
                        pool=pool,
                        role=role,
                        zone=zone_name,
                        region=region.name,
                        vcenter=cfg.zone_vcenter(zone).name,
                        datacenter=zone.datacenter,
                        ordinal=ordinal,
                        ip=address_for(cfg, zone_name, pool, ordinal),
                        shape=shape,
                        init=key == init,
                        version=version,
                        generation=gen,
                    )
                )
    return nodes


def slot_records(nodes: list[NodePlan]) -> dict[str, dict[str, Any]]:
    """The ``nodeSlots`` output: what the next run names its nodes and plans its roll from."""
    from .roll import specs_of

    return {
        n.key: {
            "name": n.name,
            "generation": n.generation,
            "spec": spec.to_json(),
            **({"init": True} if n.init else {}),  # the VM that ran kubeadm init (see init_slot)
        }
        for n, spec in zip(nodes, specs_of(nodes), strict=True)
    }
