"""The CPI's topology rules: systemUUID byte order, providerID, zone/region by the nearest tagged ancestor."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsphere_k8s.topology import (
    TopologyError,
    UuidError,
    bios_uuid_candidates,
    nearest_tag,
    placement_of,
    provider_id,
    swap_uuid_byte_order,
    uuid_from_provider_id,
)

# The pair the CPI documents: what Kubernetes reports and what vSphere calls the VM.
K8S = "56492e42-22ad-3911-6d72-59cc8f26bc90"
VMWARE = "422e4956-ad22-1139-6d72-59cc8f26bc90"


def test_system_uuid_converts_to_the_bios_uuid_as_the_cpi_does() -> None:
    assert swap_uuid_byte_order(K8S) == VMWARE
    assert swap_uuid_byte_order(VMWARE.upper()) == K8S


@given(st.uuids())
def test_the_swap_is_its_own_inverse_and_matches_little_endian_fields(value: uuid.UUID) -> None:
    text = str(value)
    assert swap_uuid_byte_order(swap_uuid_byte_order(text)) == text
    assert swap_uuid_byte_order(text) == str(uuid.UUID(bytes_le=value.bytes))


def test_candidates_try_the_cpi_conversion_first_then_as_reported() -> None:
    assert bios_uuid_candidates(K8S) == (VMWARE, K8S)
    palindrome = "11111111-2222-3333-4444-555555555555"
    assert bios_uuid_candidates(palindrome) == (palindrome,)


def test_provider_id_round_trip_and_errors() -> None:
    assert provider_id(VMWARE.upper()) == f"vsphere://{VMWARE}"
    assert uuid_from_provider_id(f"vsphere://{VMWARE.upper()}") == VMWARE
    with pytest.raises(UuidError, match=r"providerID 'aws:///i-1' does not start with vsphere://"):
        uuid_from_provider_id("aws:///i-1")
    with pytest.raises(UuidError, match=r"systemUUID 'not-a-uuid' is not a UUID"):
        bios_uuid_candidates("not-a-uuid")


HOST, CLUSTER, FOLDER, DC, ROOT = "host-1", "cluster-1", "group-h1", "dc-1", "group-d1"
CHAIN = [HOST, CLUSTER, FOLDER, DC, ROOT]  # nearest first, as the CPI walks the host's ancestors
NAMES = {HOST: "HostSystem esx-1", CLUSTER: "ClusterComputeResource c1", DC: "Datacenter dc"}


def test_the_nearest_tagged_ancestor_wins() -> None:
    zones = {CLUSTER: {"zone-a"}, DC: {"zone-dc"}}
    assert nearest_tag(CHAIN, zones, category="k8s-zone", subject="node n") == ("zone-a", CLUSTER)
    # A host-group zone: the host's own tag is nearer than its cluster's.
    zones[HOST] = {"zone-h"}
    assert nearest_tag(CHAIN, zones, category="k8s-zone", subject="node n") == ("zone-h", HOST)


def test_zone_and_region_may_come_from_different_ancestors() -> None:
    placed = placement_of(
        CHAIN,
        {CLUSTER: {"zone-a"}},
        {DC: {"region-1"}},
        zone_category="k8s-zone",
        region_category="k8s-region",
        subject="node n",
        describe=NAMES,
    )
    assert (placed.zone, placed.region, placed.zone_from, placed.region_from) == (
        "zone-a",
        "region-1",
        "ClusterComputeResource c1",
        "Datacenter dc",
    )


def test_no_tag_names_the_node_the_category_and_the_walk() -> None:
    with pytest.raises(TopologyError) as caught:
        nearest_tag(CHAIN, {}, category="k8s-zone", subject="node w-1", describe=NAMES)
    assert str(caught.value) == (
        "node w-1: no tag of category 'k8s-zone' on any ancestor "
        "(HostSystem esx-1, ClusterComputeResource c1, group-h1, Datacenter dc, group-d1)"
    )


def test_two_tags_on_the_nearest_object_is_an_error_not_a_choice() -> None:
    with pytest.raises(
        TopologyError,
        match=r"node w-1: ClusterComputeResource c1 carries 2 tags of category 'k8s-zone' \(zone-a, zone-b\)",
    ):
        nearest_tag(
            CHAIN,
            {CLUSTER: {"zone-b", "zone-a"}, DC: {"zone-x"}},
            category="k8s-zone",
            subject="node w-1",
            describe=NAMES,
        )
