"""Kubernetes node software: where it comes from and which versions go together.

Only what the nodes install lives here (the pkgs.k8s.io apt repository, containerd,
kube-vip, the CNI installers); the CPI and CSI images are pinned in
:mod:`vsphere_k8s.manifests.images`.
"""

from __future__ import annotations

# Minors this program bootstraps: those with a pinned CPI release (1.29+), each with
# its own pkgs.k8s.io apt repository.
MIN_MINOR = 29
MAX_MINOR = 36

# kubeadm 1.31 introduced v1beta4 (extraArgs as lists of {name, value});
# v1beta3 is what 1.22-1.30 read.
V1BETA4_SINCE_MINOR = 31
# Kubernetes' version skew policy (1.28+): a kubelet may be up to three minors older than the
# API server, never newer; the control plane moves one minor per upgrade.
KUBELET_MAX_MINORS_BEHIND = 3
CONTROL_PLANE_MINORS_PER_UPGRADE = 1

# kubeadm 1.29 split admin.conf (now RBAC-bound) from super-admin.conf (system:masters).
SUPER_ADMIN_SINCE_MINOR = 29

KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v0.8.9"
# Ubuntu's own containerd package: no extra repository to trust, security updates from the distro.
CONTAINERD_PACKAGE = "containerd"
CONTAINERD_SOCKET = "unix:///var/run/containerd/containerd.sock"
CILIUM_CLI_VERSION = "v0.16.22"


def kubeadm_api_version(minor: int) -> str:
    return "kubeadm.k8s.io/v1beta4" if minor >= V1BETA4_SINCE_MINOR else "kubeadm.k8s.io/v1beta3"


def apt_repository(minor: int) -> str:
    return f"https://pkgs.k8s.io/core:/stable:/v1.{minor}/deb/"


def deb_version(version: str) -> str:
    """The Debian package version pkgs.k8s.io publishes for a release (1.31.4 -> 1.31.4-1.1)."""
    return f"{version.removeprefix('v')}-1.1"


def minor_of(version: str) -> int:
    return int(version.removeprefix("v").split(".")[1])


def calico_manifest_url(version: str) -> str:
    return f"https://raw.githubusercontent.com/projectcalico/calico/{version}/manifests/calico.yaml"


def cilium_cli_url(arch: str = "amd64") -> str:
    base = f"https://github.com/cilium/cilium-cli/releases/download/{CILIUM_CLI_VERSION}"
    return f"{base}/cilium-linux-{arch}.tar.gz"


# The CoreDNS release kubeadm of each minor deploys (`CoreDNSVersion` in kubeadm's constants at
# v1.29.0, v1.30.0, v1.31.0, v1.32.0, v1.33.0, v1.34.4, v1.35.4, v1.36.3): what `kubeadm upgrade
# apply` of that minor would move a cluster's CoreDNS to. (kubeadm's default Corefile is the same
# text from 1.32 on; 1.32 added a cache rule that older Corefiles simply lack.)
COREDNS: dict[int, str] = {
    29: "v1.11.1",
    30: "v1.11.1",
    31: "v1.11.1",
    32: "v1.11.3",
    33: "v1.12.0",
    34: "v1.12.1",
    35: "v1.13.1",
    36: "v1.14.2",
}
