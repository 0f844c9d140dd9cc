"""What this project's dynamic providers answer after a clean create.

NodeBinding (providers/node_binding) bound to the VM the stack created; TagAttachment
(providers/tag_attachment) with every target attached and owned.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import mocks as pmocks

from vsphere_k8s.topology.labels import topology_labels
from vsphere_k8s.topology.uuids import PROVIDER_PREFIX

from .ids import stable_id
from .recording import unwrap_secrets


def node_binding(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    def arg(key: str) -> Any:
        return unwrap_secrets(args.inputs.get(key))[0]

    zone, region, mode = arg("expected_zone"), arg("expected_region"), arg("mode")
    labels = topology_labels(zone, region)
    return {
        "__id": f"{arg('server')}/{arg('node_name')}",
        "bound_vm": arg("vm_moid"),
        "bound_vm_name": arg("node_name"),
        "provider_id": PROVIDER_PREFIX + str(arg("vm_uuid")).lower(),
        "zone": zone,
        "region": region,
        "labels": labels,
        "owned_labels": labels if mode == "enforce" else {},
        "drift": [],
    }


def tag_attachment(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    from providers.tag_attachment.plan import TargetSpec

    keys = sorted(TargetSpec.model_validate(unwrap_secrets(t)[0]).key for t in args.inputs.get("targets") or [])
    server = str(unwrap_secrets(args.inputs.get("server"))[0])
    return {
        "__id": f"{server}:{unwrap_secrets(args.inputs.get('port'))[0]}/{unwrap_secrets(args.inputs.get('tag_id'))[0]}",
        "resolved": {k: f"{k.split(':', 1)[0].lower()}-{stable_id(server, k)}" for k in keys},
        "attached": keys,
        "owned": keys,
        "conflicts": {},
    }
