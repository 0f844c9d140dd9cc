"""The CPI's topology rules: systemUUID byte order, providerID, and its zone lookup (overwrite until both are set)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsphere_k8s.topology import (
    AmbiguousTopologyError,
    Tag,
    TopologyError,
    UuidError,
    bios_uuid_candidates,
    lookup_zone_by_moref,
    provider_id,
    swap_uuid_byte_order,
    uuid_from_provider_id,
    zone_by_vm,
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
ZC, RC = "k8s-zone", "k8s-region"


def z(name: str) -> Tag:
    return Tag(ZC, name)


def r(name: str) -> Tag:
    return Tag(RC, name)


def lookup(chain: Sequence[str], attached: Mapping[str, Sequence[Tag]], subject: str = "node n") -> tuple[str, str]:
    placed = lookup_zone_by_moref(
        chain, attached, zone_category=ZC, region_category=RC, subject=subject, describe=NAMES
    )
    return placed.zone, placed.region


def test_zone_on_the_cluster_region_on_the_datacenter() -> None:
    placed = lookup_zone_by_moref(
        CHAIN,
        {CLUSTER: [z("zone-a")], DC: [r("region-1")]},
        zone_category=ZC,
        region_category=RC,
        subject="node n",
        describe=NAMES,
    )
    assert (placed.zone, placed.region, placed.zone_from, placed.region_from) == (
        "zone-a",
        "region-1",
        "ClusterComputeResource c1",
        "Datacenter dc",
    )


def test_a_farther_zone_tag_overwrites_a_nearer_one_until_the_region_is_found() -> None:
    # Not "nearest wins": the walk only stops once both are set, so the cluster's zone replaces the host's.
    assert lookup(CHAIN, {HOST: [z("zone-h")], CLUSTER: [z("zone-c")], DC: [r("region-1")]}) == ("zone-c", "region-1")
    # Once both are set the walk stops: a zone tag above the region's object is never read.
    assert lookup(CHAIN, {HOST: [z("zone-h"), r("region-h")], DC: [z("zone-dc")]}) == ("zone-h", "region-h")


def test_tags_of_other_categories_never_change_the_answer() -> None:
    attached = {CLUSTER: [Tag("backup", "gold"), z("zone-a"), Tag("owner", "x")], DC: [r("region-1")]}
    assert lookup(CHAIN, attached) == ("zone-a", "region-1")


def test_a_missing_category_names_the_walk_and_what_is_missing() -> None:
    with pytest.raises(TopologyError) as caught:
        lookup(CHAIN, {CLUSTER: [z("zone-a")]}, subject="node w-1")
    assert not isinstance(caught.value, AmbiguousTopologyError)
    assert str(caught.value) == (
        "node w-1: walking from host HostSystem esx-1 up to the root, no tag of category 'k8s-region' "
        "(HostSystem esx-1, ClusterComputeResource c1, group-h1, Datacenter dc, group-d1)"
    )


def test_two_zone_tags_on_the_deciding_object_are_refused_not_guessed() -> None:
    with pytest.raises(AmbiguousTopologyError) as caught:
        lookup(CHAIN, {CLUSTER: [z("zone-a"), z("zone-b")], DC: [r("region-1")]}, subject="node w-1")
    message = str(caught.value)
    assert "node w-1: the CPI's zone and region depend on the order vCenter lists the tags on" in message
    assert "ClusterComputeResource c1 (k8s-zone=zone-a, k8s-zone=zone-b)" in message
    assert "zone 'zone-a' region 'region-1'; zone 'zone-b' region 'region-1'" in message


def test_zone_and_region_on_one_object_with_a_nearer_zone_is_order_dependent() -> None:
    # Listed region first, the CPI stops with the host's zone; listed zone first, it takes the cluster's.
    with pytest.raises(AmbiguousTopologyError, match="zone 'zone-c' region 'r'; zone 'zone-h' region 'r'"):
        lookup(CHAIN, {HOST: [z("zone-h")], CLUSTER: [z("zone-c"), r("r")]})


def test_two_tags_that_a_later_object_overwrites_are_not_ambiguous() -> None:
    assert lookup(CHAIN, {HOST: [z("a"), z("b")], CLUSTER: [z("c")], DC: [r("r")]}) == ("c", "r")


def test_the_vm_lookups_fall_back_host_then_pool_then_vm() -> None:
    pool, vm, folder = "resgroup-1", "vm-1", "group-v1"

    def placed(attached: Mapping[str, Sequence[Tag]]) -> tuple[str, str, str]:
        p = zone_by_vm(
            host_chain=[HOST, CLUSTER, DC, ROOT],
            pool_chain=[pool, CLUSTER, DC, ROOT],
            vm_chain=[vm, folder, DC, ROOT],
            attached=attached,
            zone_category=ZC,
            region_category=RC,
            subject="node n",
        )
        return p.zone, p.region, p.walk

    assert placed({CLUSTER: [z("c")], DC: [r("r")]}) == ("c", "r", "host")
    assert placed({pool: [z("p")], DC: [r("r")]}) == ("p", "r", "resource pool")
    assert placed({vm: [z("v")], folder: [r("f")]}) == ("v", "f", "VM")
    with pytest.raises(TopologyError, match=r"node n: the CPI would find no zone and region: walking from host"):
        placed({vm: [z("v")]})


# An order-explicit transcription of the CPI's loop, to check the port against every listing order.
def cpi_with_order(chain: Sequence[str], listed: Mapping[str, Sequence[Tag]]) -> tuple[str, str] | None:
    zone = region = ""
    for ref in chain:
        for tag in listed.get(ref, ()):
            if tag.category == ZC:
                zone = tag.name
            elif tag.category == RC:
                region = tag.name
            if zone and region:
                return zone, region
    return None


OBJECTS = st.sampled_from(CHAIN)
TAGS = st.builds(Tag, st.sampled_from([ZC, RC, "other"]), st.sampled_from(["a", "b", "c"]))


@given(st.dictionaries(OBJECTS, st.lists(TAGS, max_size=3, unique=True), max_size=5))
def test_the_port_agrees_with_the_cpi_for_every_listing_order(attached: dict[str, list[Tag]]) -> None:
    refs = list(attached)
    outcomes = {
        cpi_with_order(CHAIN, dict(zip(refs, orders, strict=True)))
        for orders in itertools.product(*(itertools.permutations(attached[ref]) for ref in refs))
    }
    if len(outcomes) > 1:
        with pytest.raises(AmbiguousTopologyError):
            lookup(CHAIN, attached)
        return
    try:
        answer: tuple[str, str] | None = lookup(CHAIN, attached)
    except TopologyError:
        answer = None
    assert outcomes == {answer}
