"""Every rendered manifest validates (kubernetes-validate, strict) for the configured Kubernetes version;
the CPI, CSI and StorageClasses carry what the cluster needs; versions follow the support matrix."""

from __future__ import annotations

import os
import re
from typing import Any

import kubernetes_validate
import pytest

from offline.program import offline_config
from tests.support.stacks import at_version
from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load
from vsphere_k8s.manifests import cpi, csi, images, storage
from vsphere_k8s.manifests.meta import identity

_SCHEMAS = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
SHIPPED = sorted(int(m.group(1)) for d in os.listdir(_SCHEMAS) if (m := re.fullmatch(r"v1\.(\d+)\.0-local-strict", d)))


def schema_version(minor: int) -> str:
    """The nearest Kubernetes version the installed kubernetes-validate ships schemas for."""
    nearest = min(SHIPPED, key=lambda m: (abs(m - minor), -m))
    return f"1.{nearest}.0"


def stack(name: str = "prod", version: str | None = None, **changes: Any) -> StackConfig:
    raw = offline_config(name)
    if version is not None:
        at_version(raw, version)
    raw.update(changes)
    return load(raw, stack=name)


def everything(cfg: StackConfig) -> list[dict[str, Any]]:
    return [
        *cpi.manifests(cfg),
        *cpi.secrets(cfg),
        *csi.manifests(cfg),
        csi.config_secret(cfg),
        *storage.manifests(cfg),
    ]


@pytest.mark.parametrize("minor", images.SUPPORTED_MINORS)
def test_every_manifest_validates_strictly_for_each_supported_minor(minor: int) -> None:
    cfg = stack(version=f"1.{minor}.2")
    objects = everything(cfg)
    assert len(objects) == 26
    for obj in objects:
        kubernetes_validate.validate(obj, schema_version(minor), strict=True)
    assert len({identity(o) for o in objects}) == len(objects)


def test_schema_mapping_picks_the_nearest_shipped_version() -> None:
    assert schema_version(31) == "1.31.0"
    assert schema_version(SHIPPED[-1] + 3) == f"1.{SHIPPED[-1]}.0"
    assert schema_version(SHIPPED[0] - 2) == f"1.{SHIPPED[0]}.0"


def test_validation_really_rejects_a_broken_object() -> None:
    ds = cpi.daemon_set(stack())
    ds["spec"]["template"]["spec"]["tolerations"][0]["effect"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ds, "1.31.0", strict=True)


# --------------------------------------------------------------------------- CPI


def test_cpi_daemonset_runs_on_control_plane_with_needed_tolerations() -> None:
    ds = cpi.daemon_set(stack())
    pod = ds["spec"]["template"]["spec"]
    assert ds["metadata"]["namespace"] == "kube-system"
    tolerations = {(t["key"], t["effect"]) for t in pod["tolerations"]}
    assert ("node.cloudprovider.kubernetes.io/uninitialized", "NoSchedule") in tolerations
    assert ("node-role.kubernetes.io/control-plane", "NoSchedule") in tolerations
    assert ("node.kubernetes.io/not-ready", "NoSchedule") in tolerations
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"} in terms[0]["matchExpressions"]
    assert pod["hostNetwork"] is True and pod["priorityClassName"] == "system-node-critical"
    (container,) = pod["containers"]
    assert container["args"][:3] == ["--cloud-provider=vsphere", "--v=2", "--cloud-config=/etc/cloud/vsphere.conf"]
    assert pod["volumes"] == [{"name": "vsphere-config-volume", "configMap": {"name": "vsphere-cloud-config"}}]
    assert "env" not in container


