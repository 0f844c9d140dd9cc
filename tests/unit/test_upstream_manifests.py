"""The rendered CPI and CSI objects against the fields upstream's release manifests ship.

The facts below were read off upstream (kubernetes/cloud-provider-vsphere ``releases/v1.36``,
kubernetes-sigs/vsphere-csi-driver ``manifests/vanilla/vsphere-csi-driver.yaml`` at each pinned
tag; v3.8.0 at its release branch) and are carried here as data, independent of the renderers:
a release bump that changes a manifest fails here until the table says what changed. Where the
program deliberately differs from upstream, the test says so next to the difference.
"""

from __future__ import annotations

from typing import Any

import pytest

from offline.program import offline_config
from tests.support.stacks import at_version
from vsphere_k8s.config import StackConfig
from vsphere_k8s.loader import load
from vsphere_k8s.manifests import cpi, csi, images

# --------------------------------------------------------------------------- CSI facts

LEADER = {
    "--leader-election",
    "--leader-election-lease-duration=120s",
    "--leader-election-renew-deadline=60s",
    "--leader-election-retry-period=30s",
}
SIDECAR_COMMON = {"--v=4", "--timeout=300s", "--csi-address=$(ADDRESS)", "--kube-api-qps=100", "--kube-api-burst=100"}
FSS = {"--fss-name=internal-feature-states.csi.vsphere.vmware.com", "--fss-namespace=$(CSI_NAMESPACE)"}
SYNCER_LEADER = {
    "--leader-election",
    "--leader-election-lease-duration=30s",
    "--leader-election-renew-deadline=20s",
    "--leader-election-retry-period=10s",
}
BASE_FSS = {"trigger-csi-fullsync": "false", "pv-to-backingdiskobjectid-mapping": "false"}
# Topology-aware stacks turn on what upstream leaves commented out on the provisioner.
TOPOLOGY_ARGS = {"--feature-gates=Topology=true", "--strict-topology"}


def _release(
    images_: dict[str, str],
    *,
    worker_threads: bool = True,
    profile_server: bool = False,
    extra_metadata: bool = False,
    fss: dict[str, str] | None = None,
    resizer_gate: bool = False,
    syncer_port: str = "prometheus",
    roles: tuple[str, ...] = ("control-plane", "controlplane", "master"),
    max_volumes: str | None = "59",
) -> dict[str, Any]:
    driver = FSS | ({"--enable-profile-server=false"} if profile_server else set())
    return {
        "images": images_,
        "args": {
            "csi-attacher": SIDECAR_COMMON | LEADER | ({"--worker-threads=100"} if worker_threads else set()),
            "csi-resizer": SIDECAR_COMMON
            | LEADER
            | {"--handle-volume-inuse-error=false"}
            | ({"--feature-gates=RecoverVolumeExpansionFailure=false"} if resizer_gate else set()),
            "vsphere-csi-controller": driver,
            "vsphere-syncer": SYNCER_LEADER | driver,
            "csi-provisioner": SIDECAR_COMMON | LEADER | {"--default-fstype=ext4"},
            "csi-snapshotter": SIDECAR_COMMON | LEADER | ({"--extra-create-metadata"} if extra_metadata else set()),
            "liveness-probe": {"--v=4", "--csi-address=/csi/csi.sock"},
        },
        "fss": {**BASE_FSS, **(fss or {})},
        "syncer_port": syncer_port,
        "roles": roles,
        "max_volumes": max_volumes,
    }


def _images(tags: str) -> dict[str, str]:
    """Driver (and syncer), attacher, resizer, snapshotter, livenessprobe, node-driver-registrar tags."""
    driver, attacher, resizer, snapshotter, probe, registrar = tags.split()
    k8s, sig = "registry.k8s.io/csi-vsphere", "registry.k8s.io/sig-storage"
    return {
        "vsphere-csi-controller": f"{k8s}/driver:{driver}",
        "vsphere-syncer": f"{k8s}/syncer:{driver}",
        "csi-attacher": f"{sig}/csi-attacher:{attacher}",
        "csi-resizer": f"{sig}/csi-resizer:{resizer}",
        "csi-provisioner": f"{sig}/csi-provisioner:v4.0.1",
        "csi-snapshotter": f"{sig}/csi-snapshotter:{snapshotter}",
        "liveness-probe": f"{sig}/livenessprobe:{probe}",
        "node-driver-registrar": f"{sig}/csi-node-driver-registrar:{registrar}",
    }


