"""ClusterVersion and ClusterAddons resources (mode bootstrap; see plan.py for why they exist)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .plan import ADDON_KEYS, VERSION_KEYS
from .provider import ClusterAddonsProvider, ClusterVersionProvider


def _secret_opts(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"]))


@dataclass
class ClusterVersionArgs:
    kubeconfig: pulumi.Input[str]
    kubernetes_version: str
    timeout_seconds: int = 900


class ClusterVersion(Resource, module="kubeadm", name="ClusterVersion"):
    """ClusterConfiguration's kubernetesVersion in kube-system/kubeadm-config, set to the control plane's."""

    recorded_version: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterVersionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            "kubernetes_version": args.kubernetes_version,
            "timeout_seconds": args.timeout_seconds,
            **dict.fromkeys(VERSION_KEYS.outputs),
        }
        super().__init__(ClusterVersionProvider(), name, props, _secret_opts(opts))


@dataclass
class ClusterAddonsArgs:
    kubeconfig: pulumi.Input[str]
    kubernetes_version: str
    coredns_version: str | None = None


class ClusterAddons(Resource, module="kubeadm", name="ClusterAddons"):
    """kubeadm's kube-proxy and CoreDNS on the control plane's release (what `kubeadm upgrade apply` moves)."""

    kube_proxy_image: pulumi.Output[str | None]
    coredns_image: pulumi.Output[str | None]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            "kubernetes_version": args.kubernetes_version,
            "coredns_version": args.coredns_version,
            **dict.fromkeys(ADDON_KEYS.outputs),
        }
        super().__init__(ClusterAddonsProvider(), name, props, _secret_opts(opts))
