"""Zones and regions in vCenter: tag categories, one tag per region and zone, and their attachments.

The CPI finds a node's zone by walking the ancestors of its host (then of its
resource pool, then of the VM), taking the zone and region tags it meets until
it has both, so the tags must sit on the datacenters, clusters and hosts named
in config (``vsphere_k8s/plan/cpi_layout.py`` checks the layout beforehand). Those objects belong to the
vCenter, not to this stack: a TagAttachment dynamic resource puts the tags on
them and takes away only what it put there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_vsphere as vsphere

from providers.tag_attachment.resource import TagAttachment, TagAttachmentArgs
from vsphere_k8s.config import StackConfig
from vsphere_k8s.plan.placement import TagPlacement, TagTarget, tag_placements
from vsphere_k8s.topology import labels

# What the categories may be attached to: the ancestors the CPI and CSI walk
# (host, cluster, datacenter, folders) and the node VMs themselves.
ASSOCIABLE_TYPES = ("Datacenter", "ClusterComputeResource", "HostSystem", "Folder", "VirtualMachine")
# One zone (region) per object: with two, the CPI keeps whichever the tagging API lists last.
CARDINALITY = "SINGLE"

Kind = Literal["region", "zone"]


@dataclass
class TopologyArgs:
    config: StackConfig
    providers: Mapping[str, vsphere.Provider]  # vCenter name -> provider
    placements: list[TagPlacement] = field(default_factory=list)  # default: derived from config


def _target_props(target: TagTarget) -> dict[str, str]:
    props = {"type": target.type, "datacenter": target.datacenter, "name": target.name}
    if target.cluster is not None:
        props["cluster"] = target.cluster
    return props


class Topology(pulumi.ComponentResource):
    """Tag categories per vCenter, a tag per region and zone, and the TagAttachments that place them."""

    category_ids: dict[tuple[str, Kind], pulumi.Output[str]]  # (vCenter, kind) -> category id
    region_tags: dict[str, pulumi.Output[str]]  # region -> tag id
    zone_tags: dict[str, pulumi.Output[str]]  # zone -> tag id
    tags_in: dict[tuple[str, Kind, str], pulumi.Output[str]]  # (vCenter, kind, name) -> that vCenter's tag id
    attachments: dict[str, TagAttachment]  # placement key ("zone-<name>") -> attachment

    def __init__(self, name: str, args: TopologyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:vsphere:Topology", name, None, opts)
        cfg = args.config
        topo = cfg.topology
        self.category_ids = {}
        self.region_tags = {}
        self.zone_tags = {}
        self.tags_in = {}
        self.attachments = {}
        placements = args.placements or tag_placements(cfg)
        category_names: dict[Kind, str] = {"region": topo.region_category, "zone": topo.zone_category}
        for vc in sorted({p.vcenter for p in placements}):
            for kind in ("region", "zone"):
                self.category_ids[(vc, kind)] = self._category(name, vc, kind, category_names[kind], args)
        for placement in placements:
            tag_id = self._tag(name, placement, args)
            # The home vCenter's tag comes first; a region spanning vCenters has one more per other vCenter.
            (self.region_tags if placement.kind == "region" else self.zone_tags).setdefault(placement.tag, tag_id)
            self.tags_in[(placement.vcenter, placement.kind, placement.tag)] = tag_id
            if topo.attach_tags:
                self.attachments[placement.key] = self._attachment(name, placement, tag_id, args)
        self.register_outputs(
            {
                "categoryIds": {f"{vc}/{kind}": cid for (vc, kind), cid in self.category_ids.items()},
                "regionTagIds": dict(self.region_tags),
                "zoneTagIds": dict(self.zone_tags),
                "attached": {key: a.attached for key, a in self.attachments.items()},
            }
        )

    def _category(self, name: str, vc: str, kind: Kind, category: str, args: TopologyArgs) -> pulumi.Output[str]:
        provider = args.providers[vc]
        if args.config.topology.tags == "existing":
            found = vsphere.get_tag_category_output(
                name=category, opts=pulumi.InvokeOutputOptions(provider=provider, parent=self)
            )
            return found.id
        resource = vsphere.TagCategory(
            f"{name}-{kind}-category-{vc}",
            name=category,
            description=f"Kubernetes {kind} ({labels.ZONE if kind == 'zone' else labels.REGION}) for the CPI and CSI",
            cardinality=CARDINALITY,
            associable_types=list(ASSOCIABLE_TYPES),
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return resource.id

    def _tag(self, name: str, placement: TagPlacement, args: TopologyArgs) -> pulumi.Output[str]:
        provider = args.providers[placement.vcenter]
        category_id = self.category_ids[(placement.vcenter, placement.kind)]
        if args.config.topology.tags == "existing":
            return vsphere.get_tag_output(
                name=placement.tag,
                category_id=category_id,
                opts=pulumi.InvokeOutputOptions(provider=provider, parent=self),
            ).id
        tag = vsphere.Tag(
            f"{name}-{placement.key}",
            name=placement.tag,
            category_id=category_id,
            description=f"Kubernetes {placement.kind} {placement.tag} (cluster {args.config.cluster.name})",
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return tag.id

    def _attachment(
        self, name: str, placement: TagPlacement, tag_id: pulumi.Output[str], args: TopologyArgs
    ) -> TagAttachment:
        cfg = args.config
        vc = cfg.vcenter(placement.vcenter)
        credential = cfg.credentials[vc.name].program
        return TagAttachment(
            f"{name}-attach-{placement.key}",
            TagAttachmentArgs(
                server=vc.server,
                port=vc.port,
                username=pulumi.Output.secret(credential.username),
                password=pulumi.Output.secret(credential.password.get_secret_value()),
                tag_id=tag_id,
                category_id=self.category_ids[(placement.vcenter, placement.kind)],
                targets=[_target_props(t) for t in placement.targets],
                insecure=vc.tls.insecure,
                thumbprint=vc.tls.thumbprint,
                ca_cert=vc.tls.ca_cert,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
