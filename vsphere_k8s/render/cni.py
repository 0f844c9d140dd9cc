"""Shell steps that install the pod network on the init node once its API server answers.

The CNI goes in by cloud-init rather than as Pulumi resources: nodes stay NotReady
and CoreDNS Pending until it exists, it needs nothing from Pulumi state, and its
upstream manifests (thousands of lines of CRDs) are pinned by version, not vendored.
"""

from __future__ import annotations

from .. import versions
from ..config import Cni

KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"


def cni_steps(cni: Cni) -> list[str]:
    if cni.name == "none":
        return ["echo 'CNI: none configured; install one before workloads run'"]
    if cni.name == "calico":
        # Server-side apply: Calico's CRDs exceed the client-side last-applied annotation limit.
        # Calico reads the pod CIDR from kubeadm's ClusterConfiguration.
        url = versions.calico_manifest_url(cni.version)
        return [f"retry 30 10 {KUBECTL} apply --server-side --force-conflicts -f {url}"]
    # cilium: its CLI renders and installs the Helm chart of the pinned version.
    url = versions.cilium_cli_url()
    release = cni.version.removeprefix("v")
    return [
        f"retry 10 10 curl -fsSLo /tmp/cilium.tgz {url}",
        f"retry 10 10 curl -fsSLo /tmp/cilium.tgz.sha256sum {url}.sha256sum",
        "(cd /tmp && sed 's#cilium-linux-.*#cilium.tgz#' cilium.tgz.sha256sum | sha256sum -c -)",
        "tar -xzf /tmp/cilium.tgz -C /usr/local/bin cilium",
        f"retry 10 10 env KUBECONFIG=/etc/kubernetes/admin.conf cilium install --version {release}"
        " --set ipam.mode=kubernetes",
    ]
