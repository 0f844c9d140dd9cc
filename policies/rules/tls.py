"""TLS: nothing the stack deploys switches vCenter certificate verification off.

What each side then verifies (the pack sees only the switches, not the trust anchors): the
vSphere provider plugin has no CA or thumbprint input, so it verifies with the trust store of
the machine running Pulumi (SSL_CERT_FILE or the system store); the program's dynamic
resources verify the stack's ``tls.caCert`` and pin its ``tls.thumbprint``; the CPI and the
CSI verify the caFile/thumbprint of their own configs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import facts
from ..facts import CONFIG_MAP, SECRET, VSPHERE_PROVIDER
from ..view import ResourceView, is_true


def tls_verified(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """No opt-out of vCenter certificate verification, except on stacks the pack config names.

    The environment is the stack name in the URN, not anything the program
    declares: a change under review cannot relabel prod as a sandbox.
    """
    allowed = [str(s) for s in config.get("allowInsecureStacks", ["sim"])]
    if resource.stack in allowed:
        return []
    where = f"stack {resource.stack!r} (insecure TLS is allowed only on: {', '.join(allowed) or 'none'})"
    problems = []
    if resource.type == VSPHERE_PROVIDER and is_true(resource.prop("allowUnverifiedSsl")):
        problems.append(f"the vSphere provider sets allowUnverifiedSsl on {where}; trust vCenter's CA instead")
    if resource.type.startswith("pulumi-python:dynamic/") and is_true(resource.prop("insecure")):
        problems.append(f"this dynamic resource talks to vCenter with TLS verification off on {where}")
    if resource.type in (CONFIG_MAP, SECRET):
        for cpi in facts.cpi_configs([resource]):
            for entry in cpi.insecure_entries():
                problems.append(f"vsphere.conf ({entry}) sets insecureFlag on {where}; set caFile or thumbprint")
        for csi in facts.csi_configs([resource]):
            if csi.global_insecure:
                problems.append(
                    f"csi-vsphere.conf [Global] sets insecure-flag, which every VirtualCenter section "
                    f"inherits, on {where}"
                )
            for vc in csi.insecure_vcenters():
                problems.append(f'csi-vsphere.conf [VirtualCenter "{vc}"] sets insecure-flag on {where}')
    return problems
