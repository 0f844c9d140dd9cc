"""Real kubeadm in the world: what `kubeadm init` puts into the cluster, and what a joining control plane runs.

The program's init documents (a 1.35.2 stack) go through kubeadm's API phases against the world's
API server; a joining control plane's documents go through `kubeadm join --dry-run`, which reads
kube-system/kubeadm-config for real. The join's static pods follow that ConfigMap's
kubernetesVersion, not the joining node's own documents: moving it moves them.
Everything the module creates in the shared world is deleted at its end.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.e2e.conftest import E2E
from tests.support.world import kubeadm
from tests.support.world.kubeadm import CONTROL_PLANE_COMPONENTS, KubeadmCluster, ObjectRef, container_image
from tests.unit.test_cloud_init import by_step, sim_config
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.render.kubeadm import JoinMaterial, ca_cert_hash, init_documents, join_documents, to_yaml

pytestmark = pytest.mark.e2e

OLD, NEW = "1.35.2", "1.36.3"  # NEW: the toolchain's kubeadm


def _token() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return (
        "".join(secrets.choice(alphabet) for _ in range(6)) + "." + "".join(secrets.choice(alphabet) for _ in range(16))
    )


@dataclass
class KubeadmWorld:
    cluster: KubeadmCluster
    join_yaml: str
    init_token: str
    workdir: Path
    api: client.ApiClient


@pytest.fixture(scope="module")
def kw(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeadmWorld]:
    e2e.sim_only("kubeadm's init phases against the world's own API server")
    cp = e2e.world.control_plane
    assert cp is not None and cp.pki is not None
    world_ca_hash = ca_cert_hash(cp.pki.ca.cert.read_text())
    cfg = sim_config(version=OLD)
    nodes = plan_nodes(cfg)
    steps = by_step(nodes)
    init_join, cp_join = JoinMaterial(_token(), world_ca_hash), JoinMaterial(_token(), world_ca_hash)
    workdir = tmp_path_factory.mktemp("kubeadm-world")
    created: list[ObjectRef] = []
    try:
        cluster = kubeadm.init_cluster_objects(
            to_yaml(init_documents(cfg, nodes, steps["init"], init_join)), cp.admin_kubeconfig, workdir, pki=cp.pki
        )
        created += cluster.created
        # The program creates each joining node's token through the API; kubeadm's own command here.
        created.append(kubeadm.create_bootstrap_token(cp_join.token, cp.admin_kubeconfig))
        join_yaml = to_yaml(join_documents(cfg, nodes, steps["join-control-plane"], cp_join))
        yield KubeadmWorld(cluster, join_yaml, init_join.token, workdir, kubeadm.api_client(cp.admin_kubeconfig))
    finally:
        left = kubeadm.delete_objects(cp.admin_kubeconfig, created)
        assert not left, f"kubeadm's objects still in the shared world: {left}"


def _tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


def _containers(workload: Any) -> list[Any]:
    """A DaemonSet's or Deployment's pod template containers."""
    return list(workload.spec.template.spec.containers)


def _set_cluster_version(api: client.ApiClient, version: str) -> None:
    core = client.CoreV1Api(api)
    cm = core.read_namespaced_config_map("kubeadm-config", "kube-system")
    data = cm.data or {}
    doc = yaml.safe_load(data["ClusterConfiguration"])
    doc["kubernetesVersion"] = version
    cm.data = {**data, "ClusterConfiguration": yaml.safe_dump(doc, sort_keys=False)}
    core.replace_namespaced_config_map("kubeadm-config", "kube-system", cm)


def test_init_phases_create_what_kubeadm_init_does(kw: KubeadmWorld) -> None:
    created = {str(r) for r in kw.cluster.created}
    token_id, token_secret = kw.init_token.split(".")
    expected = {
        "ConfigMap kube-system/kubeadm-config",
        "ConfigMap kube-system/kubelet-config",
        "ConfigMap kube-system/kube-proxy",
        "ConfigMap kube-system/coredns",
        "ConfigMap kube-public/cluster-info",
        f"Secret kube-system/bootstrap-token-{token_id}",  # the init node's token, from its documents
        "DaemonSet kube-system/kube-proxy",
        "Deployment kube-system/coredns",
        "Service kube-system/kube-dns",
        "ServiceAccount kube-system/kube-proxy",
        "ServiceAccount kube-system/coredns",
        "Role kube-system/kubeadm:nodes-kubeadm-config",
        "RoleBinding kube-public/kubeadm:bootstrap-signer-clusterinfo",
        "ClusterRoleBinding kubeadm:kubelet-bootstrap",
    }
    assert expected <= created, sorted(expected - created)
    read_back = kubeadm.read_cluster_configuration(kw.cluster.admin_kubeconfig)
    assert read_back["kubernetesVersion"] == f"v{OLD}"
    assert read_back["clusterName"] == "sim"
    assert token_secret not in kw.cluster.output  # --skip-token-print


def test_addons_are_kubeadms_images(kw: KubeadmWorld) -> None:
    apps = client.AppsV1Api(kw.api)
    proxy = _containers(apps.read_namespaced_daemon_set("kube-proxy", "kube-system"))
    dns = _containers(apps.read_namespaced_deployment("coredns", "kube-system"))
    assert [c.name for c in proxy] == ["kube-proxy"]
    assert [c.name for c in dns] == ["coredns"]
    pinned_old = kubeadm.images_list(kubernetes_version=f"v{OLD}")
    pinned_new = kubeadm.images_list(kubernetes_version=f"v{NEW}")
    assert proxy[0].image == f"registry.k8s.io/kube-proxy:v{OLD}" and proxy[0].image in pinned_old
    coredns_new = next(i for i in pinned_new if i.startswith("registry.k8s.io/coredns/coredns:"))
    # kubeadm pins one CoreDNS per kubeadm release, whatever the cluster's version: an upgrade to
    # v1.36.3 by kubeadm v1.36.3 leaves the CoreDNS image as this init made it.
    assert dns[0].image == coredns_new and dns[0].image in pinned_old
    assert {_tag(i) for i in pinned_new if "/kube-" in i} == {f"v{NEW}"}


def test_joining_control_plane_runs_the_configmaps_version(kw: KubeadmWorld) -> None:
    before = kubeadm.join_control_plane_dry_run(kw.join_yaml, kw.cluster, kw.workdir)
    assert {c: _tag(container_image(before[c])) for c in CONTROL_PLANE_COMPONENTS} == dict.fromkeys(
        CONTROL_PLANE_COMPONENTS, f"v{OLD}"
    )
    assert "etcd" in before  # stacked etcd: the joining node's own member
    # The same images kubeadm lists for the ClusterConfiguration it reads back from the cluster.
    read_back = kw.workdir / "cluster-configuration.yaml"
    read_back.write_text(yaml.safe_dump(kubeadm.read_cluster_configuration(kw.cluster.admin_kubeconfig)))
    listed = kubeadm.images_list(config=read_back)
    assert all(container_image(before[c]) in listed for c in (*CONTROL_PLANE_COMPONENTS, "etcd"))
    kcm_args = before["kube-controller-manager"]["spec"]["containers"][0]["command"]
    assert "--cluster-name=sim" in kcm_args  # the real ConfigMap, not kubeadm's canned dry-run one

    _set_cluster_version(kw.api, f"v{NEW}")
    after = kubeadm.join_control_plane_dry_run(kw.join_yaml, kw.cluster, kw.workdir)
    assert {c: _tag(container_image(after[c])) for c in CONTROL_PLANE_COMPONENTS} == dict.fromkeys(
        CONTROL_PLANE_COMPONENTS, f"v{NEW}"
    )
    # The joining node's own documents never named a version: only the ConfigMap moved.
    assert "kubernetesVersion" not in kw.join_yaml
