"""The roll planner: which nodes roll and why, what changes in place, and the order the engine runs."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from offline.program import offline_config
from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigError
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
    # 33 creates (1 Ready poll each) + 33 retirements of 15 calls (10 evictions); etcd: 3 x 3 + 3 x 8.
    assert c.api_calls == 33 + 33 * 15
    assert c.etcd_calls == 3 * 3 + 3 * (1 + 6 + 1)
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


# --------------------------------------------------------------------------- maxUnavailable: deleting first


def _same_names(specs: list[NodeSpec], pool: str, **changes: Any) -> list[NodeSpec]:
    """A deletes-first pool's change: new inputs, the slots' recorded names kept."""
    return [replace(s, **changes) if s.pool == pool else s for s in specs]


def test_max_unavailable_retires_each_batch_before_its_replacements_under_the_same_names() -> None:
    old = _cluster(cp=3, workers=6)
    new = _same_names(old, "w", template="t2")
    plan = plan_roll(old, new, {"w": PoolPolicy(max_surge=0, max_unavailable=2)})
    assert plan.issues == () and len(plan.replace) == 6
    assert all(r.old_name == r.new_name for r in plan.replace)
    workers = [s.name for s in old if s.pool == "w"]
    # retire 2, create the same 2, and so on: nothing of the pool is left for the engine's final deletes.
    assert [(s.verb, s.names) for s in plan.steps] == [
        (verb, tuple(workers[i : i + 2])) for i in range(0, 6, 2) for verb in ("retire", "create")
    ]
    assert f"replace {workers[0]} (deleted first, same name): template ubuntu-1.36 -> t2" in plan.summary()
    assert "step 1: retire " + ", ".join(workers[:2]) in plan.summary()


def test_a_deletes_first_pool_still_retires_removed_slots_last_and_creates_new_ones_in_its_batches() -> None:
    old = _cluster(cp=3, workers=3)
    grown = [*old, NodeSpec("w-a-1", "w-a-1", "w", "worker", "ubuntu-1.36", "1.36.3", 4, 8192, 60)]
    new = [s for s in _same_names(grown, "w", template="t2") if s.slot != "w-c-0"]
    plan = plan_roll(old, new, {"w": PoolPolicy(max_surge=0, max_unavailable=1)})
    by = {s.slot: s.name for s in old}
    assert plan.create == ("w-a-1",) and plan.retire == ("w-c-0",)
    assert [(s.verb, s.names) for s in plan.steps] == [
        ("retire", (by["w-a-0"],)),
        ("create", (by["w-a-0"],)),
        ("retire", (by["w-b-0"],)),
        ("create", (by["w-b-0"],)),
        ("create", ("w-a-1",)),  # the new slot: created in its place in the chain, nothing to retire
        ("retire", (by["w-c-0"],)),  # scale-down: the engine deletes removed resources last
    ]


def test_a_static_address_pool_rolls_deleting_first_and_says_how_when_it_cannot() -> None:
    old = [replace(s, static_ip=f"10.0.0.{i}") for i, s in enumerate(_cluster(cp=3, workers=3))]
    surge = plan_roll(old, _with(old, "w", template="t2"))
    (issue,) = surge.issues
    assert issue.path == "nodePools.workers[w].maxSurge"
    assert "maxSurge: 0 and maxUnavailable" in issue.message and "same static address 10.0.0.3" in issue.message
    unavailable = plan_roll(old, _same_names(old, "w", template="t2"), {"w": PoolPolicy(0, max_unavailable=1)})
    assert unavailable.issues == () and len(unavailable.replace) == 3


def test_pool_policy_takes_exactly_one_of_max_surge_and_max_unavailable() -> None:
    for surge, unavailable in ((0, 0), (1, 1), (-1, 2)):
        with pytest.raises(ValueError, match=f"maxSurge {surge} / maxUnavailable {unavailable}"):
            PoolPolicy(max_surge=surge, max_unavailable=unavailable)
    assert PoolPolicy().batch == 1 and not PoolPolicy().deletes_first
    assert PoolPolicy(0, max_unavailable=3).batch == 3 and PoolPolicy(0, max_unavailable=3).deletes_first


def test_ordering_chains_a_deletes_first_pool_in_max_unavailable_batches() -> None:
    specs = _cluster(cp=3, workers=4)
    order = ordering(specs, {"w": PoolPolicy(max_surge=0, max_unavailable=3)}).vm_after
    assert order["w-a-0"] == order["w-b-0"] == order["w-c-0"] == ("cp-c-0",)
    assert order["w-a-1"] == ("w-a-0", "w-b-0", "w-c-0")


def test_cost_of_a_worker_roll_one_unavailable_at_a_time_at_thirty_workers() -> None:
    old = _cluster()
    plan = plan_roll(old, _same_names(old, "w", template="t2"), {"w": PoolPolicy(0, max_unavailable=1)})
    c = cost(plan, pods_per_node=10)
    # The same calls as maxSurge 1 (a retirement of 15, a create of 1 per node), in 60 sequential steps.
    assert (c.api_calls, c.etcd_calls, c.sequential_batches) == (30 * 15 + 30, 0, 60)
    wide = cost(plan_roll(old, _same_names(old, "w", template="t2"), {"w": PoolPolicy(0, max_unavailable=5)}), 10)
    assert (wide.api_calls, wide.sequential_batches) == (c.api_calls, 12)


def _with_pool(raw: dict[str, Any], **pool: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    raw["nodePools"]["workers"][0].update(pool)
    return raw


def test_max_unavailable_config_errors_name_the_field() -> None:
    raw = offline_config("sim")
    for pool, said in (
        ({"maxSurge": 0}, "0 with maxSurge 0"),
        ({"maxSurge": 0, "maxUnavailable": 0}, "0 with maxSurge 0"),
        ({"maxSurge": 2, "maxUnavailable": 1}, "1 with maxSurge 2"),
        ({"maxUnavailable": 1}, "1 with maxSurge 1"),
        ({"maxSurge": 0, "maxUnavailable": -1}, "greater than or equal to 0"),
    ):
        with pytest.raises(ConfigError) as err:
            load(_with_pool(raw, **pool), stack="test")
        ((path, message),) = [(i.path, i.message) for i in err.value.issues]
        assert path == "nodePools.workers[general].maxUnavailable" and said in message, (pool, path, message)
    cfg = load(_with_pool(raw, maxSurge=0, maxUnavailable=2), stack="test")
    assert policies_of(cfg)["general"] == PoolPolicy(0, max_unavailable=2)
    assert policies_of(load(raw, stack="test"))["general"] == PoolPolicy(1)  # the default surges, keeps capacity


def test_a_deletes_first_pool_keeps_its_recorded_names_across_generations() -> None:
    raw = offline_config("sim")
    cfg = load(_with_pool(raw, maxSurge=0, maxUnavailable=1), stack="test")
    record = slot_records(plan_nodes(cfg))
    changed = load(_with_pool(raw, maxSurge=0, maxUnavailable=1, template="t2"), stack="test")
    nodes = plan_nodes(changed, record)
    workers = [n for n in nodes if n.pool == "general"]
    assert workers and all(n.name == record[n.key]["name"] for n in nodes)
    assert all(n.generation != record[n.key]["generation"] for n in workers)
    plan = plan_roll(specs_of(plan_nodes(cfg)), specs_of(nodes), policies_of(changed))
    assert {r.slot for r in plan.replace} == {n.key for n in workers}
    assert plan.issues == ()  # the sim stack's static addresses: the old VM releases its address first
