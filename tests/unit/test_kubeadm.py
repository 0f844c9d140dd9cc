"""kubeadm documents: the API version of the configured minor, and the fields kubeadm requires in it."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from tests.unit.test_cloud_init import JOIN, PKI, TOKEN, by_step, sim_config
from vsphere_k8s import versions
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.render.kubeadm import (
    JoinMaterial,
    api_endpoint,
    ca_cert_hash,
    init_documents,
    join_documents,
    to_yaml,
)

# Field names of the kubeadm types (cmd/kubeadm/app/apis/kubeadm/v1beta3 and v1beta4), as JSON.
# kubeadm decodes strictly: a misspelt key is an error (or silently ignored), so every key we
# emit must be one of these.
KNOWN: dict[str, set[str]] = {
    "InitConfiguration": {
        "apiVersion", "kind", "bootstrapTokens", "dryRun", "nodeRegistration", "localAPIEndpoint",
        "certificateKey", "skipPhases", "patches", "timeouts",
    },
    "ClusterConfiguration": {
        "apiVersion", "kind", "etcd", "networking", "kubernetesVersion", "controlPlaneEndpoint", "apiServer",
        "controllerManager", "scheduler", "dns", "certificatesDir", "imageRepository", "featureGates",
        "clusterName",
    },
    "JoinConfiguration": {
        "apiVersion", "kind", "dryRun", "nodeRegistration", "caCertPath", "discovery", "controlPlane",
        "skipPhases", "patches", "timeouts",
    },
    "nodeRegistration": {"name", "criSocket", "taints", "kubeletExtraArgs", "ignorePreflightErrors", "imagePullPolicy"},
    "localAPIEndpoint": {"advertiseAddress", "bindPort"},
    "bootstrapToken": {"token", "description", "ttl", "expires", "usages", "groups"},
    "discovery": {"bootstrapToken", "file", "tlsBootstrapToken", "timeout"},
    "discovery.bootstrapToken": {"token", "apiServerEndpoint", "caCertHashes", "unsafeSkipCAVerification"},
    "controlPlane": {"localAPIEndpoint", "certificateKey"},
    "networking": {"serviceSubnet", "podSubnet", "dnsDomain"},
    "etcd.local": {"imageRepository", "imageTag", "dataDir", "extraArgs", "serverCertSANs", "peerCertSANs"},
    "apiServer": {"extraArgs", "extraVolumes", "certSANs", "timeoutForControlPlane"},
}  # fmt: skip


def _kubelet_args(api_version: str, args: Any) -> dict[str, str]:
    """Read kubeletExtraArgs the way kubeadm of that API version does, rejecting the other shape."""
    if api_version.endswith("v1beta4"):
        assert isinstance(args, list), "v1beta4 wants a list of {name, value}"
        assert all(set(a) == {"name", "value"} for a in args)
        return {a["name"]: a["value"] for a in args}
    assert isinstance(args, dict), "v1beta3 wants a map"
    return dict(args)


def _docs(version: str) -> tuple[dict[str, list[dict[str, Any]]], str]:
    cfg = sim_config(version=version)
    nodes = plan_nodes(cfg)
    roles = by_step(nodes)
    out = {
        "init": init_documents(cfg, nodes, roles["init"], JOIN),
        "join-control-plane": join_documents(cfg, nodes, roles["join-control-plane"], JOIN),
        "join-worker": join_documents(cfg, nodes, roles["join-worker"], JOIN),
    }
    return out, versions.kubeadm_api_version(cfg.kubernetes.minor)


@pytest.mark.parametrize(
    ("version", "api"),
    [("1.29.12", "v1beta3"), ("1.30.8", "v1beta3"), ("1.31.4", "v1beta4"), ("1.33.1", "v1beta4")],
)
def test_api_version_follows_the_minor(version: str, api: str) -> None:
    docs, api_version = _docs(version)
    assert api_version == f"kubeadm.k8s.io/{api}"
    for role_docs in docs.values():
        for doc in role_docs:
            if doc["kind"] != "KubeletConfiguration":
                assert doc["apiVersion"] == api_version


@pytest.mark.parametrize("version", ["1.30.8", "1.31.4"])
def test_every_node_runs_kubelet_with_the_external_cloud_provider(version: str) -> None:
    docs, api_version = _docs(version)
    for role, role_docs in docs.items():
        reg = role_docs[0]["nodeRegistration"]
        args = _kubelet_args(api_version, reg["kubeletExtraArgs"])
        assert args["cloud-provider"] == "external", role
        assert args["node-ip"].startswith("10.10.0.")
        assert reg["criSocket"] == "unix:///var/run/containerd/containerd.sock"
        assert "taints" in reg  # not omitempty in kubeadm: nil would mean "default"


@pytest.mark.parametrize("version", ["1.30.8", "1.31.4"])
def test_documents_use_only_kubeadm_fields_and_set_the_required_ones(version: str) -> None:
    docs, api_version = _docs(version)
    init, cluster, kubelet = docs["init"]
    assert set(init) <= KNOWN["InitConfiguration"]
    assert set(init["nodeRegistration"]) <= KNOWN["nodeRegistration"]
    assert set(init["localAPIEndpoint"]) <= KNOWN["localAPIEndpoint"]
    for token in init["bootstrapTokens"]:
        assert set(token) <= KNOWN["bootstrapToken"]
        assert token["token"] == TOKEN and token["usages"] == ["signing", "authentication"]
    assert set(cluster) <= KNOWN["ClusterConfiguration"]
    assert set(cluster["networking"]) <= KNOWN["networking"]
    assert set(cluster["etcd"]["local"]) <= KNOWN["etcd.local"]
    assert cluster["etcd"]["local"]["dataDir"]  # required (no omitempty) in the type
    assert set(cluster["apiServer"]) <= KNOWN["apiServer"]
    assert cluster["kubernetesVersion"] == f"v{version}"
    assert cluster["controlPlaneEndpoint"] == "10.10.0.10:6443"
    assert cluster["networking"] == {
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/12",
        "dnsDomain": "cluster.local",
    }
    assert "10.10.0.10" in cluster["apiServer"]["certSANs"]
    assert kubelet == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
    }
    for role in ("join-control-plane", "join-worker"):
        (join,) = docs[role]
        assert set(join) <= KNOWN["JoinConfiguration"]
        assert set(join["discovery"]) <= KNOWN["discovery"]
        bt = join["discovery"]["bootstrapToken"]
        assert set(bt) <= KNOWN["discovery.bootstrapToken"]
        # Discovery pins the CA: never unsafeSkipCAVerification.
        assert bt == {"apiServerEndpoint": "10.10.0.10:6443", "token": TOKEN, "caCertHashes": [JOIN.ca_cert_hash]}
    cp = docs["join-control-plane"][0]
    assert set(cp["controlPlane"]) <= KNOWN["controlPlane"]
    assert "certificateKey" not in cp["controlPlane"]  # the shared PKI is pre-placed instead
    node_ip = _kubelet_args(api_version, cp["nodeRegistration"]["kubeletExtraArgs"])["node-ip"]
    assert cp["controlPlane"]["localAPIEndpoint"] == {"bindPort": 6443, "advertiseAddress": node_ip}
    assert "controlPlane" not in docs["join-worker"][0]


def test_control_plane_is_tainted_workers_are_not() -> None:
    docs, _ = _docs("1.31.4")
    taint = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    assert docs["init"][0]["nodeRegistration"]["taints"] == [taint]
    assert docs["join-control-plane"][0]["nodeRegistration"]["taints"] == [taint]
    assert docs["join-worker"][0]["nodeRegistration"]["taints"] == []
    # Only the init node tolerates its pre-placed kube-vip manifest in kubeadm's preflight.
    assert docs["init"][0]["nodeRegistration"]["ignorePreflightErrors"] == ["DirAvailable--etc-kubernetes-manifests"]
    assert "ignorePreflightErrors" not in docs["join-worker"][0]["nodeRegistration"]


def test_yaml_round_trips_as_separate_documents() -> None:
    docs, _ = _docs("1.31.4")
    parsed = list(yaml.safe_load_all(to_yaml(docs["init"])))
    assert [d["kind"] for d in parsed] == ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"]
    assert parsed == docs["init"]


def test_yaml_is_what_the_pure_python_emitter_writes() -> None:
    """libyaml's emitter is a speed-up only: the text kubeadm reads must not change with it."""
    for version in ("1.30.8", "1.31.4"):
        docs, _ = _docs(version)
        for role, documents in docs.items():
            expected = yaml.dump_all(documents, Dumper=yaml.SafeDumper, sort_keys=False, default_flow_style=False)
            assert to_yaml(documents) == expected, role


