"""Explicit providers: one vSphere provider per vCenter, built from the stack's credentials."""

from __future__ import annotations

import pulumi
import pulumi_vsphere as vsphere

from vsphere_k8s.config import StackConfig


def vsphere_providers(cfg: StackConfig, parent: pulumi.Resource) -> dict[str, vsphere.Provider]:
    providers = {}
    for vc in cfg.vcenters:
        cred = cfg.credentials[vc.name].program
        providers[vc.name] = vsphere.Provider(
            f"{cfg.cluster.name}-vsphere-{vc.name}",
            vsphere_server=vc.server if vc.port == 443 else f"{vc.server}:{vc.port}",
            user=pulumi.Output.secret(cred.username),
            password=pulumi.Output.secret(cred.password.get_secret_value()),
            # Only with an explicit, policy-checked opt-in (tls.insecure). A custom CA
            # must be trusted by the machine running Pulumi (SSL_CERT_FILE).
            allow_unverified_ssl=vc.tls.insecure,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return providers
