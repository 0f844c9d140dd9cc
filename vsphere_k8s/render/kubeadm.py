"""kubeadm configuration documents for the init node, joining control planes and workers.

Pure: takes the stack model, one node's plan and the cluster's join material, and
returns the documents kubeadm reads (``kubeadm init|join --config``). The API version
follows the configured minor (v1beta4 from 1.31, v1beta3 before), and with it the
shape of ``extraArgs``/``kubeletExtraArgs``: a list of ``{name, value}`` in v1beta4,
a map in v1beta3.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import versions
from ..config import StackConfig
from ..plan.nodes import NodePlan
from .yaml_emitter import SafeDumper

BOOTSTRAP_TOKEN = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"  # noqa: S105 - an RBAC group
# kubeadm init refuses a non-empty manifests directory; the init node's kube-vip
# static pod must be there before init, because init talks to the VIP.
MANIFESTS_PREFLIGHT = "DirAvailable--etc-kubernetes-manifests"


@dataclass(frozen=True)
class JoinMaterial:
    """What one node needs to join: its own secret token, the CA's public-key pin, the token's lifetime."""

    token: str  # "<id>.<secret>"
    ca_cert_hash: str  # "sha256:<hex>"
    token_ttl_minutes: int = 60

    def __post_init__(self) -> None:
        if not BOOTSTRAP_TOKEN.match(self.token):
            raise ValueError("bootstrap token must look like [a-z0-9]{6}.[a-z0-9]{16}")
        if not re.match(r"^sha256:[0-9a-f]{64}$", self.ca_cert_hash):
            raise ValueError("CA cert hash must be sha256:<64 hex digits>")
        if self.token_ttl_minutes <= 0:
            raise ValueError("the bootstrap token needs a lifetime (token_ttl_minutes > 0): never a token that lasts")


def ca_cert_hash(ca_cert_pem: str) -> str:
    """kubeadm's discovery pin: SHA-256 of the CA's DER SubjectPublicKeyInfo."""
    cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def api_endpoint(cfg: StackConfig, nodes: list[NodePlan]) -> str:
    """host:port every node and client uses: the VIP, or the single control plane's address."""
    k8s = cfg.kubernetes
    host = k8s.control_plane_endpoint
    if host is None:
        # The init node's address, or (its VM replaced) the first control plane's: a single control
        # plane on a static address, whose roll the roll planner refuses.
        init = next((n for n in nodes if n.init), None) or next(n for n in nodes if n.is_control_plane)
        if init.ip is None:
            raise ValueError("kubernetes.controlPlaneEndpoint is required when the control plane uses DHCP")
        host = init.ip
    bracketed = f"[{host}]" if ":" in host else host
    return f"{bracketed}:{k8s.control_plane_port}"


def uses_vip(cfg: StackConfig, nodes: list[NodePlan]) -> bool:
    """kube-vip holds the endpoint unless it is simply the only control plane's own address."""
    endpoint = cfg.kubernetes.control_plane_endpoint
    if endpoint is None:
        return False
    return all(n.ip != endpoint for n in nodes if n.is_control_plane)


def _args(api_version: str, args: Mapping[str, str]) -> Any:
    if api_version.endswith("v1beta4"):
        return [{"name": k, "value": v} for k, v in sorted(args.items())]
    return dict(sorted(args.items()))