def test_ca_cert_hash_matches_openssl(tmp_path: Any) -> None:
    """kubeadm's pin is sha256 over the DER SubjectPublicKeyInfo; compute it independently."""
    path = tmp_path / "ca.crt"
    path.write_text(PKI.ca_cert)
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(path)], capture_output=True, check=True)
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.stdout, capture_output=True, check=True
    )
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hex"], input=der.stdout, capture_output=True, check=True)
    assert ca_cert_hash(PKI.ca_cert) == "sha256:" + digest.stdout.decode().split()[-1]


@pytest.mark.parametrize(
    ("token", "pin"),
    [
        ("ABCDEF.0123456789abcdef", "sha256:" + "0" * 64),
        ("abcdef0123456789abcdef", "sha256:" + "0" * 64),
        (TOKEN, "0" * 64),
    ],
)
def test_join_material_rejects_malformed_values(token: str, pin: str) -> None:
    with pytest.raises(ValueError, match=r"token|hash"):
        JoinMaterial(token, pin)


def test_endpoint_of_a_single_static_control_plane_and_ipv6() -> None:
    raw_cfg = sim_config()
    nodes = plan_nodes(raw_cfg)
    assert api_endpoint(raw_cfg, nodes) == "10.10.0.10:6443"
    single = raw_cfg.model_copy(
        update={"kubernetes": raw_cfg.kubernetes.model_copy(update={"control_plane_endpoint": None})}
    )
    assert api_endpoint(single, nodes) == f"{nodes[0].ip}:6443"
    v6 = raw_cfg.model_copy(
        update={"kubernetes": raw_cfg.kubernetes.model_copy(update={"control_plane_endpoint": "fd00::10"})}
    )
    assert api_endpoint(v6, nodes) == "[fd00::10]:6443"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"version": "1.27.3"}, "kubernetes.version", "bootstrap supports Kubernetes 1.29"),
        ({"mode": "existing", "controlPlaneEndpoint": None}, "kubernetes.kubeconfig", "required with mode: existing"),
        ({"kubeconfig": "apiVersion: v1"}, "kubernetes.kubeconfig", "only read with mode: existing"),
        ({"cni": {"name": "cilium", "version": "v3.28.2"}}, "kubernetes.cni.version", "not a Cilium release"),
    ],
)
def test_bootstrap_config_errors_name_the_key(change: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        sim_config(**change)
    assert any(i.path == path and message in i.message for i in info.value.issues), info.value.render()
