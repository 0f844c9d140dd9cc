"""Pure: which nodes a configuration change rolls, why, and in what order the engine runs it.

A node is replaced, never edited, when something only a new machine can change moves: its
template, its Kubernetes version, or a shape the running VM cannot take (disk, or CPU and
memory without hot-add). Everything else (labels, tags, hot-added CPU and memory) changes in
place. The node's generation hashes exactly the replacing inputs; a slot whose generation moved
gets a new name ending in it (vsphere_k8s/plan/nodes.py: a slot's first node keeps its base name).

The order is what Pulumi does with the dependencies the program declares (see
:func:`ordering`): a new node's VM waits for the previous batch's nodes to be Ready (the
control plane one at a time, a worker pool ``maxSurge`` at a time, worker pools after the
control plane); the engine deletes replaced and removed resources after every creation, in
reverse dependency order, so old nodes retire in the reverse of that chain, each drained (and
its etcd member removed) before its VM goes.

A worker pool with ``maxSurge: 0`` rolls ``maxUnavailable`` nodes at a time the other way round:
its slots keep their names, and the VM is replaced under its own resource name with
delete-before-replace, so the engine retires the old node (its NodeRetirement is replaced with
its VM) and deletes the old VM before it creates the new one; the next batch's VM waits for
this batch's new nodes to be Ready. Capacity dips by at most ``maxUnavailable`` nodes; nothing
needs a spare address or spare room.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..config import NodeShape
from ..errors import ConfigIssue
from .addresses import CONTROL_PLANE

Role = Literal["control-plane", "worker"]
GENERATION_CHARS = 5


def _replacing(shape: NodeShape, version: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "template": shape.template,
        "version": version,
        "diskGib": shape.disk_gib,
        "hotAdd": shape.hot_add,  # turning hot-add on or off needs the VM powered off
    }
    if not shape.hot_add:
        fields |= {"cpus": shape.cpus, "memoryMib": shape.memory_mib}
    return fields


def generation(shape: NodeShape, version: str) -> str:
    """A short hash of what replaces a node: equal inputs, equal generation, on every run."""
    text = json.dumps(_replacing(shape, version), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:GENERATION_CHARS]


@dataclass(frozen=True)
class NodeSpec:
    """What the roll planner compares of one node: its slot and the inputs that roll or update it."""

    slot: str  # the node key, "<pool>-<zone>-<ordinal>": stable across generations
    name: str
    pool: str
    role: Role
    template: str
    version: str
    cpus: int
    memory_mib: int
    disk_gib: int
    hot_add: bool = False
    static_ip: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def generation(self) -> str:
        shape = NodeShape(
            template=self.template,
            cpus=self.cpus,
            memory_mib=self.memory_mib,
            disk_gib=self.disk_gib,
            hot_add=self.hot_add,
        )
        return generation(shape, self.version)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "labels": dict(self.labels)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> NodeSpec:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


@dataclass(frozen=True)
class PoolPolicy:
    max_surge: int = 1
    allow_unsafe_roll: bool = False  # control plane of one
    max_unavailable: int = 0  # with max_surge 0: retire this many old nodes, then make their replacements

    def __post_init__(self) -> None:
        if (self.max_surge > 0) == (self.max_unavailable > 0) or min(self.max_surge, self.max_unavailable) < 0:
            raise ValueError(
                f"maxSurge {self.max_surge} / maxUnavailable {self.max_unavailable}: exactly one must be above 0"
            )

    @property
    def deletes_first(self) -> bool:
        """The pool's old nodes go before their replacements come, under the same names."""
        return self.max_surge == 0

    @property
    def batch(self) -> int:
        return self.max_surge or self.max_unavailable


