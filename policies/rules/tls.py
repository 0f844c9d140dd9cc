"""TLS: vCenter's certificate is verified everywhere the stack talks to vCenter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import facts
from ..facts import CONFIG_MAP, SECRET, VSPHERE_PROVIDER
from ..view import ResourceView, is_true


def tls_verified(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """vCenter's certificate is verified, except on stacks the pack config names.

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
            for vc in csi.insecure_vcenters():
                problems.append(f'csi-vsphere.conf [VirtualCenter "{vc}"] sets insecure-flag on {where}')
    return problems