def kubelet_args(node: NodePlan, labels: Mapping[str, str]) -> dict[str, str]:
    # The out-of-tree CPI owns node initialization: kubelet registers with the
    # uninitialized taint and no cloud logic of its own.
    args = {"cloud-provider": "external"}
    if node.ip:
        args["node-ip"] = node.ip
    if labels:
        args["node-labels"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return args


def _node_registration(api_version: str, node: NodePlan, labels: Mapping[str, str], init: bool) -> dict[str, Any]:
    reg: dict[str, Any] = {
        "name": node.name,
        "criSocket": versions.CONTAINERD_SOCKET,
        "kubeletExtraArgs": _args(api_version, kubelet_args(node, labels)),
        "taints": [CONTROL_PLANE_TAINT] if node.is_control_plane else [],
    }
    if init:
        reg["ignorePreflightErrors"] = [MANIFESTS_PREFLIGHT]
    return reg


def _local_endpoint(cfg: StackConfig, node: NodePlan) -> dict[str, Any]:
    out: dict[str, Any] = {"bindPort": cfg.kubernetes.control_plane_port}
    if node.ip:
        out["advertiseAddress"] = node.ip
    return out


def _labels(cfg: StackConfig, node: NodePlan) -> dict[str, str]:
    pool = next((p for p in cfg.node_pools.workers if p.name == node.pool), None)
    return dict(pool.labels) if pool else {}


def cluster_configuration(cfg: StackConfig, nodes: list[NodePlan]) -> dict[str, Any]:
    k8s = cfg.kubernetes
    api_version = versions.kubeadm_api_version(k8s.minor)
    sans = sorted({h for h in [k8s.control_plane_endpoint, *(n.ip for n in nodes if n.is_control_plane)] if h})
    doc: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "ClusterConfiguration",
        "clusterName": cfg.cluster.name,
        "kubernetesVersion": f"v{k8s.version}",
        "controlPlaneEndpoint": api_endpoint(cfg, nodes),
        "networking": {
            "podSubnet": k8s.pod_cidr,
            "serviceSubnet": k8s.service_cidr,
            "dnsDomain": k8s.cluster_domain,
        },
        "apiServer": {"certSANs": sans},
        # Stacked etcd with the CA this program made: joining control planes find the shared
        # CAs on disk (from guestinfo, removed from the VM once the node has joined).
        "etcd": {"local": {"dataDir": "/var/lib/etcd"}},
        "certificatesDir": "/etc/kubernetes/pki",
    }
    return doc


def token_ttl(minutes: int) -> str:
    """A Go duration kubeadm parses; never "0s" (a token that never expires)."""
    if minutes <= 0:
        raise ValueError("a bootstrap token needs a positive lifetime")
    return f"{minutes // 60}h{minutes % 60}m0s"


def _bootstrap_token(token: str, ttl_minutes: int) -> dict[str, Any]:
    # The init node's own token: bounded like every other node's (nodes that join later get a
    # token of their own, created through the API for the `up` that adds them).
    return {
        "token": token,
        "description": "vsphere-k8s node join token (managed by Pulumi)",
        "ttl": token_ttl(ttl_minutes),
        "usages": ["signing", "authentication"],
        "groups": [NODE_TOKEN_GROUP],
    }


def kubelet_configuration() -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",  # containerd is configured with SystemdCgroup = true
    }


def init_documents(cfg: StackConfig, nodes: list[NodePlan], node: NodePlan, join: JoinMaterial) -> list[dict[str, Any]]:
    if not node.init:
        raise ValueError(f"node {node.key} is not the init node")
    api_version = versions.kubeadm_api_version(cfg.kubernetes.minor)
    init = {
        "apiVersion": api_version,
        "kind": "InitConfiguration",
        "bootstrapTokens": [_bootstrap_token(join.token, join.token_ttl_minutes)],
        "nodeRegistration": _node_registration(api_version, node, _labels(cfg, node), init=True),
        "localAPIEndpoint": _local_endpoint(cfg, node),
    }
    return [init, cluster_configuration(cfg, nodes), kubelet_configuration()]


def join_documents(cfg: StackConfig, nodes: list[NodePlan], node: NodePlan, join: JoinMaterial) -> list[dict[str, Any]]:
    if node.init:
        raise ValueError(f"node {node.key} runs kubeadm init, not join")
    api_version = versions.kubeadm_api_version(cfg.kubernetes.minor)
    doc: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": api_endpoint(cfg, nodes),
                "token": join.token,
                "caCertHashes": [join.ca_cert_hash],
            },
        },
        "nodeRegistration": _node_registration(api_version, node, _labels(cfg, node), init=False),
    }
    if node.is_control_plane:
        # No certificateKey (kubeadm's 2-hour upload-certs Secret would need a live control plane
        # to re-upload for every later join): the shared CAs are on disk, written by cloud-init,
        # and removed from the VM's guestinfo once the node has joined (providers/node_join).
        doc["controlPlane"] = {"localAPIEndpoint": _local_endpoint(cfg, node)}
    return [doc]


def to_yaml(documents: list[dict[str, Any]]) -> str:
    return yaml.dump_all(documents, Dumper=SafeDumper, sort_keys=False, default_flow_style=False)
