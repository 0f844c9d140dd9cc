"""Topology under Pulumi mocks (the real program), its placement plan, and the TagAttachment provider's pickling."""

from __future__ import annotations

import base64
import copy
from collections import Counter
from typing import Any

import dill
from pulumi.dynamic.dynamic import serialize_provider

from offline.ids import stable_uuid
from offline.program import PLACEHOLDER_PASSWORD, PLACEHOLDER_USER, OfflineRun, offline_config, run_program
from offline.recording import Registration
from providers.tag_attachment.provider import TagAttachmentProvider
from vsphere_k8s.loader import load
from vsphere_k8s.plan.placement import TagTarget, tag_placements

CATEGORY = "vsphere:index/tagCategory:TagCategory"
TAG = "vsphere:index/tag:Tag"
ATTACHMENT = "pulumi-python:dynamic/vsphere:TagAttachment"
TOPOLOGY = "vsphere-k8s:vsphere:Topology"


def _topology(run: OfflineRun) -> Registration:
    (topology,) = run.recording.of_type(TOPOLOGY)
    return topology


def test_categories_are_single_cardinality_with_the_types_cpi_and_csi_walk(sim: OfflineRun) -> None:
    categories = {c.inputs["name"]: c for c in sim.recording.of_type(CATEGORY)}
    assert set(categories) == {"k8s-region", "k8s-zone"}
    (provider,) = sim.recording.of_type("pulumi:providers:vsphere")
    for category in categories.values():
        assert category.inputs["cardinality"] == "SINGLE"
        assert {"Datacenter", "ClusterComputeResource", "HostSystem", "VirtualMachine"} <= set(
            category.inputs["associableTypes"]
        )
        assert category.parent == _topology(sim).urn
        assert category.provider.startswith(provider.urn)


def test_one_tag_per_region_and_zone_in_its_category(sim: OfflineRun) -> None:
    # The id the mocked provider gives each category (offline/vsphere_fakes.py), keyed by the category's name.
    categories = {
        c.inputs["name"]: f"urn:vmomi:InventoryServiceCategory:{stable_uuid('cat', c.name)}:GLOBAL"
        for c in sim.recording.of_type(CATEGORY)
    }
    tags = {t.inputs["name"]: t for t in sim.recording.of_type(TAG)}
    assert set(tags) == {"sim-region", "sim-a", "sim-b", "sim-c"}
    assert tags["sim-region"].inputs["categoryId"] == categories["k8s-region"]
    for zone in ("sim-a", "sim-b", "sim-c"):
        assert tags[zone].inputs["categoryId"] == categories["k8s-zone"]
    assert [t.name for t in tags.values()].count("sim-topology-zone-sim-a") == 1


def test_attachments_put_each_tag_on_the_configured_objects(sim: OfflineRun) -> None:
    tags = {t.name: t for t in sim.recording.of_type(TAG)}
    attachments = {a.name: a for a in sim.recording.of_type(ATTACHMENT)}
    assert set(attachments) == {
        "sim-topology-attach-region-sim-region",
        "sim-topology-attach-zone-sim-a",
        "sim-topology-attach-zone-sim-b",
        "sim-topology-attach-zone-sim-c",
    }
    region = attachments["sim-topology-attach-region-sim-region"]
    assert region.inputs["targets"] == [{"type": "Datacenter", "datacenter": "DC0", "name": "DC0"}]
    zone_b = attachments["sim-topology-attach-zone-sim-b"]
    assert zone_b.inputs["targets"] == [{"type": "ClusterComputeResource", "datacenter": "DC0", "name": "DC0_C1"}]
    assert tags["sim-topology-zone-sim-b"].urn in zone_b.dependencies  # the tag id is the Tag's output
    assert (zone_b.inputs["server"], zone_b.inputs["port"], zone_b.inputs["insecure"]) == ("127.0.0.1", 8989, True)
    assert zone_b.outputs["attached"] == ["ClusterComputeResource:DC0/DC0_C1"]
    assert zone_b.parent == _topology(sim).urn


def test_attachment_credentials_are_secret_in_and_out(sim: OfflineRun) -> None:
    for attachment in sim.recording.of_type(ATTACHMENT):
        assert {"username", "password"} <= attachment.secret_inputs
        assert {"username", "password"} <= set(attachment.additional_secret_outputs)
        assert "__provider" in attachment.secret_inputs


