"""A control-plane version bump in `mode: bootstrap` through the real CLI, checked by the real kubeadm.

A world of its own (vcsim, a real kube-apiserver v1.36, kube-controller-manager with kubeadm's
bootstrapsigner, scheduler, kwok, the real CPI). The `boot` stack (three joining-capable control
planes by DHCP and a worker) starts at 1.35.2. The simulator's guests never boot, so the world
does the kubeadm part: when the init VM appears, the real kubeadm v1.36.3 runs init's API phases
(kubeadm-config, kubelet-config, bootstrap RBAC and cluster-info, kube-proxy, CoreDNS) with the
documents the program put in that VM's user-data (tests/support/world/kubeadm.py).

1. the first `up`: one node inits; the program records the version kubeadm wrote (ClusterVersion)
   and leaves kubeadm's add-ons where they are;
2. 1.35.2 -> 1.36.3 (the worker pinned): the engine moves kubeadm-config before the first new
   control-plane VM; each new control-plane VM (the init slot's too) carries *join* documents, and
   the real `kubeadm join --control-plane --dry-run` with them against the cluster writes static pods
   of v1.36.3; then kube-proxy moves to v1.36.3 and CoreDNS stays on kubeadm's newest; a second `up`
   changes nothing;
3. kubeadm-config moved back out of band: `preview --refresh` shows it, `up --refresh` repairs it.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.support.world import kubeadm
from tests.support.world.day2 import Steps
from tests.support.world.project import STACK_TEMPLATES, make_project
from tests.support.world.pulumi_cli import BackgroundUp, PulumiCli
from tests.support.world.reader import read_vms
from tests.support.world.world import World
from toolchain.manifest import REPO_ROOT
from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import NodePlan, plan_nodes
from vsphere_k8s.stack_file import read_stack_file
from vsphere_k8s.versions import COREDNS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

STACK = "boot"
OLD, NEW = "1.35.2", "1.36.3"
CP_VERSION = "kubernetes.version"
POOL_VERSION = "nodePools.workers[0].kubernetesVersion"
VERSION_RESOURCE = f"{STACK}-kubeadm-version"
ADDONS_RESOURCE = f"{STACK}-kubeadm-addons"


def _documents(user_data: str) -> tuple[str, str]:
    """(kind of the first kubeadm document, the kubeadm config text) of a node's cloud-config."""
    text = kubeadm.kubeadm_config_of(user_data)
    first = next(d for d in yaml.safe_load_all(text) if d)
    return str(first["kind"]), text


@dataclass
class Boot:
    world: World
    cli: PulumiCli
    expected: dict[str, bool]  # the node agent registers these
    kubeadm_cluster: kubeadm.KubeadmCluster | None = None
    join_kinds: dict[str, str] = field(default_factory=dict)  # new VM -> its first kubeadm document's kind
    dry_runs: dict[str, dict[str, str]] = field(default_factory=dict)  # new VM -> static pod -> image
    errors: list[str] = field(default_factory=list)  # what a helper thread met (asserted by the test)

    def run(self, *args: str, check: bool = True) -> Any:
        return self.cli.run(*args, "--stack", STACK, check=check)

    def plan(self) -> list[NodePlan]:
        """The nodes the next run plans, from the stack file and the last run's record."""
        raw, _ = read_stack_file(self.cli.project / "stacks" / f"Pulumi.{STACK}.yaml")
        raw["credentials"] = {"sim": {"username": "planner@vsphere.local", "password": "-"}}
        assert self.world.control_plane is not None
        k8s = {k: v for k, v in raw["kubernetes"].items() if k != "clusterCa"}  # its key is encrypted; no name needs it
        raw["kubernetes"] = {**k8s, "controlPlanePort": self.world.control_plane.api_port}
        return plan_nodes(load(raw, stack=STACK), self.cli.outputs().get("nodeSlots"))

    def user_data(self, name: str, timeout: float = 600.0) -> str:
        content = self.world.vsphere_content()
        deadline = time.monotonic() + timeout
        while True:
            views = read_vms(content, [name])
            text = views[name].user_data() if name in views else None
            if text:
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: no user-data within {timeout:.0f}s")
            time.sleep(0.5)

    def config_map_version(self) -> str:
        assert self.world.control_plane is not None
        doc = kubeadm.read_cluster_configuration(self.world.control_plane.admin_kubeconfig)
        return str(doc["kubernetesVersion"])

    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.world.core().api_client)

    def addon_images(self) -> tuple[str, str]:
        apps = self.apps()
        proxy = apps.read_namespaced_daemon_set("kube-proxy", "kube-system")
        dns = apps.read_namespaced_deployment("coredns", "kube-system")
        by_name = lambda obj, c: next(x.image for x in obj.spec.template.spec.containers if x.name == c)  # noqa: E731
        return str(by_name(proxy, "kube-proxy")), str(by_name(dns, "coredns"))

    def resource_outputs(self, name: str) -> dict[str, Any]:
        for r in self.cli.export()["deployment"].get("resources") or []:
            if str(r["urn"]).endswith(f"::{name}"):
                return dict(r.get("outputs") or {})
        raise AssertionError(f"no resource {name} in the stack")


