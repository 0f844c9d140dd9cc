"""NodeBinding alone: a minimal Pulumi program of one ``enforce``-mode NodeBinding per node.

Copied as the ``__main__.py`` of a project copy, with ``bindings.json`` beside it (written by
``benchmarks.cpi_race``): the vCenter's address and datacenters, the categories, ``hosts`` (how many dynamic-provider
hosts to spread the bindings over) and, per node, its name, VM BIOS UUID and moid, zone and region.
The vCenter account and the kubeconfig are the stack's secret config (``vcUser``, ``vcPassword``,
``kubeconfig``). With ``hosts`` > 1 the bindings go round-robin to explicit ``pulumi-python``
providers, each of which the engine serves from a dynamic-provider host process of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def bindings(spec: dict[str, Any]) -> list[Any]:
    import pulumi

    from providers.node_binding.resource import NodeBinding, NodeBindingArgs

    config = pulumi.Config()
    user, password = config.require_secret("vcUser"), config.require_secret("vcPassword")
    kubeconfig = config.require_secret("kubeconfig")
    hosts = [pulumi.ProviderResource("pulumi-python", f"host-{k}", {}) for k in range(max(1, spec["hosts"]))]
    made = []
    for i, node in enumerate(spec["nodes"]):
        args = NodeBindingArgs(
            node_name=node["name"],
            server=spec["server"],
            port=spec["port"],
            username=user,
            password=password,
            kubeconfig=kubeconfig,
            zone_category=spec["zone_category"],
            region_category=spec["region_category"],
            insecure=True,
            vm_uuid=node["vm_uuid"],
            vm_moid=node["vm_moid"],
            expected_zone=node["zone"],
            expected_region=node["region"],
            datacenters=spec["datacenters"],
            mode="enforce",
            timeout_seconds=spec["timeout_seconds"],
        )
        provider = hosts[i % len(hosts)] if spec["hosts"] > 1 else None
        made.append(NodeBinding(f"bind-{node['name']}", args, pulumi.ResourceOptions(provider=provider)))
    return made


if __name__ == "__main__":
    bindings(json.loads((Path(__file__).resolve().parent / "bindings.json").read_text()))