UPSTREAM_CSI: dict[str, dict[str, Any]] = {
    # v3.3.1's manifest pulls driver and syncer from gcr.io/cloud-provider-vsphere/csi/release; the
    # program pulls the same tags from registry.k8s.io/csi-vsphere, where upstream's README lists them.
    "v3.3.1": _release(_images("v3.3.1 v4.5.1 v1.10.1 v7.0.2 v2.12.0 v2.10.1"), worker_threads=False),
    "v3.4.0": _release(_images("v3.4.0 v4.7.0 v1.12.0 v8.2.0 v2.14.0 v2.12.0")),
    "v3.5.1": _release(_images("v3.5.1 v4.8.1 v1.12.0 v8.2.0 v2.15.0 v2.13.0")),
    "v3.6.3": _release(
        _images("v3.6.3 v4.9.0 v1.12.0 v8.2.0 v2.15.0 v2.13.0"),
        profile_server=True,
        extra_metadata=True,
        fss={"csi-transaction-support": "false"},
    ),
    "v3.7.3": _release(
        _images("v3.7.3 v4.9.0 v1.12.0 v8.2.0 v2.15.0 v2.13.0"),
        profile_server=True,
        extra_metadata=True,
        fss={"high-pv-node-density": "false"},
        max_volumes=None,
    ),
    "v3.8.0": _release(
        _images("v3.8.0 v4.10.0 v2.0.0 v8.4.0 v2.17.0 v2.14.0"),
        profile_server=True,
        extra_metadata=True,
        fss={"high-pv-node-density": "false"},
        resizer_gate=True,
        syncer_port="prometheus-sync",
        roles=("control-plane", "controlplane"),
        max_volumes=None,
    ),
}
# The Kubernetes minors each release's notes give (three, ending with the one it adds).
UPSTREAM_CSI_RANGES = {
    "v3.3.1": (28, 30),
    "v3.4.0": (30, 32),
    "v3.5.1": (31, 33),
    "v3.6.3": (32, 34),
    "v3.7.3": (33, 35),
    "v3.8.0": (34, 36),
}

UPSTREAM_CSI_CONTROLLER_RULES = [
    ([""], ["nodes", "pods"], ["get", "list", "watch"]),
    ([""], ["configmaps"], ["get", "list", "watch", "create"]),
    ([""], ["persistentvolumeclaims"], ["get", "list", "watch", "update"]),
    ([""], ["persistentvolumeclaims/status"], ["patch"]),
    ([""], ["persistentvolumes"], ["get", "list", "watch", "create", "update", "delete", "patch"]),
    ([""], ["events"], ["get", "list", "watch", "create", "update", "patch"]),
    (["coordination.k8s.io"], ["leases"], ["get", "watch", "list", "delete", "update", "create"]),
    (["storage.k8s.io"], ["storageclasses", "csinodes"], ["get", "list", "watch"]),
    (["storage.k8s.io"], ["volumeattachments"], ["get", "list", "watch", "patch"]),
    (["cns.vmware.com"], ["triggercsifullsyncs"], ["create", "get", "update", "watch", "list"]),
    (["cns.vmware.com"], ["cnsvspherevolumemigrations"], ["create", "get", "list", "watch", "update", "delete"]),
    (["cns.vmware.com"], ["cnsvolumeinfoes"], ["create", "get", "list", "watch", "delete"]),
    (["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get", "create", "update"]),
    (["storage.k8s.io"], ["volumeattachments/status"], ["patch"]),
    (["cns.vmware.com"], ["cnsvolumeoperationrequests"], ["create", "get", "list", "update", "delete"]),
    (["snapshot.storage.k8s.io"], ["volumesnapshots"], ["get", "list"]),
    (["snapshot.storage.k8s.io"], ["volumesnapshotclasses"], ["watch", "get", "list"]),
    (
        ["snapshot.storage.k8s.io"],
        ["volumesnapshotcontents"],
        ["create", "get", "list", "watch", "update", "delete", "patch"],
    ),
    (["snapshot.storage.k8s.io"], ["volumesnapshotcontents/status"], ["update", "patch"]),
    (["cns.vmware.com"], ["csinodetopologies"], ["get", "update", "watch", "list"]),
]


def _stack_for(version: str, **csi_settings: Any) -> StackConfig:
    high = UPSTREAM_CSI_RANGES[version][1]
    raw = offline_config("prod")
    at_version(raw, f"1.{high}.0")
    raw["csi"] = {**raw.get("csi", {}), "version": version, **csi_settings}
    raw["csi"].pop("controllerReplicas", None)
    return load(raw, stack="prod")


