"""TagAttachment against vcsim (or a real vCenter when VSPHERE_SERVER/USER/PASSWORD are set).

On a real vCenter, the throwaway objects are the first of the names the node-binding tests use:
VSPHERE_TEST_DATACENTER, VSPHERE_TEST_CLUSTERS ("a,b") and VSPHERE_TEST_HOSTS (a host of cluster a
first); the defaults are the simulator's.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from providers.tag_attachment import vcenter as adapter
from providers.tag_attachment.plan import TargetSpec
from providers.tag_attachment.provider import TagAttachmentProvider
from providers.vcenter.connection import VCenterConnection, connection_for
from providers.vcenter.inventory import read_inventory
from providers.vcenter.tagging import TaggingClient
from tests.support.vcsim import VCenterTarget

pytestmark = pytest.mark.live

DC = os.environ.get("VSPHERE_TEST_DATACENTER", "DC0")
CLUSTER = os.environ.get("VSPHERE_TEST_CLUSTERS", "DC0_C0").split(",")[0]
HOST = os.environ.get("VSPHERE_TEST_HOSTS", "DC0_C0_H0").split(",")[0]
TARGETS = [
    {"type": "Datacenter", "datacenter": DC, "name": DC},
    {"type": "ClusterComputeResource", "datacenter": DC, "name": CLUSTER},
    {"type": "HostSystem", "datacenter": DC, "cluster": CLUSTER, "name": HOST},
]
DC_KEY, CLUSTER_KEY, HOST_KEY = (TargetSpec.model_validate(t).key for t in TARGETS)


@pytest.fixture(scope="module")
def connection(vcenter: VCenterTarget) -> Iterator[VCenterConnection]:
    conn = VCenterConnection(vcenter.endpoint())
    yield conn
    conn.close()


def test_inventory_resolves_configured_names_in_one_read(connection: VCenterConnection) -> None:
    inventory = read_inventory(connection, vms=False)
    resolved = adapter.resolve(inventory, [TargetSpec.model_validate(t) for t in TARGETS])
    nodes = {ref.id: obj for ref, obj in inventory.objects.items()}
    # Moref values differ between vcsim and vCenter ("domain-c8"); the types and names do not.
    assert [(nodes[resolved[k]].ref.type, nodes[resolved[k]].name) for k in (DC_KEY, CLUSTER_KEY, HOST_KEY)] == [
        ("Datacenter", DC),
        ("ClusterComputeResource", CLUSTER),
        ("HostSystem", HOST),
    ]
    parent = nodes[resolved[HOST_KEY]].parent
    assert parent is not None and parent.id == resolved[CLUSTER_KEY]


def test_missing_and_misplaced_objects_are_named(connection: VCenterConnection) -> None:
    inventory = read_inventory(connection, vms=False)
    wrong = [
        TargetSpec(type="ClusterComputeResource", datacenter=DC, name="no-such-cluster"),
        TargetSpec(type="HostSystem", datacenter=DC, cluster="no-such-cluster", name=HOST),
        TargetSpec(type="Datacenter", datacenter="DC-missing", name="DC-missing"),
    ]
    with pytest.raises(adapter.TargetNotFoundError) as caught:
        adapter.resolve(inventory, wrong)
    message = str(caught.value)
    assert f"ClusterComputeResource 'no-such-cluster' not found in datacenter '{DC}'" in message
    assert f"HostSystem '{HOST}' not found in datacenter '{DC}' (cluster 'no-such-cluster')" in message
    assert "Datacenter 'DC-missing' not found" in message


# ------------------------------------------------------------------ the provider's lifecycle (shared adapter)


@pytest.fixture(scope="module")
def tagging(vcenter: VCenterTarget) -> TaggingClient:
    return TaggingClient(connection_for(vcenter.endpoint()))


@pytest.fixture
def zone_tags(tagging: Any) -> Iterator[dict[str, str]]:
    """A fresh single-cardinality category with two tags; removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    types = ["Datacenter", "ClusterComputeResource", "HostSystem"]
    category = tagging.create_category(f"test-zone-{suffix}", "SINGLE", types)
    ids = {"category": category, "ours": tagging.create_tag(f"zone-a-{suffix}", category)}
    ids["other"] = tagging.create_tag(f"zone-b-{suffix}", category)
    yield ids
    for tag in (ids["ours"], ids["other"]):
        for obj in tagging.attached_objects([tag]).get(tag, []):
            tagging.detach(tag, obj)
    tagging.delete_category(category)  # with its tags: a real vCenter is left as found


def _outs(result: Any) -> dict[str, Any]:
    assert result.outs is not None
    return dict(result.outs)


