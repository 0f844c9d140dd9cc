"""Explicit providers: one vSphere provider per vCenter, built from the stack's credentials."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pulumi_vsphere as vsphere

from vsphere_k8s.config import StackConfig
from vsphere_k8s.tls_trust import untrusted_ca_message


def _warn_if_untrusted(name: str, ca_pem: str, parent: pulumi.Resource) -> None:
    path = os.environ.get("SSL_CERT_FILE")
    try:
        bundle = Path(path).read_text() if path else None
    except OSError:
        bundle = None
    message = untrusted_ca_message(name, ca_pem, path, bundle)
    if message:
        pulumi.log.warn(message, resource=parent)


def vsphere_providers(cfg: StackConfig, parent: pulumi.Resource) -> dict[str, vsphere.Provider]:
    providers = {}
    for vc in cfg.vcenters:
        if vc.tls.ca_cert is not None and not vc.tls.insecure:
            _warn_if_untrusted(vc.name, vc.tls.ca_cert, parent)
        cred = cfg.credentials[vc.name].program
        providers[vc.name] = vsphere.Provider(
            f"{cfg.cluster.name}-vsphere-{vc.name}",
            vsphere_server=vc.server if vc.port == 443 else f"{vc.server}:{vc.port}",
            user=pulumi.Output.secret(cred.username),
            password=pulumi.Output.secret(cred.password.get_secret_value()),
            # Only with an explicit, policy-checked opt-in (tls.insecure). A custom CA
            # must be trusted by the machine running Pulumi (SSL_CERT_FILE): warned above.
            allow_unverified_ssl=vc.tls.insecure,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return providers
