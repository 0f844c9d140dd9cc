"""A Kubernetes version bump through the real CLI (issue 16), in the order the skew rules demand.

A world of its own (vcsim, a real kube-apiserver v1.36, scheduler, kwok, the real CPI). The stack
starts at 1.35 and moves to 1.36, the API server's own minor, so no kubelet ever claims a version
newer than the server it registers with. In `mode: existing` the node software is the template's
(docs/node-templates.md): two of the simulator's VMs are the node templates, their annotations
saying the release they carry as image-builder's OVAs do; a clone keeps its template's annotation,
and the world's node agent registers each Node with that kubelet version.

1. refused before anything changes: workers newer than the control plane, a control plane two
   minors ahead, workers moving with the control plane, a version bump whose template says another;
2. the control plane moves one minor (workers pinned to the old one): its nodes are replaced one
   at a time, the CPI and CSI manifests move to the new minor's releases, the workers stay;
3. the workers move: they roll, one at a time.
After each `up`, a second `up --expect-no-changes`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from pyVmomi import vim

from tests.support.world.day2 import (
    Day2,
    Recorder,
    Steps,
    assert_control_plane_rolled_in_order,
    items,
    logged_preview,
    plain,
    report,
)
from tests.support.world.kubelets import vm_uuids
from tests.support.world.project import STACK_TEMPLATES, open_local_stack
from tests.support.world.vms import find_vm
from tests.support.world.world import World
from toolchain.manifest import REPO_ROOT
from vsphere_k8s.config import StackConfig
from vsphere_k8s.loader import load
from vsphere_k8s.manifests import cpi as cpi_manifest
from vsphere_k8s.manifests import csi as csi_manifest
from vsphere_k8s.manifests.images import images_for
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.stack_file import read_stack_file
from vsphere_k8s.versions import minor_of

STACK = "upgrade"
WORKERS = "general"
OLD, NEW = "1.35.2", "1.36.3"
OLD_TEMPLATE = "DC0_C0_RP0_VM0"  # the world stack's template: here an image of 1.35.2
NEW_TEMPLATE = "DC0_C1_RP0_VM0"  # another of the simulator's VMs: the image of 1.36.3
CP_VERSION = "kubernetes.version"
POOL_VERSION = "nodePools.workers[0].kubernetesVersion"


def _notes(version: str) -> str:
    """An annotation in the shape image-builder gives its OVAs."""
    return f"Cluster API vSphere image - Ubuntu 24.04 and Kubernetes v{version} - e2e node template"


def _annotate(content: Any, name: str, notes: str) -> None:
    vm = find_vm(content, name)
    assert vm is not None, name
    task = vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(annotation=notes))
    deadline = time.monotonic() + 60
    while task.info.state not in ("success", "error"):
        assert time.monotonic() < deadline, f"annotating {name} took over 60s"
        time.sleep(0.1)
    assert task.info.state == "success", task.info.error


class Upgrade(Day2):
    timings: dict[str, float]

    def config(self) -> StackConfig:
        """The stack as the next run reads it (the world's secrets stand in)."""
        raw, _ = read_stack_file(self.cli.project / "stacks" / f"Pulumi.{STACK}.yaml")
        raw["credentials"] = {"sim": {"username": "planner@vsphere.local", "password": "-"}}
        raw["kubernetes"] = {**raw["kubernetes"], "kubeconfig": self.world.kubeconfig.read_text()}
        return load(raw, stack=STACK)

    def names(self) -> dict[str, str]:
        """Slot -> node name the next run plans (against the last run's record)."""
        return {n.key: n.name for n in plan_nodes(self.config(), self.slots())}

    def kubelets(self) -> dict[str, str]:
        """Node -> the kubelet version it registered with."""
        return {n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"] for n in items(self.core.list_node())}

    @property
    def core(self) -> client.CoreV1Api:
        return self.world.core()

    def images(self) -> dict[str, set[str]]:
        """The container images of the CPI and CSI workloads as the API server has them."""
        apps = client.AppsV1Api(self.core.api_client)
        found: dict[str, set[str]] = {}
        for kind, obj in (
            ("cpi", apps.read_namespaced_daemon_set(cpi_manifest.NAME, cpi_manifest.NAMESPACE)),
            ("csi-controller", apps.read_namespaced_deployment(csi_manifest.CONTROLLER, csi_manifest.NAMESPACE)),
            ("csi-node", apps.read_namespaced_daemon_set(csi_manifest.NODE, csi_manifest.NAMESPACE)),
        ):
            found[kind] = {str(c["image"]) for c in plain(obj)["spec"]["template"]["spec"]["containers"]}
        return found

    def state(self) -> tuple[set[str], set[str], list[str]]:
        """What a refused run must leave alone: powered-on VMs, Nodes, the stack's resources."""
        urns = sorted(r["urn"] for r in self.cli.export()["deployment"].get("resources") or [])
        return set(vm_uuids(self.world.vsphere_content())), set(self.kubelets()), urns

    def timed_up(self, what: str) -> tuple[Recorder, Steps, float]:
        rec, steps, took = self.up()
        report(what, rec, took)
        started = time.monotonic()
        self.cli.run("up", "--yes", "--skip-preview", "--expect-no-changes")  # a second `up` changes nothing
        self.timings[what] = took
        self.timings[f"{what}: second up"] = time.monotonic() - started
        return rec, steps, took


@pytest.fixture(scope="module")
def upgrade() -> Iterator[Upgrade]:
    workdir = REPO_ROOT / "build" / "e2e" / f"upgrade-{time.strftime('%Y%m%d-%H%M%S')}"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    world.start()
    try:
        content = world.vsphere_content()
        _annotate(content, OLD_TEMPLATE, _notes(OLD))
        _annotate(content, NEW_TEMPLATE, _notes(NEW))
        cli = open_local_stack(world, STACK, STACK_TEMPLATES / "Pulumi.local.yaml", expected)
        cli.run("config", "set", "--path", CP_VERSION, OLD)
        up = Upgrade(world, cli, expected)
        up.timings = {}
        started = time.monotonic()
        cli.run("up", "--yes", "--skip-preview")
        up.timings["first up"] = time.monotonic() - started
        yield up
        print("\nupgrade timings (s): " + json.dumps({k: round(v, 1) for k, v in up.timings.items()}))
    finally:
        world.stop()


def _refused(up: Upgrade, what: str, settings: dict[str, str], field: str, says: str) -> None:
    """`pulumi preview` and `pulumi up` both stop with ``field`` named, and nothing changed."""
    before = up.state()
    for key, value in settings.items():
        up.cli.run("config", "set", "--path", key, value)
    try:
        for cmd in (("preview",), ("up", "--yes", "--skip-preview")):
            started = time.monotonic()
            result = up.cli.run(*cmd, check=False)
            up.timings[f"refused {cmd[0]}: {what}"] = time.monotonic() - started
            out = result.stdout + result.stderr
            assert result.returncode != 0, f"`pulumi {cmd[0]}` was not refused:\n{out[-3000:]}"
            assert field in out and says in out, out[-3000:]
        assert up.state() == before, "a refused run changed something"
    finally:
        up.cli.run("config", "set", "--path", CP_VERSION, OLD)
        up.cli.run("config", "set", "--path", "nodePools.controlPlane.template", OLD_TEMPLATE)
        up.cli.run("config", "rm", "--path", POOL_VERSION, check=False)  # absent already: nothing to remove


def test_0_the_world_runs_the_old_minor_on_a_newer_api_server(upgrade: Upgrade) -> None:
    server = client.VersionApi(upgrade.core.api_client).get_code().git_version
    assert minor_of(server) == minor_of(NEW) == minor_of(OLD) + 1, server
    assert set(upgrade.kubelets().values()) == {f"v{OLD}"}  # every node runs its template's release
    cpi = images_for(upgrade.config()).cpi
    assert upgrade.images()["cpi"] == {cpi} and f":v1.{minor_of(OLD)}." in cpi


def test_1_skew_and_template_mismatches_are_refused_before_anything_changes(upgrade: Upgrade) -> None:
    pool = f"nodePools.workers[{WORKERS}]"
    # Kubelets newer than the API server: a config rule.
    _refused(upgrade, "workers newer", {POOL_VERSION: NEW}, f"{pool}.kubernetesVersion", "newer than the control plane")
    # Two minors ahead: 1.37 is past the program's version table (no CPI release pinned for it);
    # the skip itself (1.35 -> 1.37, the step rule) is covered in tests/unit/test_skew.py.
    _refused(upgrade, "control plane 1.37", {CP_VERSION: "1.37.0"}, CP_VERSION, "Kubernetes 1.37")
    # Workers following the control plane in the same update: checked against what runs.
    _refused(
        upgrade,
        "workers with the control plane",
        {CP_VERSION: NEW, "nodePools.controlPlane.template": NEW_TEMPLATE},
        f"{pool}.kubernetesVersion",
        "the control plane goes first",
    )
    # A version bump without the template built for it: the template's annotation says 1.35.2.
    _refused(
        upgrade,
        "old template",
        {CP_VERSION: NEW, POOL_VERSION: OLD},
        "nodePools.controlPlane.template",
        f"says Kubernetes {OLD}",
    )


def test_2_the_control_plane_moves_one_minor_one_node_at_a_time(upgrade: Upgrade) -> None:
    before = upgrade.slots()
    images_before = upgrade.images()
    upgrade.cli.run("config", "set", "--path", POOL_VERSION, OLD)  # the workers stay on the old minor
    upgrade.cli.run("config", "set", "--path", CP_VERSION, NEW)
    upgrade.cli.run("config", "set", "--path", "nodePools.controlPlane.template", NEW_TEMPLATE)
    after = upgrade.names()
    cps = sorted(k for k in after if k.startswith("cp-"))
    workers = sorted(k for k in after if k.startswith(f"{WORKERS}-"))
    old = {k: before[k]["name"] for k in cps}
    new = {k: after[k] for k in cps}
    assert len(cps) == 3 and all(old[k] != new[k] for k in cps)
    assert all(after[k] == before[k]["name"] for k in workers)
    upgrade.expected.update(dict.fromkeys(new.values(), True))
    preview = logged_preview(upgrade.cli)
    for k in cps:
        assert f"replace {old[k]} -> {new[k]}: " in preview and f"Kubernetes {OLD} -> {NEW}" in preview

    rec, steps, _took = upgrade.timed_up("control plane 1.35 -> 1.36")
    assert_control_plane_rolled_in_order(rec, steps, cps, old=old, new=new, stack="local")
    # The CPI (a cloud-controller-manager: never newer than an API server) moved only once every new
    # control-plane node was Ready, not beside the first.
    cpi_update = steps.at("pre", "update", f"local-cloud-provider-cpi-daemonset-{cpi_manifest.NAME}")
    assert max(steps.at("done", "create-replacement", f"local-retire-{k}") for k in cps) < cpi_update
    # The workers were not touched.
    assert not [e for e in rec.events if e.startswith(("cordon ", "vm-gone ")) and any(w in e for w in workers)]
    kubelets = upgrade.kubelets()
    assert {kubelets[new[k]] for k in cps} == {f"v{NEW}"}
    assert {kubelets[after[k]] for k in workers} == {f"v{OLD}"}
    assert not set(old.values()) & set(kubelets)
    # The CPI and CSI manifests moved to the new minor's releases.
    images = upgrade.images()
    want = images_for(upgrade.config())
    assert images["cpi"] == {want.cpi} != images_before["cpi"] and f":v1.{minor_of(NEW)}." in want.cpi
    assert want.csi.supports(minor_of(NEW))
    assert {want.csi.driver_image, want.csi.syncer_image} <= images["csi-controller"]
    assert want.csi.driver_image in images["csi-node"]


def test_3_then_the_workers_move_and_roll(upgrade: Upgrade) -> None:
    before = upgrade.slots()
    upgrade.cli.run("config", "set", "--path", POOL_VERSION, NEW)
    upgrade.cli.run("config", "set", "--path", "nodePools.workers[0].template", NEW_TEMPLATE)
    after = upgrade.names()
    workers = sorted(k for k in after if k.startswith(f"{WORKERS}-"))
    old = {k: before[k]["name"] for k in workers}
    new = {k: after[k] for k in workers}
    assert all(old[k] != new[k] for k in workers)
    assert all(after[k] == before[k]["name"] for k in after if k not in workers)
    upgrade.expected.update(dict.fromkeys(new.values(), False))
    preview = logged_preview(upgrade.cli)
    for k in workers:
        assert f"replace {old[k]} -> {new[k]}: " in preview

    rec, steps, _took = upgrade.timed_up("workers 1.35 -> 1.36")
    for a, b in itertools.pairwise(workers):
        assert rec.at(f"ready {new[a]}") <= rec.at(f"vm {new[b]}"), (a, b)
    last_ready = max(rec.at(f"ready {new[k]}") for k in workers)
    for k in workers:
        assert last_ready <= rec.at(f"cordon {old[k]}") <= rec.at(f"node-gone {old[k]}") < rec.at(f"vm-gone {old[k]}")
    for k in workers:  # the engine finished each old node's retirement before deleting its VM
        zone, ordinal = k.removeprefix(f"{WORKERS}-").rsplit("-", 1)
        vm = f"local-{WORKERS}-vm-{zone}-{ordinal}"
        assert steps.at("done", "delete-replaced", f"local-retire-{k}") < steps.at("pre", "delete-replaced", vm)
    assert not [e for e in rec.events if e.startswith(("cordon ", "vm-gone ")) and "-cp-" in e]
    kubelets = upgrade.kubelets()
    assert set(kubelets.values()) == {f"v{NEW}"}, kubelets
    assert set(kubelets) == set(after.values())