def test_serialized_provider_holds_no_credential_and_unpickles(sim: OfflineRun) -> None:
    """Pulumi stores the provider dill-pickled in state: it must carry no client or credential."""
    for attachment in sim.recording.of_type(ATTACHMENT):
        blob = base64.b64decode(attachment.inputs["__provider"])
        assert PLACEHOLDER_PASSWORD.encode() not in blob
        assert PLACEHOLDER_USER.encode() not in blob
        assert isinstance(dill.loads(blob), TagAttachmentProvider)  # noqa: S301 - our own bytes, as Pulumi does
    fresh = base64.b64decode(serialize_provider(TagAttachmentProvider()))
    assert len(fresh) < 2000  # a reference to the class, not a captured module or connection
    assert vars(dill.loads(fresh)) == {}  # noqa: S301


def test_component_outputs_are_the_real_ids(sim: OfflineRun) -> None:
    outputs = _topology(sim).component_outputs
    tags = {t.inputs["name"]: t for t in sim.recording.of_type(TAG)}
    assert set(outputs["zoneTagIds"]) == {"sim-a", "sim-b", "sim-c"}
    assert outputs["zoneTagIds"]["sim-a"].startswith("urn:vmomi:InventoryServiceTag:")
    assert len(set(outputs["zoneTagIds"].values())) == 3
    assert outputs["attached"]["zone-sim-c"] == ["ClusterComputeResource:DC0/DC0_C2"]
    assert set(tags) == set(outputs["zoneTagIds"]) | set(outputs["regionTagIds"])


def test_every_urn_is_unique(sim: OfflineRun) -> None:
    counts = Counter(r.urn for r in sim.recording.registrations.values())
    assert [u for u, n in counts.items() if n > 1] == []
    assert len(sim.recording.registrations) == len({(r.type, r.name) for r in sim.recording.registrations.values()})


def _mutated(**changes: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(offline_config("sim"))
    topo = cfg["topology"]
    for key, value in changes.items():
        topo[key] = value
    return cfg


def test_existing_tags_are_looked_up_not_created() -> None:
    run = run_program(_mutated(tags="existing"), stack="sim")
    assert run.recording.of_type(CATEGORY) == []
    assert run.recording.of_type(TAG) == []
    looked_up = Counter(token.rsplit(":", 1)[-1] for token, _ in run.recording.invokes)
    assert looked_up["getTagCategory"] == 2
    assert looked_up["getTag"] == 4
    assert len(run.recording.of_type(ATTACHMENT)) == 4


def test_attachments_can_be_turned_off() -> None:
    run = run_program(_mutated(attachTags=False), stack="sim")
    assert run.recording.of_type(ATTACHMENT) == []
    assert len(run.recording.of_type(TAG)) == 4


# --------------------------------------------------------------------------- placement plan (pure)


def _two_regions_one_dc() -> dict[str, Any]:
    cfg = copy.deepcopy(offline_config("sim"))
    cfg["topology"]["regions"].append({"name": "other-region"})
    cfg["topology"]["zones"][2]["region"] = "other-region"
    return cfg


def test_region_tag_moves_down_when_a_datacenter_holds_two_regions() -> None:
    placements = {p.key: p for p in tag_placements(load(_two_regions_one_dc(), stack="sim"))}
    assert placements["region-sim-region"].targets == (
        TagTarget("ClusterComputeResource", "DC0", "DC0_C0"),
        TagTarget("ClusterComputeResource", "DC0", "DC0_C1"),
    )
    assert placements["region-other-region"].targets == (TagTarget("ClusterComputeResource", "DC0", "DC0_C2"),)


def test_host_group_zone_is_tagged_on_its_hosts() -> None:
    cfg = copy.deepcopy(offline_config("sim"))
    cfg["topology"]["zones"][0]["hosts"] = ["DC0_C0_H1", "DC0_C0_H0"]
    placements = {p.key: p for p in tag_placements(load(cfg, stack="sim"))}
    assert placements["zone-sim-a"].targets == (
        TagTarget("HostSystem", "DC0", "DC0_C0_H0", "DC0_C0"),
        TagTarget("HostSystem", "DC0", "DC0_C0_H1", "DC0_C0"),
    )
    assert placements["region-sim-region"].targets == (TagTarget("Datacenter", "DC0", "DC0"),)
    run = run_program(cfg, stack="sim")
    attachment = run.recording.by_name("sim-topology-attach-zone-sim-a")
    assert [t["name"] for t in attachment.inputs["targets"]] == ["DC0_C0_H0", "DC0_C0_H1"]
    assert all(t["cluster"] == "DC0_C0" for t in attachment.inputs["targets"])


def test_prod_tags_each_vcenter_with_its_own_categories(prod: OfflineRun) -> None:
    providers = {p.urn for p in prod.recording.of_type("pulumi:providers:vsphere")}
    categories = prod.recording.of_type(CATEGORY)
    assert len(categories) == 2 * len(providers)
    assert {c.provider.rsplit("::", 1)[0] for c in categories} == {p for p in providers}
    for attachment in prod.recording.of_type(ATTACHMENT):
        assert attachment.inputs["insecure"] is False
