"""The kube-vip static pod that holds the control-plane virtual IP (ARP, leader election)."""

from __future__ import annotations

from typing import Any

from .. import versions

ADMIN_CONF = "/etc/kubernetes/admin.conf"
# kubeadm >= 1.29 binds admin.conf through RBAC that only exists once init has
# run; until then only super-admin.conf (system:masters) can take kube-vip's lease.
SUPER_ADMIN_CONF = "/etc/kubernetes/super-admin.conf"
MANIFEST_PATH = "/etc/kubernetes/manifests/kube-vip.yaml"
INTERFACE_PLACEHOLDER = "@VIP_INTERFACE@"


def kubeconfig_for(minor: int, init_node: bool) -> str:
    return SUPER_ADMIN_CONF if init_node and minor >= versions.SUPER_ADMIN_SINCE_MINOR else ADMIN_CONF


def kube_vip_pod(
    vip: str,
    port: int,
    kubeconfig: str,
    interface: str | None = None,
    image: str = versions.KUBE_VIP_IMAGE,
) -> dict[str, Any]:
    """The static pod. Without ``interface`` the bootstrap script fills in the one routing to the VIP."""
    env = {
        "address": vip,
        "port": str(port),
        "vip_interface": interface or INTERFACE_PLACEHOLDER,
        "vip_arp": "true",
        "cp_enable": "true",
        "cp_namespace": "kube-system",
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "vip_leaseduration": "5",
        "vip_renewdeadline": "3",
        "vip_retryperiod": "1",
        "svc_enable": "false",  # Services of type LoadBalancer are the CPI's (NSX-T) business
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "kube-vip"}},
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            # kube-vip reaches the local API server as "kubernetes" (a SAN of the
            # apiserver certificate) before the VIP exists.
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "containers": [
                {
                    "name": "kube-vip",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["manager"],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}},
                    "volumeMounts": [{"name": "kubeconfig", "mountPath": ADMIN_CONF, "readOnly": True}],
                }
            ],
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "File"}}],
        },
    }