def _kubeadm_init_when_the_init_vm_appears(boot: Boot, init_vm: str) -> threading.Thread:
    """What the init node's `kubeadm init` does to the cluster, by the real kubeadm, with its documents."""
    cp = boot.world.control_plane
    assert cp is not None and cp.pki is not None
    pki = cp.pki

    def work() -> None:
        try:
            kind, text = _documents(boot.user_data(init_vm))
            boot.join_kinds[init_vm] = kind
            boot.kubeadm_cluster = kubeadm.init_cluster_objects(
                text, cp.admin_kubeconfig, boot.world.workdir / "kubeadm", pki=pki
            )
            boot.expected[init_vm] = True  # its kubelet registers once kubeadm init has run
        except Exception as e:  # the test asserts on it
            boot.errors.append(f"kubeadm init of {init_vm}: {e!r}")

    thread = threading.Thread(target=work, name="kubeadm-init", daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def boot() -> Iterator[Boot]:
    workdir = REPO_ROOT / "build" / "e2e" / f"bootup-{time.strftime('%Y%m%d-%H%M%S')}"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    world.start()
    try:
        vc, cp = world.vcenter, world.control_plane
        assert vc is not None and cp is not None and cp.pki is not None
        cli = PulumiCli(make_project(workdir, STACK, STACK_TEMPLATES / f"Pulumi.{STACK}.yaml"), workdir)
        cli.run("stack", "init", STACK)
        b = Boot(world, cli, expected)
        b.run("config", "set", "--path", "vcenters[0].port", str(vc.port))
        b.run("config", "set", "--path", "kubernetes.controlPlanePort", str(cp.api_port))
        b.run("config", "set", "--path", CP_VERSION, OLD)
        cli.run(
            "config", "set", "--path", "kubernetes.clusterCa.cert", "--stack", STACK, stdin=cp.pki.ca.cert.read_text()
        )
        cli.set_secret("kubernetes.clusterCa.key", cp.pki.ca.key.read_text())
        cli.set_secret("credentials.sim.username", vc.username)
        cli.set_secret("credentials.sim.password", vc.password)
        kubeadm.bind_cluster_admins(world.core())
        yield b
    finally:
        try:
            subprocess.run(
                ["pulumi", "destroy", "--yes", "--skip-preview", "--stack", STACK],
                cwd=cli.project,
                env=cli.env,
                capture_output=True,
                timeout=900,
                check=False,
            )
        finally:
            world.stop()


def test_1_the_first_up_inits_once_and_records_kubeadms_version(boot: Boot) -> None:
    nodes = boot.plan()
    (init,) = [n for n in nodes if n.init]
    boot.expected.update({n.name: n.is_control_plane for n in nodes if not n.init})
    thread = _kubeadm_init_when_the_init_vm_appears(boot, init.name)
    up = BackgroundUp(boot.cli, STACK, boot.world.workdir / "logs" / "up-1.jsonl", json=True)
    try:
        thread.join(900)
        steps = Steps.parse(up.join(1800))
    finally:
        up.stop()
    assert not boot.errors, boot.errors
    assert boot.join_kinds[init.name] == "InitConfiguration"
    assert steps.at("done", "create", VERSION_RESOURCE)
    slots = boot.cli.outputs()["nodeSlots"]
    assert [k for k, s in slots.items() if s.get("init")] == [init.key]
    assert boot.config_map_version() == f"v{OLD}"  # kubeadm's record, untouched
    assert boot.resource_outputs(VERSION_RESOURCE)["recorded_version"] == OLD
    proxy, dns = boot.addon_images()
    assert proxy == f"registry.k8s.io/kube-proxy:v{OLD}"
    # kubeadm v1.36.3 made CoreDNS of its own release, newer than 1.35's: the program never moves it back.
    assert dns.endswith(f":{COREDNS[36]}") and COREDNS[35] != COREDNS[36]
    outs = boot.resource_outputs(ADDONS_RESOURCE)
    assert (outs["kube_proxy_image"], outs["coredns_image"]) == (proxy, dns)
    boot.run("preview", "--expect-no-changes")


def test_2_the_control_plane_moves_a_minor_and_every_new_node_joins_at_it(boot: Boot) -> None:
    cluster = boot.kubeadm_cluster
    assert cluster is not None
    before = {n.key: n.name for n in boot.plan()}
    boot.run("config", "set", "--path", CP_VERSION, NEW)
    boot.run("config", "set", "--path", POOL_VERSION, OLD)
    after = boot.plan()
    new_cp = [n for n in after if n.is_control_plane]
    assert all(n.name != before[n.key] for n in new_cp) and not any(n.init for n in after)
    up = BackgroundUp(boot.cli, STACK, boot.world.workdir / "logs" / "up-2.jsonl", json=True)
    try:
        for node in new_cp:  # one at a time, as the roll creates them
            kind, text = _documents(boot.user_data(node.name))
            boot.join_kinds[node.name] = kind
            assert kind == "JoinConfiguration", f"{node.name} ({node.key}) would run {kind}"
            # As the node's own kubeadm would, once its token is in the API: read the cluster, write static pods.
            token = kubeadm.join_token(text)
            deadline = time.monotonic() + 600
            while not kubeadm.token_secret_exists(boot.world.core(), token):
                assert up.alive() and time.monotonic() < deadline, f"{node.name}: its token never came"
                time.sleep(1)
            manifests = kubeadm.join_control_plane_dry_run(text, cluster, boot.world.workdir / "dry-runs" / node.name)
            boot.dry_runs[node.name] = {
                name: kubeadm.container_image(pod)
                for name, pod in manifests.items()
                if name in kubeadm.CONTROL_PLANE_COMPONENTS
            }
            boot.expected[node.name] = True  # its kubelet registers now
        steps = Steps.parse(up.join(1800))
    finally:
        up.stop()
    print("\ndry-run joins: " + json.dumps(boot.dry_runs, indent=1, sort_keys=True))
    for node in new_cp:
        images = boot.dry_runs[node.name]
        assert set(images) == set(kubeadm.CONTROL_PLANE_COMPONENTS), node.name
        assert all(image.endswith(f":v{NEW}") for image in images.values()), (node.name, images)
    # The engine's order: the record moved before the first new control-plane VM was cloned.
    moved = steps.at("done", "update", VERSION_RESOURCE)
    first_vm = min(steps.at("pre", "create-replacement", f"{STACK}-cp-vm-{n.zone}-{n.ordinal}") for n in new_cp)
    assert moved < first_vm
    # The add-ons moved after every new control-plane node was admitted (its retirement created).
    addons = steps.at("pre", "update", ADDONS_RESOURCE)
    admitted = [steps.at("done", "create-replacement", f"{STACK}-retire-{n.key}") for n in new_cp]
    assert max(admitted) < addons
    assert boot.config_map_version() == f"v{NEW}"
    proxy, dns = boot.addon_images()
    assert proxy == f"registry.k8s.io/kube-proxy:v{NEW}" and dns.endswith(f":{COREDNS[36]}")
    nodes = {n["metadata"]["name"] for n in boot.world.core().list_node().to_dict()["items"]}
    assert {n.name for n in new_cp} <= nodes and not {before[n.key] for n in new_cp} & nodes
    assert not [k for k, s in boot.cli.outputs()["nodeSlots"].items() if s.get("init")]
    boot.run("up", "--yes", "--skip-preview", "--expect-no-changes")


def test_3_a_record_moved_back_out_of_band_is_drift_and_up_repairs_it(boot: Boot) -> None:
    core = boot.world.core()
    cm = core.read_namespaced_config_map("kubeadm-config", "kube-system")
    assert cm.data is not None
    cm.data["ClusterConfiguration"] = cm.data["ClusterConfiguration"].replace(
        f"kubernetesVersion: v{NEW}", f"kubernetesVersion: v{OLD}"
    )
    core.replace_namespaced_config_map("kubeadm-config", "kube-system", cm)
    assert boot.config_map_version() == f"v{OLD}"
    shown = boot.run("preview", "--refresh", "--diff").stdout
    assert VERSION_RESOURCE in shown and "recorded_version" in shown
    boot.run("up", "--refresh", "--yes", "--skip-preview")
    assert boot.config_map_version() == f"v{NEW}"
    boot.run("up", "--yes", "--skip-preview", "--expect-no-changes")
