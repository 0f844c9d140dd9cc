"""Day-2 changes through the real CLI (issue 16): a drained scale-down, a rolling worker template
change, a control-plane roll one node at a time (its etcd step skipped: this stack has no etcd access)
and a worker roll with maxSurge 0 / maxUnavailable 1 (each old node retired before its replacement,
under the same name).

A world of its own (vcsim, a real API server and scheduler, kwok running the pods, the real CPI):
the steps change the node set, which the lifecycle steps sharing the package world must not see.
A recorder polls the API server and vCenter while each `up` runs and keeps when each thing was
first seen (a VM, a Node Ready, a cordon, a node emptied of pods, a Node or VM gone) and the
lowest health each PodDisruptionBudget reported, so the order of operations is asserted, not assumed.
A name seen again after its Node (or VM) was gone is another machine: its events read ``<name>#1``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.support.world.day2 import (
    NEW_TEMPLATE,
    NS,
    STACK,
    TEMPLATE,
    WORKERS,
    Day2,
    assert_control_plane_rolled_in_order,
    deploy_app,
    items,
    logged_preview,
    node_names,
    on_node,
    report,
)
from tests.support.world.project import STACK_TEMPLATES, open_local_stack
from tests.support.world.world import World
from toolchain.manifest import REPO_ROOT
from vsphere_k8s.stack_file import read_stack_file


@pytest.fixture(scope="module")
def day2() -> Iterator[Day2]:
    # Always the local world, also when the tier targets a real site: kwok runs these pods.
    workdir = REPO_ROOT / "build" / "e2e" / f"day2-{time.strftime('%Y%m%d-%H%M%S')}"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    world.start()
    try:
        cli = open_local_stack(world, STACK, STACK_TEMPLATES / "Pulumi.local.yaml", expected)
        cli.run("up", "--yes", "--skip-preview")
        yield Day2(world, cli, expected)
    finally:
        world.stop()


def test_1_scale_down_drains_before_the_vm_goes_and_honours_the_pdb(day2: Day2) -> None:
    core = day2.world.core()
    apps = client.AppsV1Api(core.api_client)
    policy = client.PolicyV1Api(core.api_client)
    names = day2.planned()
    victim = names[f"{WORKERS}-local-a-1"]
    # One pod on each of three workers (the victim among them); the PDB lets one go at a time.
    pinned = [victim, names[f"{WORKERS}-local-b-0"], names[f"{WORKERS}-local-c-0"]]
    deploy_app(core, apps, policy, "pinned", replicas=3, min_available=2, nodes=pinned)
    assert victim in {on_node(p) for p in items(core.list_namespaced_pod(NS, label_selector="app=pinned"))}
    day2.cli.run("config", "set", "--path", "nodePools.workers[0].replicas.local-a", "1")
    preview = logged_preview(day2.cli)
    assert f"retire {WORKERS}-local-a-1: scale-down" in preview, preview[-4000:]

    rec, steps, took = day2.up()
    report("scale-down", rec, took)
    slot = f"{WORKERS}-local-a-1"
    assert rec.at(f"cordon {victim}") <= rec.at(f"drained {victim}") <= rec.at(f"node-gone {victim}")
    assert rec.at(f"drained {victim}") < rec.at(f"vm-gone {victim}"), "the VM went before its node was drained"
    # The engine finished the retirement (drain, Node deleted) before it began deleting the VM.
    assert steps.at("done", "delete", f"local-retire-{slot}") < steps.at(
        "pre", "delete", f"local-{WORKERS}-vm-local-a-1"
    )
    assert {n for _, n in steps.ops("create", "update", "replace", "create-replacement")} <= {
        f"local-{WORKERS}-anti-affinity-DC0-DC0_C0"  # the zone's rule, now without the removed VM
    }
    assert not rec.violations, rec.violations
    assert rec.min_healthy["pinned"] >= 2
    assert victim not in node_names(core)
    # Nothing else was touched.
    assert not [k for k in rec.events if k.startswith(("cordon ", "vm-gone ")) and victim not in k]
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")  # a second `up` changes nothing
    apps.delete_namespaced_deployment("pinned", NS)
    policy.delete_namespaced_pod_disruption_budget("pinned", NS)


def test_2_a_template_change_rolls_the_workers_create_before_delete(day2: Day2) -> None:
    core = day2.world.core()
    apps = client.AppsV1Api(core.api_client)
    policy = client.PolicyV1Api(core.api_client)
    before = day2.slots()
    deploy_app(core, apps, policy, "spread", replicas=2, min_available=1)
    day2.cli.run("config", "set", "--path", "nodePools.workers[0].template", NEW_TEMPLATE)
    after = day2.planned()
    workers = sorted(k for k in after if k.startswith(f"{WORKERS}-"))
    old = {k: before[k]["name"] for k in workers}
    new = {k: after[k] for k in workers}
    assert all(old[k] != new[k] for k in workers)
    assert all(after[k] == before[k]["name"] for k in after if k not in workers)  # the control plane stays
    day2.expected.update(dict.fromkeys(new.values(), False))  # their kubelets register once the VMs boot
    preview = logged_preview(day2.cli)
    for k in workers:
        assert f"replace {old[k]} -> {new[k]}: template" in preview, preview[-4000:]

    rec, steps, took = day2.up()
    report("worker template roll", rec, took)
    # The engine's order: every replacement created before any old node's retirement is deleted,
    # and each old VM deleted only after its retirement (drain, Node deleted) is done.
    creates = [steps.at("done", "create-replacement", f"local-retire-{k}") for k in workers]
    retires = [steps.at("pre", "delete-replaced", f"local-retire-{k}") for k in workers]
    assert max(creates) < min(retires)
    for k in workers:
        zone, ordinal = k.removeprefix(f"{WORKERS}-").rsplit("-", 1)
        vm = f"local-{WORKERS}-vm-{zone}-{ordinal}"
        assert steps.at("done", "delete-replaced", f"local-retire-{k}") < steps.at("pre", "delete-replaced", vm)
    assert not rec.violations, rec.violations
    assert rec.min_healthy["spread"] >= 1
    # maxSurge 1: each new VM after the previous new node was Ready, in plan order.
    for a, b in itertools.pairwise(workers):
        assert rec.at(f"ready {new[a]}") <= rec.at(f"vm {new[b]}"), (a, b)
    # Create before delete: every new node Ready before any old one is cordoned.
    last_ready = max(rec.at(f"ready {new[k]}") for k in workers)
    for k in workers:
        assert last_ready <= rec.at(f"cordon {old[k]}")
        assert rec.at(f"cordon {old[k]}") <= rec.at(f"drained {old[k]}") <= rec.at(f"node-gone {old[k]}")
        assert rec.at(f"drained {old[k]}") < rec.at(f"vm-gone {old[k]}")
    live = node_names(core)
    assert set(new.values()) <= live and not set(old.values()) & live
    slots = day2.slots()
    assert {k: slots[k]["name"] for k in workers} == new
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")  # a second `up` changes nothing


def test_3_a_control_plane_roll_replaces_one_node_at_a_time(day2: Day2) -> None:
    core = day2.world.core()
    before = day2.slots()
    day2.cli.run("config", "set", "--path", "nodePools.controlPlane.template", NEW_TEMPLATE)
    after = day2.planned()
    cps = sorted(k for k in after if k.startswith("cp-"))
    old = {k: before[k]["name"] for k in cps}
    new = {k: after[k] for k in cps}
    assert len(cps) == 3 and all(old[k] != new[k] for k in cps)
    day2.expected.update(dict.fromkeys(new.values(), True))
    preview = logged_preview(day2.cli)
    # The e2e stack has no kubernetes.etcd: the program says it cannot remove the members.
    assert "its etcd member is not removed" in preview

    rec, steps, took = day2.up()
    report("control-plane template roll", rec, took)
    assert not rec.violations, rec.violations
    assert_control_plane_rolled_in_order(rec, steps, cps, old=old, new=new, stack="local")
    live = node_names(core)
    assert set(new.values()) <= live and not set(old.values()) & live
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_4_max_unavailable_retires_each_worker_before_its_replacement_under_its_name(day2: Day2) -> None:
    core = day2.world.core()
    apps = client.AppsV1Api(core.api_client)
    policy = client.PolicyV1Api(core.api_client)
    before = day2.slots()
    workers = sorted(k for k in before if k.startswith(f"{WORKERS}-"))
    names = {k: before[k]["name"] for k in workers}
    assert len(workers) == 3, workers  # after the scale-down: one in each zone
    # One pod pinned to each worker; the PDB lets one go at a time: an evicted pod waits (Pending)
    # for its node's replacement, so the next drain is refused until it runs there again.
    deploy_app(core, apps, policy, "rolling", replicas=3, min_available=2, nodes=list(names.values()))
    raw, _ = read_stack_file(day2.cli.project / "stacks" / f"Pulumi.{STACK}.yaml")
    template = NEW_TEMPLATE if raw["nodePools"]["workers"][0]["template"] == TEMPLATE else TEMPLATE
    for key, value in (("maxSurge", "0"), ("maxUnavailable", "1"), ("template", template)):
        day2.cli.run("config", "set", "--path", f"nodePools.workers[0].{key}", value)
    assert {k: v for k, v in day2.planned().items() if k in workers} == names  # the names stay
    preview = logged_preview(day2.cli)
    for k in workers:
        assert f"replace {names[k]} (deleted first, same name): template" in preview, preview[-4000:]

    rec, steps, took = day2.up(pool=set(names.values()))
    report("worker roll, maxSurge 0 / maxUnavailable 1", rec, took)
    print("engine steps:", [(o, n) for o, n in steps.ops("delete-replaced", "create-replacement", "replace")])
    for k in workers:
        n = names[k]
        zone, ordinal = k.removeprefix(f"{WORKERS}-").rsplit("-", 1)
        vm = f"local-{WORKERS}-vm-{zone}-{ordinal}"
        # Seen: the old node cordoned, drained, its Node deleted, its VM deleted; only then the new VM
        # (the same name, another machine) and its Node Ready.
        assert rec.at(f"cordon {n}") <= rec.at(f"drained {n}") <= rec.at(f"node-gone {n}"), k
        assert rec.at(f"node-gone {n}") < rec.at(f"vm-gone {n}") <= rec.at(f"vm {n}#1") <= rec.at(f"ready {n}#1"), k
        # The engine's order: the retirement's delete (drain) done before the VM's delete begins, the
        # VM's delete done before its replacement is created.
        assert steps.at("done", "delete-replaced", f"local-retire-{k}") < steps.at("pre", "delete-replaced", vm)
        assert steps.at("done", "delete-replaced", vm) < steps.at("pre", "create-replacement", vm)
    # One at a time: the next old node is cordoned only once the previous replacement is Ready.
    for a, b in itertools.pairwise(workers):
        assert rec.at(f"ready {names[a]}#1") <= rec.at(f"cordon {names[b]}"), (a, b)
        assert steps.at("done", "create-replacement", f"local-retire-{a}") < steps.at(
            "pre", "delete-replaced", f"local-retire-{b}"
        )
    # Never more than maxUnavailable of the pool unavailable, and no budget broken.
    assert rec.min_available == len(workers) - 1, rec.min_available
    assert not rec.violations, rec.violations
    assert rec.min_healthy["rolling"] >= 2
    # Nothing else was retired: the control plane's nodes were not touched.
    assert not [
        e for e in rec.events if e.startswith("cordon ") and e.split(" ", 1)[1].split("#")[0] not in names.values()
    ]
    live = node_names(core)
    assert set(names.values()) <= live
    slots = day2.slots()
    assert {k: slots[k]["name"] for k in workers} == names
    assert all(slots[k]["generation"] != before[k]["generation"] for k in workers)
    day2.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")  # a second `up` changes nothing
    apps.delete_namespaced_deployment("rolling", NS)
    policy.delete_namespaced_pod_disruption_budget("rolling", NS)