def _fresh(provider: TagAttachmentProvider) -> TagAttachmentProvider:
    """Round-trip through dill as Pulumi stores it: every call gets a provider with no state."""
    restored = dill.loads(base64.b64decode(serialize_provider(provider)))  # noqa: S301 - our own bytes
    assert isinstance(restored, TagAttachmentProvider)
    return restored


def _props(vcenter: VCenterTarget, ids: dict[str, str], targets: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "server": vcenter.address,
        "port": vcenter.port,
        "username": vcenter.username,
        "password": vcenter.password,
        "insecure": vcenter.insecure,
        "thumbprint": None,
        "ca_cert": None,
        "tag_id": ids["ours"],
        "category_id": ids["category"],
        "targets": targets,
    }


def _carried(tagging: Any, ids: dict[str, str], moref: str, kind: str) -> set[str]:
    from providers.vcenter.tagging import ObjectRef

    return set(tagging.attached_tags(ObjectRef(kind, moref))) & {ids["ours"], ids["other"]}


def test_create_read_drift_repair_delete(vcenter: VCenterTarget, tagging: Any, zone_tags: dict[str, str]) -> None:
    from providers.vcenter.tagging import ObjectRef

    provider = TagAttachmentProvider()
    props = _props(vcenter, zone_tags, TARGETS)
    assert _fresh(provider).check({}, props).failures == []

    # The datacenter already carries the tag (an administrator put it there): adopted, never owned.
    content_dc = _fresh(provider)
    created = content_dc.create(
        _props(vcenter, zone_tags, TARGETS[:1])
    )  # first, a resource that tags only the datacenter
    created_outs = _outs(created)
    dc_moref = created_outs["resolved"][DC_KEY]
    assert created_outs["owned"] == [DC_KEY]

    result = _fresh(provider).create(props)
    outs = _outs(result)
    assert outs["attached"] == sorted([DC_KEY, CLUSTER_KEY, HOST_KEY])
    assert outs["owned"] == sorted([CLUSTER_KEY, HOST_KEY])  # the datacenter was already tagged
    assert outs["conflicts"] == {}
    cluster, host = outs["resolved"][CLUSTER_KEY], outs["resolved"][HOST_KEY]
    assert _carried(tagging, zone_tags, cluster, "ClusterComputeResource") == {zone_tags["ours"]}

    # Nothing changed: read shows no drift and diff wants nothing.
    read = _outs(_fresh(provider).read(result.id, outs))
    assert _fresh(provider).diff(result.id, read, props).changes is False

    # Drift by hand: the tag removed from the cluster, the host's replaced by the other zone's.
    tagging.detach(zone_tags["ours"], ObjectRef("ClusterComputeResource", cluster))
    tagging.detach(zone_tags["ours"], ObjectRef("HostSystem", host))
    tagging.attach(zone_tags["other"], ObjectRef("HostSystem", host))
    drifted = _outs(_fresh(provider).read(result.id, outs))
    assert drifted["attached"] == [DC_KEY]
    assert drifted["conflicts"] == {HOST_KEY: [zone_tags["other"]]}
    diff = _fresh(provider).diff(result.id, drifted, props)
    assert diff.changes is True
    assert diff.replaces == []

    repaired = _outs(_fresh(provider).update(result.id, drifted, props))
    assert repaired["attached"] == sorted([DC_KEY, CLUSTER_KEY, HOST_KEY])
    assert repaired["conflicts"] == {}
    assert _carried(tagging, zone_tags, host, "HostSystem") == {zone_tags["ours"]}
    assert _outs(_fresh(provider).read(result.id, repaired))["conflicts"] == {}

    # Dropping the host from the targets detaches it (owned); delete then detaches the cluster only.
    smaller = _props(vcenter, zone_tags, TARGETS[:2])
    shrunk = _outs(_fresh(provider).update(result.id, repaired, smaller))
    assert _carried(tagging, zone_tags, host, "HostSystem") == set()
    assert shrunk["owned"] == [CLUSTER_KEY]
    _fresh(provider).delete(result.id, shrunk)
    assert _carried(tagging, zone_tags, cluster, "ClusterComputeResource") == set()
    assert _carried(tagging, zone_tags, dc_moref, "Datacenter") == {zone_tags["ours"]}  # not ours to remove
    _fresh(provider).delete(created.id, created_outs)
    assert _carried(tagging, zone_tags, dc_moref, "Datacenter") == set()
    assert "password" not in {k for k, v in shrunk.items() if k in ("resolved", "attached", "owned", "conflicts")}
