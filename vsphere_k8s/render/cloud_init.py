"""cloud-init user-data for each node role: prerequisites, packages, kubeadm, kube-vip, CNI.

Pure: the result is the complete ``#cloud-config`` text for one node. Network
configuration is not here (it is the VM's guestinfo metadata). Everything secret
(CA keys, the join token) lands in root-only files and never on a command line or
in the log, so the text is a secret and the guest is the only place it is plain.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from .. import versions
from ..config import StackConfig
from ..plan.nodes import NodePlan
from . import kube_vip
from .cni import cni_steps
from .kubeadm import JoinMaterial, init_documents, join_documents, to_yaml, uses_vip
from .yaml_emitter import SafeDumper

Step = Literal["init", "join-control-plane", "join-worker"]

SCRIPT_PATH = "/usr/local/sbin/vsphere-k8s-bootstrap"
KUBEADM_CONFIG = "/etc/kubernetes/kubeadm/kubeadm.yaml"
STATE_DIR = "/var/lib/vsphere-k8s"
# The shared PKI is staged here and copied into place before each kubeadm attempt,
# because `kubeadm reset` (between retries) empties /etc/kubernetes/pki.
PKI_STAGE = f"{STATE_DIR}/pki"
KUBE_VIP_STAGE = f"{STATE_DIR}/kube-vip.yaml"
# The cloud-config modules (cloud-init 22.4) whose keys this renderer emits.
EMITTED_KEYS = frozenset({"write_files", "runcmd", "ssh_authorized_keys", "final_message"})


@dataclass(frozen=True)
class ControlPlanePki:
    """The material kubeadm reuses instead of generating: shared by every control-plane node."""

    ca_cert: str
    ca_key: str
    front_proxy_ca_cert: str
    front_proxy_ca_key: str
    etcd_ca_cert: str
    etcd_ca_key: str
    sa_key: str
    sa_pub: str

    def files(self) -> dict[str, str]:
        """kubeadm's file names under /etc/kubernetes/pki."""
        return {
            "ca.crt": self.ca_cert,
            "ca.key": self.ca_key,
            "front-proxy-ca.crt": self.front_proxy_ca_cert,
            "front-proxy-ca.key": self.front_proxy_ca_key,
            "etcd/ca.crt": self.etcd_ca_cert,
            "etcd/ca.key": self.etcd_ca_key,
            "sa.key": self.sa_key,
            "sa.pub": self.sa_pub,
        }


def step_of(node: NodePlan) -> Step:
    if node.init:
        return "init"
    return "join-control-plane" if node.is_control_plane else "join-worker"


def _file(path: str, content: str, permissions: str) -> dict[str, Any]:
    return {"path": path, "owner": "root:root", "permissions": permissions, "content": content}


_MODULES = "overlay\nbr_netfilter\n"
_SYSCTL = "net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n"


def _packages(cfg: StackConfig) -> list[str]:
    k8s = cfg.kubernetes
    repo = versions.apt_repository(k8s.minor)
    deb = versions.deb_version(k8s.version)
    keyring = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
    return [
        "export DEBIAN_FRONTEND=noninteractive",
        "retry 5 10 apt-get update",
        f"retry 5 10 apt-get install -y apt-transport-https ca-certificates curl gpg {versions.CONTAINERD_PACKAGE}",
        "install -d -m 0755 /etc/apt/keyrings",
        f"retry 5 10 curl -fsSL -o /tmp/kubernetes-release.key {repo}Release.key",
        f"gpg --batch --yes --dearmor -o {keyring} /tmp/kubernetes-release.key",
        f"echo 'deb [signed-by={keyring}] {repo} /' > /etc/apt/sources.list.d/kubernetes.list",
        "retry 5 10 apt-get update",
        f"retry 5 10 apt-get install -y kubelet={deb} kubeadm={deb} kubectl={deb}",
        "apt-mark hold kubelet kubeadm kubectl",
    ]


def _runtime() -> list[str]:
    return [
        "mkdir -p /etc/containerd",
        # Regenerated only when absent, so a template's own containerd config is kept.
        "[ -s /etc/containerd/config.toml ] || containerd config default > /etc/containerd/config.toml",
        "sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml",
        "systemctl restart containerd",
        "systemctl enable kubelet",
    ]


def _kube_vip_place(vip: str) -> list[str]:
    return [
        f"iface=$(ip -o route get {shlex.quote(vip)} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')",
        "[ -n \"$iface\" ] || { echo 'no interface routes to the control-plane VIP'; return 1; }",
        "mkdir -p /etc/kubernetes/manifests",
        f'sed "s/{kube_vip.INTERFACE_PLACEHOLDER}/$iface/" {KUBE_VIP_STAGE} > {kube_vip.MANIFEST_PATH}',
    ]


