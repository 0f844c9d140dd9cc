"""Access to the cluster: the admin kubeconfig, a Kubernetes provider on it, and readiness.

Everything Kubernetes depends on ``ready``: the API server has answered /readyz
over TLS trusted through the cluster CA, within ``kubernetes.apiReadyTimeoutSeconds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from providers.readiness.resource import ApiServerReady
from vsphere_k8s.config import StackConfig
from vsphere_k8s.render.kubeconfig import endpoint_of, render_kubeconfig

from .pki import Pki


@dataclass
class KubeAccessArgs:
    config: StackConfig
    pki: Pki | None = None  # mode bootstrap: the cluster PKI (Bootstrap.pki)
    endpoint: str | None = None  # mode bootstrap: "host:port" (Bootstrap.endpoint)
    # What must exist before the wait starts (the node VMs), so the timeout counts boot time only.
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


class KubeAccess(pulumi.ComponentResource):
    def __init__(self, name: str, args: KubeAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:kubernetes:KubeAccess", name, None, opts)
        cfg = args.config
        k8s_cfg = cfg.kubernetes
        wait_opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        if k8s_cfg.mode == "existing":
            if k8s_cfg.kubeconfig is None:
                raise ValueError("kubernetes.kubeconfig is required with mode: existing")
            text = k8s_cfg.kubeconfig.get_secret_value()
            public = endpoint_of(text)  # raises KubeconfigError naming what is missing
            self.server = public.server
            self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(text)
            self.ready: pulumi.Resource = ApiServerReady(
                f"{name}-api-ready",
                public.server,
                public.ca_cert_pem,
                k8s_cfg.api_ready_timeout_seconds,
                insecure=public.insecure,
                opts=wait_opts,
            )
        else:
            if args.pki is None or args.endpoint is None:
                raise ValueError("KubeAccess in mode bootstrap needs the cluster PKI and endpoint (from Bootstrap)")
            pki = args.pki
            self.server = f"https://{args.endpoint}"
            self.kubeconfig = pulumi.Output.secret(
                pulumi.Output.all(pki.ca.cert_pem, pki.admin_cert_pem, pki.admin_key_pem).apply(
                    lambda p: render_kubeconfig(
                        cfg.cluster.name, self.server, ca_cert_pem=p[0], client_cert_pem=p[1], client_key_pem=p[2]
                    )
                )
            )
            self.ready = ApiServerReady(
                f"{name}-api-ready", self.server, pki.ca.cert_pem, k8s_cfg.api_ready_timeout_seconds, opts=wait_opts
            )
        self.provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ready]),
        )
        self.register_outputs({"server": self.server, "kubeconfig": self.kubeconfig})
