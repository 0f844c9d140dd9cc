"""Topology rules shared with the CPI: UUID byte order, providerID, nearest tagged ancestor."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsphere_k8s.topology import (
    Ancestor,
    InvalidUuidError,
    TopologyError,
    nearest_tag,
    normalize_uuid,
    placement,
    provider_id,
    swap_system_uuid,
    uuid_candidates,
    uuid_from_provider_id,
)

# The pair the CPI documents: what a Linux node reports and the VM's BIOS UUID.
SYSTEM = "56492e42-22ad-3911-6d72-59cc8f26bc90"
BIOS = "422e4956-ad22-1139-6d72-59cc8f26bc90"


def test_system_uuid_converts_to_bios_uuid_as_the_cpi_does() -> None:
    assert swap_system_uuid(SYSTEM) == BIOS
    assert swap_system_uuid(BIOS) == SYSTEM
    assert swap_system_uuid(SYSTEM.upper()) == BIOS  # case does not matter, the result is lowercase


def test_conversion_is_the_little_endian_reading_of_the_first_three_fields() -> None:
    # Independent oracle: Python's uuid module reads bytes_le the way SMBIOS 2.6+ stores them.
    assert swap_system_uuid(SYSTEM) == str(uuid.UUID(bytes_le=uuid.UUID(SYSTEM).bytes))


@given(st.uuids())
def test_conversion_matches_bytes_le_and_is_an_involution(value: uuid.UUID) -> None:
    text = str(value)
    assert swap_system_uuid(text) == str(uuid.UUID(bytes_le=value.bytes))
    assert swap_system_uuid(swap_system_uuid(text)) == text
    assert swap_system_uuid(text)[19:] == text[19:]  # the last two groups never move


def test_candidates_are_the_reported_uuid_then_the_swapped_one() -> None:
    assert uuid_candidates(SYSTEM) == (SYSTEM, BIOS)
    palindrome = "11111111-2222-3333-4444-555555555555"
    assert uuid_candidates(palindrome) == (palindrome,)


@pytest.mark.parametrize(
    "bad", ["", "not-a-uuid", "422e4956ad221139" + "6d7259cc8f26bc90", BIOS + "0", BIOS[:-1] + "g"]
)
def test_malformed_uuids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidUuidError):
        normalize_uuid(bad)


def test_provider_id_round_trip() -> None:
    assert provider_id(BIOS.upper()) == f"vsphere://{BIOS}"
    assert uuid_from_provider_id(f"vsphere://{BIOS.upper()} ") == BIOS
    assert uuid_from_provider_id("") is None
    with pytest.raises(InvalidUuidError, match="not a vSphere providerID"):
        uuid_from_provider_id("aws:///eu-west-1a/i-0123")
    with pytest.raises(InvalidUuidError):
        uuid_from_provider_id("vsphere://nope")


HOST = Ancestor("HostSystem:host-21", "DC0_C0_H0")
CLUSTER = Ancestor("ClusterComputeResource:domain-c7", "DC0_C0", {"k8s-zone": ("zone-a",)})
HOST_FOLDER = Ancestor("Folder:group-h4", "host")
DC = Ancestor("Datacenter:datacenter-2", "DC0", {"k8s-region": ("region-1",)})
ROOT = Ancestor("Folder:group-d1", "Datacenters")


def test_zone_and_region_come_from_the_nearest_tagged_ancestors() -> None:
    where = placement("vm-1", [HOST, CLUSTER, HOST_FOLDER, DC, ROOT], "k8s-zone", "k8s-region")
    assert (where.zone.tag, where.zone.ref, where.zone.name) == ("zone-a", CLUSTER.ref, "DC0_C0")
    assert (where.region.tag, where.region.ref) == ("region-1", DC.ref)


def test_a_host_tag_wins_over_its_cluster_tag() -> None:
    host = Ancestor(HOST.ref, HOST.name, {"k8s-zone": ("zone-h",)})
    assert nearest_tag("vm-1", [host, CLUSTER, DC], "k8s-zone").tag == "zone-h"


def test_tags_of_other_categories_do_not_count() -> None:
    host = Ancestor(HOST.ref, HOST.name, {"backup": ("gold",)})
    assert nearest_tag("vm-1", [host, CLUSTER], "k8s-zone").ref == CLUSTER.ref


def test_no_tag_names_the_vm_the_category_and_the_path() -> None:
    with pytest.raises(TopologyError) as caught:
        nearest_tag("node-vm-3", [HOST, HOST_FOLDER, ROOT], "k8s-zone")
    assert str(caught.value) == (
        "VM 'node-vm-3': no object above it carries a tag of category 'k8s-zone' "
        "(searched DC0_C0_H0 -> host -> Datacenters)"
    )


def test_two_tags_of_one_category_on_the_nearest_tagged_object_is_an_error() -> None:
    cluster = Ancestor(CLUSTER.ref, CLUSTER.name, {"k8s-zone": ("zone-b", "zone-a")})
    with pytest.raises(TopologyError) as caught:
        nearest_tag("vm-1", [HOST, cluster, DC], "k8s-zone")
    assert "ClusterComputeResource 'DC0_C0' carries 2 tags of category 'k8s-zone' (zone-a, zone-b)" in str(caught.value)


def test_two_tags_further_up_do_not_matter_once_a_nearer_object_has_one() -> None:
    dc = Ancestor(DC.ref, DC.name, {"k8s-zone": ("x", "y")})
    assert nearest_tag("vm-1", [HOST, CLUSTER, dc], "k8s-zone").tag == "zone-a"


def test_both_missing_categories_are_reported_at_once() -> None:
    with pytest.raises(TopologyError) as caught:
        placement("vm-1", [HOST, ROOT], "k8s-zone", "k8s-region")
    assert "'k8s-zone'" in str(caught.value) and "'k8s-region'" in str(caught.value)
