"""The shared vCenter adapters against vcsim (or a real vCenter): session reuse, tags, inventory, re-login."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from providers.retry import RetryPolicy
from providers.vcenter.connection import SESSION_HEADER, VCenterConnection
from providers.vcenter.inventory import read_inventory
from providers.vcenter.retry import VCenterError
from providers.vcenter.tagging import ObjectRef, TaggingClient
from tests.support.vcsim import VCenterTarget

pytestmark = pytest.mark.live


@pytest.fixture
def conn(vcenter: VCenterTarget) -> Iterator[VCenterConnection]:
    connection = VCenterConnection(vcenter.endpoint(), RetryPolicy(attempts=4, base_delay=0.05))
    yield connection
    connection.close()


def test_password_never_in_repr(vcenter: VCenterTarget) -> None:
    assert vcenter.password not in repr(vcenter.endpoint())


def test_one_login_serves_many_calls(conn: VCenterConnection) -> None:
    tagging = TaggingClient(conn)
    for _ in range(3):
        tagging.categories()
        read_inventory(conn)
    assert conn.stats.soap_logins == 1
    assert conn.stats.rest_logins == 1


def test_inventory_is_one_batched_read(conn: VCenterConnection) -> None:
    inventory = read_inventory(conn)
    # CreateContainerView + RetrievePropertiesEx + DestroyView (+ paging, absent at this size)
    assert conn.stats.soap_calls == 3
    vms = [vm for vm in inventory.vms.values() if not vm.template]
    assert vms, "the simulator has virtual machines"
    vm = vms[0]
    assert len(vm.bios_uuid) == 36 and vm.host is not None
    chain = inventory.ancestors(vm.ref)
    kinds = [ref.type for ref in chain]
    assert kinds[0] == "HostSystem"
    assert "Datacenter" in kinds and kinds.index("Datacenter") > 0
    assert inventory.vm_by_bios_uuid()[vm.bios_uuid] == vm


def test_tag_lifecycle_and_batched_attached_objects(conn: VCenterConnection) -> None:
    tagging = TaggingClient(conn)
    inventory = read_inventory(conn)
    clusters = sorted(
        (o for o in inventory.objects.values() if o.ref.type == "ClusterComputeResource"), key=lambda o: o.name
    )
    suffix = uuid.uuid4().hex[:8]
    category = tagging.create_category(f"adapter-zone-{suffix}", "SINGLE", ["ClusterComputeResource", "HostSystem"])
    try:
        tag_a = tagging.create_tag(f"zone-a-{suffix}", category)
        tag_b = tagging.create_tag(f"zone-b-{suffix}", category)
        found = tagging.category_by_name(f"adapter-zone-{suffix}")
        assert found is not None and found.id == category and found.cardinality == "SINGLE"
        assert {t.name for t in tagging.tags_for_category(category)} == {f"zone-a-{suffix}", f"zone-b-{suffix}"}

        first, second = clusters[0].ref, clusters[1].ref
        tagging.attach(tag_a, first)
        tagging.attach(tag_b, second)
        before = conn.stats.rest_calls
        attached = tagging.attached_objects([tag_a, tag_b])
        assert conn.stats.rest_calls == before + 1, "one call for every tag"
        assert attached == {tag_a: [first], tag_b: [second]}
        assert tag_a in tagging.attached_tags(first)

        tagging.detach(tag_a, first)
        tagging.detach(tag_b, second)
        assert tagging.attached_objects([tag_a, tag_b]) == {tag_a: [], tag_b: []}
        # Other tests share the simulator and may tag the same cluster: only ours must be gone.
        assert tag_a not in tagging.attached_tags(ObjectRef("ClusterComputeResource", first.id))
    finally:
        # Deleted whatever failed above: a real vCenter keeps no category of ours.
        tagging.delete_category(category)
    assert tagging.category_by_name(f"adapter-zone-{suffix}") is None


def test_rest_session_expiry_logs_in_again(conn: VCenterConnection, vcenter: VCenterTarget) -> None:
    tagging = TaggingClient(conn)
    tagging.categories()
    assert conn._rest is not None
    token = conn._rest.headers[SESSION_HEADER]
    # End the session behind the client's back, as an idle timeout would.
    requests.delete(
        f"https://{vcenter.address}:{vcenter.port}/rest/com/vmware/cis/session",
        headers={SESSION_HEADER: str(token)},
        verify=not vcenter.insecure,
        timeout=10,
    )
    tagging.categories()
    assert conn.stats.rest_logins == 2


def test_soap_session_expiry_logs_in_again(conn: VCenterConnection) -> None:
    content = conn.service_content()
    content.sessionManager.Logout()
    inventory = read_inventory(conn)
    assert inventory.vms
    assert conn.stats.soap_logins == 2


def test_wrong_password_is_a_clear_error(vcenter: VCenterTarget) -> None:
    # vcsim accepts any non-empty password and refuses an empty one; a real vCenter refuses a wrong one.
    wrong = "" if vcenter.simulated else "not-the-password"
    bad = VCenterConnection(vcenter.endpoint(password=wrong), RetryPolicy(attempts=1))
    with pytest.raises(VCenterError, match="refused the login"):
        bad.service_content()
