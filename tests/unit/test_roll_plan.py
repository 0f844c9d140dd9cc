"""The roll planner: which nodes roll and why, what changes in place, and the order the engine runs."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from offline.program import offline_config
from vsphere_k8s.config import StackConfig
from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import plan_nodes, slot_records
from vsphere_k8s.plan.roll import NodeSpec, PoolPolicy, cost, ordering, plan_roll, policies_of, specs_of


def _cluster(cp: int = 3, workers: int = 30, **worker: Any) -> list[NodeSpec]:
    zones = ["a", "b", "c"]
    specs = []
    for i in range(cp):
        z = zones[i % 3]
        specs.append(NodeSpec(f"cp-{z}-{i // 3}", "", "cp", "control-plane", "ubuntu-1.36", "1.36.3", 4, 8192, 60))
    for i in range(workers):
        z = zones[i % 3]
        base: dict[str, Any] = {"template": "ubuntu-1.36", "version": "1.36.3", "cpus": 4, "memory_mib": 8192}
        base["disk_gib"] = 60
        base |= worker
        specs.append(NodeSpec(slot=f"w-{z}-{i // 3}", name="", pool="w", role="worker", **base))
    return [replace(s, name=f"{s.slot}-{s.generation}") for s in specs]


def _with(specs: list[NodeSpec], pool: str, **changes: Any) -> list[NodeSpec]:
    out = [replace(s, **changes) if s.pool == pool else s for s in specs]
    return [replace(s, name=f"{s.slot}-{s.generation}") for s in out]


def test_nothing_changed_plans_nothing() -> None:
    old = _cluster()
    plan = plan_roll(old, old)
    assert plan.changes_nothing and plan.steps == () and plan.issues == ()


def test_a_template_change_rolls_the_control_plane_one_at_a_time_then_workers_in_surge_batches() -> None:
    old = _cluster()
    new = _with(_with(old, "cp", template="ubuntu-1.36b"), "w", template="ubuntu-1.36b")
    plan = plan_roll(old, new, {"w": PoolPolicy(max_surge=5)})
    assert len(plan.replace) == 33
    assert all(r.reasons == ("template ubuntu-1.36 -> ubuntu-1.36b",) for r in plan.replace)
    creates = [s for s in plan.steps if s.verb == "create"]
    retires = [s for s in plan.steps if s.verb == "retire"]
    assert [len(s.names) for s in creates] == [1, 1, 1] + [5] * 6
    assert [s.pool for s in creates[:3]] == ["cp"] * 3
    # Every create before any retire (the engine deletes last); workers retire before the control plane,
    # the control plane one at a time, in the reverse of its creation order.
    assert plan.steps.index(retires[0]) == len(creates)
    assert [s.pool for s in retires[-3:]] == ["cp"] * 3
    assert [s.names[0] for s in retires[-3:]] == [n.name for n in reversed(old[:3])]
    assert plan.peak_etcd_members == 6


def test_a_version_bump_names_its_reason_and_scale_down_retires_the_removed_slots() -> None:
    old = _cluster(workers=6)
    new = _with(old, "cp", version="1.36.4")
    new = [s for s in new if s.slot != "w-c-1"]
    plan = plan_roll(old, new)
    assert [r.reasons for r in plan.replace] == [("Kubernetes 1.36.3 -> 1.36.4",)] * 3
    assert plan.retire == ("w-c-1",)
    assert [s.verb for s in plan.steps] == ["create"] * 3 + ["retire"] * 4
    assert plan.steps[3].names == (next(s.name for s in old if s.slot == "w-c-1"),)


def test_hot_add_changes_cpu_in_place_and_refuses_to_shrink() -> None:
    old = _cluster(cp=3, workers=3, hot_add=True)
    grown = _with(old, "w", cpus=8)
    plan = plan_roll(old, grown)
    assert plan.replace == () and [c.changes for c in plan.in_place] == [("cpus 4 -> 8 (hot-add)",)] * 3
    shrunk = _with(old, "w", cpus=2)
    assert [i.path for i in plan_roll(old, shrunk).issues] == ["nodePools.workers[w].cpus"]
    # Without hot-add the same change rolls.
    cold = _cluster(cp=3, workers=3)
    assert [r.reasons for r in plan_roll(cold, _with(cold, "w", cpus=8)).replace] == [("cpus 4 -> 8 (hotAdd off)",)] * 3


def test_a_control_plane_of_one_needs_the_opt_in() -> None:
    old = _cluster(cp=1, workers=0)
    new = _with(old, "cp", template="t2")
    (issue,) = plan_roll(old, new).issues
    assert issue.path == "nodePools.controlPlane.allowUnsafeRoll"
    assert plan_roll(old, new, {"cp": PoolPolicy(allow_unsafe_roll=True)}).issues == ()


def test_a_static_address_pool_cannot_roll_yet() -> None:
    old = [replace(s, static_ip=f"10.0.0.{i}") for i, s in enumerate(_cluster(cp=3, workers=0))]
    (issue,) = plan_roll(old, _with(old, "cp", template="t2")).issues
    assert "same static address 10.0.0.0" in issue.message


def test_ordering_chains_the_control_plane_then_each_pool_after_it() -> None:
    specs = _cluster(cp=3, workers=5)
    order = ordering(specs, {"w": PoolPolicy(max_surge=2)}).vm_after
    assert order["cp-a-0"] == () and order["cp-b-0"] == ("cp-a-0",) and order["cp-c-0"] == ("cp-b-0",)
    assert order["w-a-0"] == order["w-b-0"] == ("cp-c-0",)
    assert order["w-c-0"] == order["w-a-1"] == ("w-a-0", "w-b-0")
    assert order["w-b-1"] == ("w-c-0", "w-a-1")


def test_cost_at_three_control_plane_nodes_and_thirty_workers() -> None:
    old = _cluster()
    new = _with(_with(old, "cp", template="t2"), "w", template="t2")
    c = cost(plan_roll(old, new), pods_per_node=10)
    # 33 creates (1 Ready poll each) + 33 retirements of 15 calls (10 evictions); etcd: 3 x 2 + 3 x 8.
    assert c.api_calls == 33 + 33 * 15
    assert c.etcd_calls == 3 * 2 + 3 * (1 + 6 + 1)
    assert c.sequential_batches == 66


def _sim() -> StackConfig:
    raw: dict[str, Any] = copy.deepcopy(offline_config("sim"))
    return load(raw, stack="test")


def test_the_stack_plan_feeds_the_planner() -> None:
    cfg = _sim()
    nodes = plan_nodes(cfg)
    specs = specs_of(nodes)
    # No record (a new stack, or one made before rolls): base names, as earlier versions named them.
    assert all(n.name == f"{cfg.cluster.name}-{n.key}" for n in nodes)
    assert [s.generation for s in specs] == [n.generation for n in nodes]
    record = slot_records(nodes)
    bumped = cfg.model_copy(update={"kubernetes": cfg.kubernetes.model_copy(update={"version": "1.36.9"})})
    rolled = plan_nodes(bumped, record)
    assert all(n.name == f"{cfg.cluster.name}-{n.key}-{n.generation}" for n in rolled)
    plan = plan_roll(specs, specs_of(rolled), policies_of(bumped))
    assert {r.slot for r in plan.replace} == {n.key for n in nodes}
    # The record keeps a rolled slot's name while its generation holds: nothing rolls twice.
    again = plan_nodes(bumped, slot_records(rolled))
    assert [n.name for n in again] == [n.name for n in rolled]
    assert plan_roll(specs_of(rolled), specs_of(again)).changes_nothing
    assert [n.name for n in plan_nodes(cfg, record)] == [n.name for n in nodes]
    # Back to the first generation is another new machine, not the old name.
    back = plan_nodes(cfg, slot_records(rolled))
    assert all(b.name == f"{n.name}-{n.generation}" for b, n in zip(back, nodes, strict=True))
    # The record round-trips the planner's specs.
    assert [NodeSpec.from_json(r["spec"]) for r in record.values()] == specs