@pytest.mark.parametrize("minor", sorted(images.CPI_RELEASES))
def test_cpi_image_follows_the_kubernetes_minor(minor: int) -> None:
    if minor not in images.SUPPORTED_MINORS:
        pytest.fail(f"1.{minor} has a CPI but no CSI release")
    (container,) = cpi.daemon_set(stack(version=f"1.{minor}.0"))["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("registry.k8s.io/cloud-pv-vsphere/cloud-provider-vsphere:")
    assert container["image"].endswith(f":{images.CPI_RELEASES[minor]}")
    assert images.cpi_minor(images.CPI_RELEASES[minor]) == minor


def test_config_change_rolls_the_cpi_pods() -> None:
    def checksum(cfg: StackConfig) -> str:
        return str(cpi.daemon_set(cfg)["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum(stack()) == checksum(stack())
    assert checksum(stack()) != checksum(stack(cpi={"nodes": {"internalNetworkSubnetCidr": "10.30.1.0/24"}}))


def test_cpi_rbac_matches_upstream_rules() -> None:
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): r["verbs"] for r in cpi.cluster_role()["rules"]}
    assert rules[(("",), ("nodes",))] == ["*"]
    assert rules[(("",), ("secrets",))] == ["get", "list", "watch"]
    assert rules[(("coordination.k8s.io",), ("leases",))] == ["create", "get", "list", "watch", "update"]
    binding = cpi.auth_reader_binding(stack())
    assert binding["roleRef"]["name"] == "extension-apiserver-authentication-reader"
    assert binding["metadata"]["namespace"] == "kube-system"


def test_dual_stack_sets_the_cpi_gate() -> None:
    ds = cpi.daemon_set(stack(cpi={"ipFamily": ["ipv4", "ipv6"]}))
    (container,) = ds["spec"]["template"]["spec"]["containers"]
    assert {"name": "ENABLE_ALPHA_DUAL_STACK", "value": "true"} in container["env"]


# --------------------------------------------------------------------------- CSI


def _containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def test_csi_controller_has_driver_syncer_and_sidecars_of_one_release() -> None:
    cfg = stack()
    release = images.images_for(cfg).csi
    assert release.version == "v3.5.1"  # newest pinned release supporting 1.31
    controller = csi.controller_deployment(cfg)
    containers = _containers(controller)
    assert set(containers) == {
        "csi-attacher",
        "csi-resizer",
        "vsphere-csi-controller",
        "liveness-probe",
        "vsphere-syncer",
        "csi-provisioner",
    }
    assert containers["vsphere-csi-controller"]["image"] == "registry.k8s.io/csi-vsphere/driver:v3.5.1"
    assert containers["vsphere-syncer"]["image"] == "registry.k8s.io/csi-vsphere/syncer:v3.5.1"
    assert containers["csi-attacher"]["image"] == "registry.k8s.io/sig-storage/csi-attacher:v4.8.1"
    assert controller["spec"]["replicas"] == 3
    assert controller["metadata"]["namespace"] == "vmware-system-csi"
    volumes = controller["spec"]["template"]["spec"]["volumes"]
    assert {"name": "vsphere-config-volume", "secret": {"secretName": "vsphere-config-secret"}} in volumes
    env = {e["name"]: e.get("value") for e in containers["vsphere-csi-controller"]["env"]}
    assert env["VSPHERE_CSI_CONFIG"] == "/etc/cloud/csi-vsphere.conf"


def test_snapshotter_runs_only_when_the_cluster_provides_what_it_needs() -> None:
    """Without the VolumeSnapshot CRDs and snapshot-controller (which the program does not install) the
    sidecar only fails its watches: it is off by default; `external` declares the cluster has them."""
    default = csi.controller_deployment(stack())
    assert "csi-snapshotter" not in _containers(default)
    assert "annotations" not in default["metadata"]
    external = csi.controller_deployment(stack(csi={"snapshots": "external"}))
    snapshotter = _containers(external)["csi-snapshotter"]
    assert snapshotter["image"] == "registry.k8s.io/sig-storage/csi-snapshotter:v8.2.0"
    assert external["metadata"]["annotations"] == {csi.SNAPSHOTS_ANNOTATION: "external"}
    with pytest.raises(ConfigError) as caught:
        stack(csi={"snapshots": "install"})
    assert any(i.path == "csi.snapshots" for i in caught.value.issues), caught.value.render()


def test_controller_replicas_default_to_the_control_plane_size() -> None:
    """One controller per control-plane node (upstream ships 3 for a 3-node control plane)."""

    def replicas(cp: dict[str, int], **csi_settings: Any) -> int:
        raw = offline_config("dev")
        raw["nodePools"]["controlPlane"]["replicas"] = cp
        raw["csi"] = {**raw.get("csi", {}), **csi_settings}
        return int(csi.controller_deployment(load(raw, stack="dev"))["spec"]["replicas"])

    assert replicas({"dev-1a": 1, "dev-1b": 1, "dev-1c": 1}) == 3
    assert replicas({"dev-1a": 1, "dev-1b": 0, "dev-1c": 0}) == 1
    assert replicas({"dev-1a": 1, "dev-1b": 1, "dev-1c": 1}, controllerReplicas=2) == 2


def test_topology_flags_on_the_provisioner() -> None:
    args = _containers(csi.controller_deployment(stack()))["csi-provisioner"]["args"]
    assert "--feature-gates=Topology=true" in args and "--strict-topology" in args


def test_csi_node_daemonset_registers_the_driver_on_every_node() -> None:
    node = csi.node_daemon_set(stack())
    containers = _containers(node)
    assert set(containers) == {"node-driver-registrar", "vsphere-csi-node", "liveness-probe"}
    env = {e["name"]: e.get("value") for e in containers["node-driver-registrar"]["env"]}
    assert env["DRIVER_REG_SOCK_PATH"] == "/var/lib/kubelet/plugins/csi.vsphere.vmware.com/csi.sock"
    assert containers["vsphere-csi-node"]["securityContext"]["privileged"] is True
    tolerations = node["spec"]["template"]["spec"]["tolerations"]
    assert {"effect": "NoSchedule", "operator": "Exists"} in tolerations


@pytest.mark.parametrize(
    ("csi_version", "limit"), [("v3.4.0", "59"), ("v3.5.1", "59"), ("v3.6.3", "59"), ("v3.7.3", None), ("v3.8.0", None)]
)
def test_node_driver_reports_the_attach_limit_where_its_release_reads_it(csi_version: str, limit: str | None) -> None:
    """Through v3.7.0 the release manifests set MAX_VOLUMES_PER_NODE=59 (without it no attach limit is
    reported and the scheduler over-commits volumes); later releases default to 59 in code."""
    release = images.csi_release(csi_version)
    assert release is not None
    cfg = stack(version=f"1.{release.max_minor}.0", csi={"version": csi_version})
    env = {e["name"]: e.get("value") for e in _containers(csi.node_daemon_set(cfg))["vsphere-csi-node"]["env"]}
    assert env.get("MAX_VOLUMES_PER_NODE") == limit


def test_csi_namespace_allows_the_privileged_node_plugin_and_driver_object() -> None:
    ns = csi.namespace()
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert csi.csi_driver()["metadata"]["name"] == "csi.vsphere.vmware.com"
    assert csi.csi_driver()["spec"]["attachRequired"] is True


# --------------------------------------------------------------------------- StorageClasses


def test_storage_classes_default_and_one_per_zone() -> None:
    classes = {sc["metadata"]["name"]: sc for sc in storage.manifests(stack())}
    assert set(classes) == {"vsan-default", "vsan-zonal-east-a", "vsan-zonal-east-b", "vsan-zonal-west-a"}
    default = classes["vsan-default"]
    assert default["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert default["parameters"] == {"csi.storage.k8s.io/fstype": "ext4", "storagepolicyname": "k8s-gold"}
    assert default["reclaimPolicy"] == "Retain" and "allowedTopologies" not in default
    zonal = classes["vsan-zonal-west-a"]
    assert "annotations" not in zonal["metadata"]
    assert zonal["provisioner"] == "csi.vsphere.vmware.com"
    assert zonal["volumeBindingMode"] == "WaitForFirstConsumer"
    assert zonal["allowedTopologies"] == [
        {"matchLabelExpressions": [{"key": "topology.csi.vmware.com/k8s-zone", "values": ["west-a"]}]}
    ]
    defaults = [n for n, sc in classes.items() if sc["metadata"].get("annotations")]
    assert defaults == ["vsan-default"]


def test_restricted_class_and_defaults_without_configured_classes() -> None:
    cfg = stack(storageClasses=[{"name": "fast", "default": True, "zones": ["east-a", "east-b"], "fsType": "xfs"}])
    (fast,) = storage.manifests(cfg)
    assert fast["allowedTopologies"][0]["matchLabelExpressions"][0]["values"] == ["east-a", "east-b"]
    assert fast["parameters"]["csi.storage.k8s.io/fstype"] == "xfs"
    names = [sc["metadata"]["name"] for sc in storage.manifests(stack(storageClasses=[]))]
    assert names == ["vsphere", "vsphere-zonal-east-a", "vsphere-zonal-east-b", "vsphere-zonal-west-a"]


def test_topology_key_follows_the_zone_category() -> None:
    raw = offline_config("sim")
    raw["topology"]["zoneCategory"] = "corp-zone"
    cfg = load(raw, stack="sim")
    zonal = [sc for sc in storage.manifests(cfg) if "allowedTopologies" in sc]
    assert {sc["allowedTopologies"][0]["matchLabelExpressions"][0]["key"] for sc in zonal} == {
        "topology.csi.vmware.com/corp-zone"
    }


# --------------------------------------------------------------------------- the support matrix


def test_support_matrix_is_consistent() -> None:
    for minor in images.SUPPORTED_MINORS:
        assert images.cpi_supports(images.CPI_RELEASES[minor], minor)
        release = images.default_csi_release(minor)
        assert release is not None and release.supports(minor)
        assert images.csi_supports(release.version, minor)
    assert not images.cpi_supports("v1.30.2", 31)
    assert not images.csi_supports("v3.8.0", 31)
    assert images.default_csi_release(36) == images.csi_release("v3.8.0")


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"cpi": {"version": "v1.30.2"}}, "cpi.version", "Kubernetes 1.30"),
        ({"csi": {"version": "v3.8.0"}}, "csi.version", "1.34 to 1.36, not 1.31"),
        ({"csi": {"version": "v2.7.0"}}, "csi.version", "not a CSI release"),
        ({"kubernetes": {"version": "1.24.3"}}, "kubernetes.version", "no pinned vSphere CPI"),
        ({"csi": {"controllerReplicas": 5}}, "csi.controllerReplicas", "the stack has 3"),
    ],
)
def test_unsupported_versions_are_config_errors(changes: dict[str, Any], path: str, words: str) -> None:
    raw = offline_config("dev")
    for key, value in changes.items():
        raw[key] = {**raw.get(key, {}), **value}
    with pytest.raises(ConfigError) as caught:
        load(raw, stack="dev")
    assert any(i.path == path and words in i.message for i in caught.value.issues), caught.value.render()