@dataclass(frozen=True)
class Replace:
    slot: str
    old_name: str
    new_name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class InPlace:
    slot: str
    name: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """One batch the engine runs at once: create (and wait Ready) or retire (drain, remove, delete)."""

    verb: Literal["create", "retire"]
    pool: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class RollPlan:
    replace: tuple[Replace, ...] = ()
    create: tuple[str, ...] = ()  # new slots (scale-up)
    retire: tuple[str, ...] = ()  # removed slots (scale-down)
    in_place: tuple[InPlace, ...] = ()
    steps: tuple[Step, ...] = ()
    issues: tuple[ConfigIssue, ...] = ()
    peak_etcd_members: int = 0

    @property
    def changes_nothing(self) -> bool:
        return not (self.replace or self.create or self.retire or self.in_place)

    def summary(self) -> list[str]:
        """One line per decision: what `pulumi preview` shows beside the steps."""
        lines = [
            f"replace {r.old_name} -> {r.new_name}: {'; '.join(r.reasons)}"
            if r.old_name != r.new_name
            else f"replace {r.old_name} (deleted first, same name): {'; '.join(r.reasons)}"
            for r in self.replace
        ]
        lines += [f"create {s}: new node" for s in self.create]
        lines += [f"retire {s}: scale-down" for s in self.retire]
        lines += [f"update {c.name} in place: {'; '.join(c.changes)}" for c in self.in_place]
        lines += [f"step {i + 1}: {s.verb} {', '.join(s.names)}" for i, s in enumerate(self.steps)]
        return lines


def _reasons(old: NodeSpec, new: NodeSpec) -> tuple[str, ...]:
    reasons = []
    if old.template != new.template:
        reasons.append(f"template {old.template} -> {new.template}")
    if old.version != new.version:
        reasons.append(f"Kubernetes {old.version} -> {new.version}")
    if old.disk_gib != new.disk_gib:
        reasons.append(f"diskGib {old.disk_gib} -> {new.disk_gib} (not changed on a running node)")
    if old.hot_add != new.hot_add:
        reasons.append(f"hotAdd {old.hot_add} -> {new.hot_add} (needs the VM powered off)")
    elif not new.hot_add:
        if old.cpus != new.cpus:
            reasons.append(f"cpus {old.cpus} -> {new.cpus} (hotAdd off)")
        if old.memory_mib != new.memory_mib:
            reasons.append(f"memoryMib {old.memory_mib} -> {new.memory_mib} (hotAdd off)")
    return tuple(reasons)


def _in_place(old: NodeSpec, new: NodeSpec) -> tuple[str, ...]:
    changes = []
    if new.hot_add and old.hot_add:
        if old.cpus != new.cpus:
            changes.append(f"cpus {old.cpus} -> {new.cpus} (hot-add)")
        if old.memory_mib != new.memory_mib:
            changes.append(f"memoryMib {old.memory_mib} -> {new.memory_mib} (hot-add)")
    if dict(old.labels) != dict(new.labels):
        changes.append("labels")
    return tuple(changes)


def _pool_path(pool: str) -> str:
    return "nodePools.controlPlane" if pool == CONTROL_PLANE else f"nodePools.workers[{pool}]"