def _containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def _rules(role: dict[str, Any]) -> list[tuple[list[str], list[str], list[str]]]:
    return [(r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]]


def test_every_pinned_csi_release_has_upstream_facts_here() -> None:
    assert [r.version for r in images.CSI_RELEASES] == list(UPSTREAM_CSI)
    assert {r.version: (r.min_minor, r.max_minor) for r in images.CSI_RELEASES} == UPSTREAM_CSI_RANGES


@pytest.mark.parametrize("version", list(UPSTREAM_CSI))
def test_csi_controller_matches_the_release_manifest(version: str) -> None:
    facts = UPSTREAM_CSI[version]
    cfg = _stack_for(version, snapshots="external")
    controller = csi.controller_deployment(cfg)
    containers = _containers(controller)
    assert set(containers) == set(facts["args"]) - {"node-driver-registrar"}
    for name, container in containers.items():
        assert container["image"] == facts["images"][name], name
        expected = facts["args"][name] | (TOPOLOGY_ARGS if name == "csi-provisioner" else set())
        assert set(container["args"]) == expected, name
        assert len(container["args"]) == len(expected), f"{name}: an argument repeated"
    syncer_ports = containers["vsphere-syncer"]["ports"]
    assert syncer_ports == [{"name": facts["syncer_port"], "containerPort": 2113, "protocol": "TCP"}]
    pod = controller["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert [t["matchExpressions"] for t in terms] == [
        [{"key": f"node-role.kubernetes.io/{role}", "operator": "Exists"}] for role in facts["roles"]
    ]
    # Upstream ships 3 replicas; the prod stack has a 3-node control plane, one replica per node.
    assert controller["spec"]["replicas"] == 3 == cfg.node_pools.control_plane.count
    assert controller["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert pod["priorityClassName"] == "system-cluster-critical" and pod["dnsPolicy"] == "Default"


@pytest.mark.parametrize("version", list(UPSTREAM_CSI))
def test_csi_node_and_feature_states_match_the_release_manifest(version: str) -> None:
    facts = UPSTREAM_CSI[version]
    cfg = _stack_for(version)
    node = _containers(csi.node_daemon_set(cfg))
    assert node["node-driver-registrar"]["image"] == facts["images"]["node-driver-registrar"]
    assert node["vsphere-csi-node"]["image"] == facts["images"]["vsphere-csi-controller"]
    assert node["liveness-probe"]["image"] == facts["images"]["liveness-probe"]
    assert set(node["vsphere-csi-node"]["args"]) == FSS  # the node never had the profile-server flag
    env = {e["name"]: e.get("value") for e in node["vsphere-csi-node"]["env"]}
    assert env.get("MAX_VOLUMES_PER_NODE") == facts["max_volumes"]
    assert {k: v for k, v in env.items() if k != "MAX_VOLUMES_PER_NODE"} == {
        "NODE_NAME": None,
        "CSI_ENDPOINT": "unix:///csi/csi.sock",
        "X_CSI_MODE": "node",
        "X_CSI_SPEC_REQ_VALIDATION": "false",
        "X_CSI_SPEC_DISABLE_LEN_CHECK": "true",
        "LOGGER_LEVEL": "PRODUCTION",
        "CSI_NAMESPACE": None,
        "NODEGETINFO_WATCH_TIMEOUT_MINUTES": "1",
    }
    assert csi.feature_states(cfg)["data"] == facts["fss"]
    # Same rules (upstream lists a few in another order; RBAC rules are a set).
    assert sorted(_rules(csi.controller_cluster_role())) == sorted(UPSTREAM_CSI_CONTROLLER_RULES)
    ports = csi.metrics_service()["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in ports] == [("ctlr", 2112, 2112), ("syncer", 2113, 2113)]


def test_the_snapshotter_is_the_one_deliberate_difference_by_default() -> None:
    """Upstream's manifest always carries csi-snapshotter and leaves the CRDs and controller to a script;
    the program drops it unless the stack says the cluster runs them (csi.snapshots: external)."""
    for version in UPSTREAM_CSI:
        assert "csi-snapshotter" not in _containers(csi.controller_deployment(_stack_for(version)))


# --------------------------------------------------------------------------- CPI facts (releases/v1.36)

UPSTREAM_CPI_RULES = [
    ([""], ["events"], ["create", "patch", "update"]),
    ([""], ["nodes"], ["*"]),
    ([""], ["nodes/status"], ["patch"]),
    ([""], ["services"], ["list", "patch", "update", "watch"]),
    ([""], ["services/status"], ["patch"]),
    ([""], ["serviceaccounts"], ["create", "get", "list", "watch", "update"]),
    ([""], ["persistentvolumes"], ["get", "list", "update", "watch"]),
    ([""], ["endpoints"], ["create", "get", "list", "watch", "update"]),
    # On upstream's master after the v1.36.0 tag (commit "fix to support k8s endpointslices").
    (["discovery.k8s.io"], ["endpointslices"], ["get", "list", "watch"]),
    ([""], ["secrets"], ["get", "list", "watch"]),
    (["coordination.k8s.io"], ["leases"], ["create", "get", "list", "watch", "update"]),
]
UPSTREAM_CPI_SUBJECTS = [
    ("ServiceAccount", "cloud-controller-manager", "kube-system"),
    ("User", "cloud-controller-manager", None),
]
UPSTREAM_CPI_TOLERATIONS = [
    {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"},
    {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule", "operator": "Exists"},
    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule", "operator": "Exists"},
    {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "operator": "Exists"},
]
UPSTREAM_CPI_ARGS = ["--cloud-provider=vsphere", "--v=2", "--cloud-config=/etc/cloud/vsphere.conf"]


def _subjects(binding: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]]


def _cpi_stack(**cpi_settings: Any) -> StackConfig:
    raw = offline_config("prod")
    at_version(raw, "1.36.3")
    raw["cpi"] = {**raw.get("cpi", {}), **cpi_settings}
    return load(raw, stack="prod")


@pytest.mark.parametrize("secret_namespace", ["kube-system", "vsphere-credentials"])
def test_cpi_matches_the_v1_36_release_manifest(secret_namespace: str) -> None:
    cfg = _cpi_stack(secretNamespace=secret_namespace)
    objects = {(m["kind"], m["metadata"]["name"]): m for m in cpi.manifests(cfg)}
    assert _rules(objects[("ClusterRole", "system:cloud-controller-manager")]) == UPSTREAM_CPI_RULES
    binding = objects[("ClusterRoleBinding", "system:cloud-controller-manager")]
    assert binding["roleRef"]["name"] == "system:cloud-controller-manager"
    reader = objects[("RoleBinding", "servicecatalog.k8s.io:apiserver-authentication-reader")]
    for b in (binding, reader):
        assert _subjects(b) == UPSTREAM_CPI_SUBJECTS
    # The workload stays where upstream runs it, whatever cpi.secretNamespace says.
    namespaced = [m for m in objects.values() if m["kind"] not in ("ClusterRole", "ClusterRoleBinding")]
    assert {m["metadata"]["namespace"] for m in namespaced} == {"kube-system"}
    ds = objects[("DaemonSet", "vsphere-cloud-controller-manager")]
    pod = ds["spec"]["template"]["spec"]
    assert pod["tolerations"] == UPSTREAM_CPI_TOLERATIONS
    assert pod["serviceAccountName"] == "cloud-controller-manager"
    assert pod["priorityClassName"] == "system-node-critical" and pod["hostNetwork"] is True
    assert pod["securityContext"]["runAsUser"] == 1001
    (container,) = pod["containers"]
    assert container["image"] == "registry.k8s.io/cloud-pv-vsphere/cloud-provider-vsphere:v1.36.0"
    # One argument more than upstream: --cluster-name names (and scopes) the NSX-T load balancers.
    assert container["args"][:3] == UPSTREAM_CPI_ARGS
    assert [a for a in container["args"] if a not in UPSTREAM_CPI_ARGS] == [f"--cluster-name={cfg.cluster.name}"]
    assert pod["volumes"] == [{"name": "vsphere-config-volume", "configMap": {"name": "vsphere-cloud-config"}}]
    assert container["volumeMounts"] == [{"mountPath": "/etc/cloud", "name": "vsphere-config-volume", "readOnly": True}]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert [t["matchExpressions"][0]["key"] for t in terms] == [
        "node-role.kubernetes.io/control-plane",
        "node-role.kubernetes.io/master",
    ]
    # Only the credentials follow cpi.secretNamespace, and vsphere.conf points there.
    assert {s["metadata"]["namespace"] for s in cpi.secrets(cfg)} == {secret_namespace}
    assert (
        f"secretNamespace: {secret_namespace}" in objects[("ConfigMap", "vsphere-cloud-config")]["data"]["vsphere.conf"]
    )