def bootstrap_script(cfg: StackConfig, nodes: list[NodePlan], node: NodePlan) -> str:
    """The one script cloud-init runs: idempotent, retried where the network or peers can lag."""
    step = step_of(node)
    vip = cfg.kubernetes.control_plane_endpoint if uses_vip(cfg, nodes) and node.is_control_plane else None
    lines = [
        "#!/bin/bash",
        f"# vsphere-k8s bootstrap of {node.name} ({step}). Written by Pulumi; prints no secret.",
        "set -euo pipefail",
        "exec >>/var/log/vsphere-k8s-bootstrap.log 2>&1",
        f"done_marker={STATE_DIR}/bootstrap.done",
        'if [ -e "$done_marker" ]; then echo "already bootstrapped"; exit 0; fi',
        'retry() { local n=$1 delay=$2 i; shift 2; for ((i = 1; i <= n; i++)); do "$@" && return 0; '
        'echo "attempt $i/$n failed: $1"; sleep "$delay"; done; return 1; }',
        "swapoff -a",
        "sed -ri '/\\sswap\\s/s/^#?/#/' /etc/fstab",
        "modprobe overlay",
        "modprobe br_netfilter",
        "sysctl --system >/dev/null",
    ]
    if not cfg.kubernetes.packages_preinstalled:
        lines += _packages(cfg)
    lines += _runtime()
    if node.is_control_plane:
        lines += [
            "place_pki() {",
            "  install -d -m 0700 /etc/kubernetes/pki /etc/kubernetes/pki/etcd",
            f"  cp -a {PKI_STAGE}/. /etc/kubernetes/pki/",
            "}",
        ]
    if vip:
        lines += ["place_kube_vip() {", *(f"  {c}" for c in _kube_vip_place(vip)), "}"]
    if step == "init":
        lines += [
            "attempt() {",
            # A failed attempt leaves half a node behind: reset it (this empties pki and manifests).
            '  if [ -n "${tried:-}" ]; then kubeadm reset -f >/dev/null 2>&1 || true; fi',
            "  tried=1",
            "  place_pki &&" + (" place_kube_vip &&" if vip else ""),
            f"    kubeadm init --config {KUBEADM_CONFIG} --skip-token-print",
            "}",
            "retry 3 30 attempt",
        ]
        if vip:
            # admin.conf is RBAC-bound once init has created its ClusterRoleBinding.
            lines.append(f"sed -i 's#{kube_vip.SUPER_ADMIN_CONF}#{kube_vip.ADMIN_CONF}#' {kube_vip.MANIFEST_PATH}")
        lines += cni_steps(cfg.kubernetes.cni)
    else:
        lines += [
            "attempt() {",
            # A failed attempt leaves half a node behind: reset it (this empties pki and manifests).
            '  if [ -n "${tried:-}" ]; then kubeadm reset -f >/dev/null 2>&1 || true; fi',
            "  tried=1",
            *(["  place_pki &&"] if node.is_control_plane else []),
            f"    kubeadm join --config {KUBEADM_CONFIG}",
            "}",
            # Peers boot together: the API may be minutes away when a joiner starts.
            "retry 40 30 attempt",
        ]
        if vip:
            lines.append("place_kube_vip")
    lines += [
        f"rm -rf {PKI_STAGE}",
        'touch "$done_marker"',
        f"echo 'vsphere-k8s: {node.name} bootstrapped ({step})'",
    ]
    return "\n".join(lines) + "\n"


def user_data_document(
    cfg: StackConfig,
    nodes: list[NodePlan],
    node: NodePlan,
    join: JoinMaterial,
    pki: ControlPlanePki | None,
) -> dict[str, Any]:
    if node.is_control_plane and pki is None:
        raise ValueError(f"control-plane node {node.key} needs the cluster PKI")
    documents = init_documents(cfg, nodes, node, join) if node.init else join_documents(cfg, nodes, node, join)
    files = [
        _file("/etc/modules-load.d/k8s.conf", _MODULES, "0644"),
        _file("/etc/sysctl.d/99-kubernetes.conf", _SYSCTL, "0644"),
        _file(KUBEADM_CONFIG, to_yaml(documents), "0600"),
        _file(SCRIPT_PATH, bootstrap_script(cfg, nodes, node), "0700"),
    ]
    if node.is_control_plane and pki is not None:
        files += [
            _file(f"{PKI_STAGE}/{name}", content, "0644" if name.endswith((".crt", ".pub")) else "0600")
            for name, content in pki.files().items()
        ]
        if uses_vip(cfg, nodes):
            endpoint = cfg.kubernetes.control_plane_endpoint
            assert endpoint is not None  # uses_vip implies it
            pod = kube_vip.kube_vip_pod(
                endpoint,
                cfg.kubernetes.control_plane_port,
                kube_vip.kubeconfig_for(cfg.kubernetes.minor, node.init),
                interface=cfg.kubernetes.vip_interface,
            )
            files.append(_file(KUBE_VIP_STAGE, yaml.safe_dump(pod, sort_keys=False), "0600"))
    doc: dict[str, Any] = {"write_files": files, "runcmd": [[SCRIPT_PATH]]}
    keys = cfg.node_pools.ssh_authorized_keys
    if keys:
        doc["ssh_authorized_keys"] = list(keys)
    doc["final_message"] = f"vsphere-k8s: cloud-init finished on {node.name} after $UPTIME s"
    return doc


class _BlockDumper(SafeDumper):  # type: ignore[valid-type,misc]
    """Multi-line strings (files, scripts) as literal blocks: readable on the node and in reviews."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def render_user_data(
    cfg: StackConfig,
    nodes: list[NodePlan],
    node: NodePlan,
    join: JoinMaterial,
    pki: ControlPlanePki | None,
) -> str:
    doc = user_data_document(cfg, nodes, node, join, pki)
    return "#cloud-config\n" + yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, width=4096)