def _batches(items: Sequence[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]


def _pools_in_order(specs: Iterable[NodeSpec]) -> list[str]:
    pools = list(dict.fromkeys(s.pool for s in specs))
    return sorted(pools, key=lambda p: p != CONTROL_PLANE)  # control plane first, then config order


def _policy(pool: str, policies: Mapping[str, PoolPolicy]) -> PoolPolicy:
    return policies.get(pool, PoolPolicy())


def _batch_size(pool: str, policies: Mapping[str, PoolPolicy]) -> int:
    return 1 if pool == CONTROL_PLANE else _policy(pool, policies).batch


def _deletes_first(pool: str, policies: Mapping[str, PoolPolicy]) -> bool:
    return pool != CONTROL_PLANE and _policy(pool, policies).deletes_first


def plan_roll(
    old: Sequence[NodeSpec],
    new: Sequence[NodeSpec],
    policies: Mapping[str, PoolPolicy] | None = None,
) -> RollPlan:
    """Old nodes (the stack's state) against the configured ones, in plan order."""
    policies = policies or {}
    olds = {s.slot: s for s in old}
    news = {s.slot: s for s in new}
    replace, create, in_place = [], [], []
    for spec in new:
        was = olds.get(spec.slot)
        if was is None:
            create.append(spec.slot)
        elif was.generation != spec.generation:
            replace.append(Replace(spec.slot, was.name, spec.name, _reasons(was, spec) or ("new generation",)))
        elif changes := _in_place(was, spec):
            in_place.append(InPlace(spec.slot, spec.name, changes))
    retire = [s.slot for s in old if s.slot not in news]
    issues = list(_issues(olds, news, replace, retire, policies))

    # Creates follow the new chain (a deletes-first pool retires each batch's old nodes just before
    # it); the other retirements the old chain backwards (the engine deletes replaced and removed
    # resources last).
    replaced = {r.slot for r in replace}
    rolled = replaced | set(create)
    steps: list[Step] = []
    for pool in _pools_in_order(new):
        slots = [s.slot for s in new if s.pool == pool]
        for batch in _batches(slots, _batch_size(pool, policies)):
            if _deletes_first(pool, policies) and (first := tuple(olds[s].name for s in batch if s in replaced)):
                steps.append(Step("retire", pool, first))
            names = tuple(news[s].name for s in batch if s in rolled)
            if names:
                steps.append(Step("create", pool, names))
    gone = {r.slot for r in replace if not _deletes_first(news[r.slot].pool, policies)} | set(retire)
    for pool in reversed(_pools_in_order(old)):
        slots = [s.slot for s in old if s.pool == pool]
        for batch in reversed(_batches(slots, _batch_size(pool, policies))):
            names = tuple(olds[s].name for s in reversed(batch) if s in gone)
            if names:
                steps.append(Step("retire", pool, names))
    old_cp = sum(1 for s in old if s.role == "control-plane")
    new_cp_made = sum(1 for s in new if s.role == "control-plane" and s.slot in rolled)
    return RollPlan(
        replace=tuple(replace),
        create=tuple(create),
        retire=tuple(retire),
        in_place=tuple(in_place),
        steps=tuple(steps),
        issues=tuple(issues),
        peak_etcd_members=old_cp + new_cp_made,
    )


def _issues(
    olds: Mapping[str, NodeSpec],
    news: Mapping[str, NodeSpec],
    replace: Sequence[Replace],
    retire: Sequence[str],
    policies: Mapping[str, PoolPolicy],
) -> Iterable[ConfigIssue]:
    cp_old = [s for s in olds.values() if s.role == "control-plane"]
    cp_touched = [r.slot for r in replace if news[r.slot].role == "control-plane"]
    cp_touched += [s for s in retire if olds[s].role == "control-plane"]
    if len(cp_old) == 1 and cp_touched and not policies.get(CONTROL_PLANE, PoolPolicy()).allow_unsafe_roll:
        yield ConfigIssue(
            "nodePools.controlPlane.allowUnsafeRoll",
            f"replacing {cp_old[0].name}, the only control-plane node, leaves etcd without quorum until the new "
            "member has joined (and the API down if it never does); add control-plane nodes first, or set "
            "allowUnsafeRoll: true to accept it",
        )
    static: dict[str, list[Replace]] = {}
    for r in replace:
        spec = news[r.slot]
        if spec.static_ip is not None and not _deletes_first(spec.pool, policies):
            static.setdefault(spec.pool, []).append(r)
    for pool, rolled in static.items():
        first = rolled[0]
        clash = (
            f"{len(rolled)} node(s) would roll, e.g. {first.old_name} -> {first.new_name} with the same static "
            f"address {news[first.slot].static_ip} while the old VM still holds it"
        )
        if pool == CONTROL_PLANE:
            yield ConfigIssue(_pool_path(pool), f"{clash}; rolling a static-address control plane is not supported yet")
        else:
            yield ConfigIssue(
                f"{_pool_path(pool)}.maxSurge",
                f"{clash}; a static-address pool rolls with maxSurge: 0 and maxUnavailable: N (each old node "
                "retired before its replacement takes the address)",
            )
    shrunk: dict[str, str] = {}  # path -> message, once per pool and key
    for slot, spec in news.items():
        was = olds.get(slot)
        if was is None or not (was.hot_add and spec.hot_add):
            continue
        for key, before, after in (("cpus", was.cpus, spec.cpus), ("memoryMib", was.memory_mib, spec.memory_mib)):
            if after < before:
                shrunk.setdefault(
                    f"{_pool_path(spec.pool)}.{key}",
                    f"{before} -> {after}: hot-add only grows a running VM; to shrink, turn hotAdd off (a roll)",
                )
    yield from (ConfigIssue(path, message) for path, message in shrunk.items())


@dataclass(frozen=True)
class Ordering:
    """The dependencies that make the engine run a roll in order: slot -> the slots whose node
    must be Ready before this slot's VM is created (whose retirement, reversed, comes after)."""

    vm_after: Mapping[str, tuple[str, ...]]


def ordering(new: Sequence[NodeSpec], policies: Mapping[str, PoolPolicy] | None = None) -> Ordering:
    """Static in the configuration: an unchanged node's dependencies never change, so a second
    `up` changes nothing, and only the slots whose generation moved are acted on."""
    policies = policies or {}
    after: dict[str, tuple[str, ...]] = {}
    cp_last: tuple[str, ...] = ()
    for pool in _pools_in_order(new):
        slots = [s.slot for s in new if s.pool == pool]
        previous: tuple[str, ...] = () if pool == CONTROL_PLANE else cp_last
        for batch in _batches(slots, _batch_size(pool, policies)):
            for slot in batch:
                after[slot] = previous
            previous = batch
        if pool == CONTROL_PLANE:
            cp_last = previous
    return Ordering(after)


def specs_of(nodes: Iterable[Any]) -> list[NodeSpec]:
    """NodeSpecs of :class:`vsphere_k8s.plan.nodes.NodePlan` values."""
    out = []
    for n in nodes:
        shape = n.shape
        out.append(
            NodeSpec(
                slot=n.key,
                name=n.name,
                pool=n.pool,
                role=n.role,
                template=shape.template,
                version=n.version,
                cpus=shape.cpus,
                memory_mib=shape.memory_mib,
                disk_gib=shape.disk_gib,
                hot_add=shape.hot_add,
                static_ip=n.ip,
                labels=dict(getattr(shape, "labels", {}) or {}),
            )
        )
    return out


def policies_of(cfg: Any) -> dict[str, PoolPolicy]:
    pools = cfg.node_pools
    out = {CONTROL_PLANE: PoolPolicy(1, pools.control_plane.allow_unsafe_roll)}
    out |= {p.name: PoolPolicy(p.max_surge, max_unavailable=p.max_unavailable) for p in pools.workers}
    return out


@dataclass(frozen=True)
class Cost:
    """What a plan costs the API server and etcd, counted per call the retirement makes."""

    api_calls: int
    etcd_calls: int
    sequential_batches: int


def cost(plan: RollPlan, pods_per_node: int, ready_polls: int = 1) -> Cost:
    """Calls per retired node: GET + PATCH (cordon), LIST pods, an eviction per pod, a LIST per
    drain poll (one when pods leave at once), DELETE node; per created node: ``ready_polls`` GETs.
    A control-plane admission adds member list, its member's and the leader's status (etcd); a
    retirement member list, status of each member (at most the peak), member remove."""
    api = etcd = 0
    for step in plan.steps:
        for _name in step.names:
            if step.verb == "create":
                api += ready_polls
                if step.pool == CONTROL_PLANE:
                    etcd += 3  # member list, the new member's status, the leader's (to compare raft indexes)
            else:
                api += 2 + 1 + pods_per_node + 1 + 1
                if step.pool == CONTROL_PLANE:
                    etcd += 1 + plan.peak_etcd_members + 1
    return Cost(api, etcd, len(plan.steps))
