"""NodeBinding's main paths on whatever targets are configured: vcsim or a real vCenter, the emulator or a cluster.

Real targets: VSPHERE_SERVER/USER/PASSWORD (tests/support/vcsim.py) and KUBECONFIG_LIVE (a
kubeconfig file; the test creates and deletes its own Node objects, named ``nb-test-*``). On
a real vCenter the same variables as tests/live/test_node_binding.py name the objects:
VSPHERE_TEST_DATACENTER, VSPHERE_TEST_CLUSTERS ("a,b") and VSPHERE_TEST_VMS (the first is
vMotioned from cluster a to b and back); the account needs tagging rights: the test makes two categories
``nb-test-zone-*``/``nb-test-region-*`` and removes them afterwards, with their tags. Without those
variables everything runs on vcsim and the emulator. Nothing here is emulator-only: writes
are observed through resourceVersion, which every API server keeps.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pyVmomi import vim

from providers.caches import reset_caches
from providers.node_binding.plan import REGION_LABEL, ZONE_LABEL, diff
from providers.node_binding.provider import NodeBindingProvider
from providers.vcenter.connection import Endpoint, connection_for
from providers.vcenter.inventory import read_inventory
from providers.vcenter.tagging import ObjectRef, TaggingClient
from tests.support.kube import KubeEmulator, RealCluster, real_cluster_from_env
from tests.support.vcsim import VCenterTarget
from vsphere_k8s.topology import swap_uuid_byte_order
from vsphere_k8s.topology.labels import topology_labels

pytestmark = pytest.mark.live

DC = os.environ.get("VSPHERE_TEST_DATACENTER", "DC0")
CLUSTER_A, CLUSTER_B = os.environ.get("VSPHERE_TEST_CLUSTERS", "DC0_C0,DC0_C1").split(",")[:2]
ASSOCIABLE = ["Datacenter", "ClusterComputeResource", "HostSystem"]


@dataclass
class Site:
    endpoint: Endpoint
    zone_category: str
    region_category: str
    zone_a: str
    zone_b: str
    region: str
    cluster_a: ObjectRef
    cluster_b: ObjectRef
    vm_name: str
    vm_moid: str
    bios: str


@contextmanager
def open_site(vcenter: VCenterTarget) -> Iterator[Site]:
    """Two categories of the test's own, tagged onto the datacenter and two clusters; on exit the tags are
    detached and the categories deleted (with their tags), however the test ended: a real vCenter is left
    as found."""
    endpoint = vcenter.endpoint()
    conn = connection_for(endpoint)
    tagging = TaggingClient(conn)
    suffix = uuid.uuid4().hex[:6]
    categories: list[str] = []
    tags: dict[str, str] = {}
    try:
        categories.append(tagging.create_category(f"nb-test-zone-{suffix}", "SINGLE", ASSOCIABLE))
        categories.append(tagging.create_category(f"nb-test-region-{suffix}", "SINGLE", ASSOCIABLE))
        zone_cat, region_cat = categories
        names = {"a": f"zone-a-{suffix}", "b": f"zone-b-{suffix}", "r": f"region-{suffix}"}
        tags["a"] = tagging.create_tag(names["a"], zone_cat)
        tags["b"] = tagging.create_tag(names["b"], zone_cat)
        tags["r"] = tagging.create_tag(names["r"], region_cat)
        yield _tagged_site(conn, endpoint, suffix, names, tags)
    finally:
        # The session may have been reset meanwhile (reset_caches closes it): clean up through a live one.
        tagging = TaggingClient(connection_for(endpoint))
        for tag in tags.values():
            for obj in tagging.attached_objects([tag]).get(tag, []):
                tagging.detach(tag, obj)
        for category in categories:
            tagging.delete_category(category)


@pytest.fixture(scope="module")
def site(vcenter: VCenterTarget) -> Iterator[Site]:
    with open_site(vcenter) as opened:
        yield opened


def _tagged_site(conn: Any, endpoint: Endpoint, suffix: str, names: dict[str, str], tags: dict[str, str]) -> Site:
    tagging = TaggingClient(conn)
    inv = read_inventory(conn)
    by_name = {(o.ref.type, o.name): o.ref for o in inv.objects.values()}
    cluster_a, cluster_b = (
        by_name[("ClusterComputeResource", CLUSTER_A)],
        by_name[("ClusterComputeResource", CLUSTER_B)],
    )
    tagging.attach(tags["r"], by_name[("Datacenter", DC)])
    tagging.attach(tags["a"], cluster_a)
    tagging.attach(tags["b"], cluster_b)
    wanted = os.environ.get("VSPHERE_TEST_VMS", "").split(",")[0] or None
    in_a = sorted(
        (vm for vm in inv.vms.values() if not vm.template and cluster_a in inv.ancestors(vm.ref)[:2]),
        key=lambda vm: vm.name,
    )
    vm = next(v for v in in_a if v.name == wanted) if wanted else in_a[0]
    return Site(
        endpoint,
        f"nb-test-zone-{suffix}",
        f"nb-test-region-{suffix}",
        names["a"],
        names["b"],
        names["r"],
        cluster_a,
        cluster_b,
        vm.name,
        vm.ref.id,
        vm.bios_uuid,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeEmulator | RealCluster]:
    real = real_cluster_from_env()
    if real is not None:
        try:
            yield real
        finally:
            real.cleanup()
        return
    emulator = KubeEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


def new_run() -> None:
    """A new `pulumi up`: a new provider process, with no snapshot and no Kubernetes client cached."""
    reset_caches()


def props(site: Site, cluster: Any, node: str, **extra: Any) -> dict[str, Any]:
    ep = site.endpoint
    return {
        "node_name": node,
        "server": ep.host,
        "port": ep.port,
        "username": ep.username,
        "password": ep.password,
        "insecure": ep.insecure,
        "kubeconfig": cluster.kubeconfig(),
        "zone_category": site.zone_category,
        "region_category": site.region_category,
        "vm_uuid": site.bios,
        "vm_moid": site.vm_moid,
        "mode": "enforce",
        "timeout_seconds": 20,
        **extra,
    }


def outs_of(result: Any) -> dict[str, Any]:
    assert result.outs is not None
    return dict(result.outs)


def version(cluster: Any, name: str) -> str:
    return str(cluster.node(name)["metadata"]["resourceVersion"])


def labels(cluster: Any, name: str) -> dict[str, str]:
    return dict(cluster.node(name)["metadata"].get("labels") or {})


def fresh_node(site: Site, cluster: Any, prefix: str) -> str:
    name = f"nb-test-{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.register_node(name, swap_uuid_byte_order(site.bios))  # as a Linux guest reports it
    return name


def test_enforce_binds_and_an_unchanged_rerun_writes_nothing(site: Site, cluster: Any) -> None:
    name = fresh_node(site, cluster, "enforce")
    new_run()
    created = NodeBindingProvider().create(props(site, cluster, name))
    outs = outs_of(created)
    assert (outs["bound_vm"], outs["bound_vm_name"]) == (site.vm_moid, site.vm_name)
    assert (outs["provider_id"], outs["zone"], outs["region"]) == (f"vsphere://{site.bios}", site.zone_a, site.region)
    node = cluster.node(name)
    assert node["spec"]["providerID"] == f"vsphere://{site.bios}"
    assert {ZONE_LABEL: site.zone_a, REGION_LABEL: site.region}.items() <= node["metadata"]["labels"].items()
    before = version(cluster, name)
    new_run()
    read = outs_of(NodeBindingProvider().read(str(created.id), outs))
    assert read["drift"] == [] and diff(read, props(site, cluster, name)).changes == ()
    new_run()
    NodeBindingProvider().update(str(created.id), read, props(site, cluster, name))
    assert version(cluster, name) == before  # not one write


def test_verify_waits_for_the_cpi_and_writes_nothing(site: Site, cluster: Any) -> None:
    name = fresh_node(site, cluster, "verify")
    wrote: list[str] = []

    def cpi() -> None:
        time.sleep(1.5)
        cluster.edit_node(
            name,
            {
                "spec": {"providerID": f"vsphere://{site.bios}"},
                "metadata": {"labels": topology_labels(site.zone_a, site.region)},  # both pairs, as the CPI
            },
        )
        wrote.append(version(cluster, name))

    thread = threading.Thread(target=cpi)
    thread.start()
    new_run()
    outs = outs_of(NodeBindingProvider().create(props(site, cluster, name, mode="verify")))
    thread.join()
    assert outs["provider_id"] == f"vsphere://{site.bios}" and outs["owned_labels"] == {}
    assert version(cluster, name) == wrote[0]  # the CPI's write is the last one


def test_hand_edits_show_as_drift_and_update_repairs_them(site: Site, cluster: Any) -> None:
    name = fresh_node(site, cluster, "drift")
    new_run()
    created = NodeBindingProvider().create(props(site, cluster, name))
    cluster.edit_node(name, {"metadata": {"labels": {ZONE_LABEL: None, REGION_LABEL: "by-hand"}}})
    new_run()
    read = outs_of(NodeBindingProvider().read(str(created.id), outs_of(created)))
    assert read["drift"] == [
        f"node {name}: label {ZONE_LABEL} removed (want {site.zone_a!r})",
        f"node {name}: label {REGION_LABEL} is 'by-hand', want {site.region!r}",
    ]
    assert diff(read, props(site, cluster, name)).changes != ()
    new_run()
    NodeBindingProvider().update(str(created.id), read, props(site, cluster, name))
    assert {ZONE_LABEL: site.zone_a, REGION_LABEL: site.region}.items() <= labels(cluster, name).items()


def _relocate(site: Site, cluster_ref: ObjectRef) -> None:
    content = connection_for(site.endpoint).service_content()
    stub = content.rootFolder._stub
    target = vim.ClusterComputeResource(cluster_ref.id, stub)
    spec = vim.vm.RelocateSpec(host=target.host[0], pool=target.resourcePool)
    task = vim.VirtualMachine(site.vm_moid, stub).RelocateVM_Task(spec)
    deadline = time.monotonic() + 600
    while task.info.state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert task.info.state == "success", task.info.error


def test_a_vmotion_into_another_zone_is_drift_and_relabelled(site: Site, cluster: Any) -> None:
    name = fresh_node(site, cluster, "vmotion")
    new_run()
    created = NodeBindingProvider().create(props(site, cluster, name))
    _relocate(site, site.cluster_b)
    try:
        new_run()
        read = outs_of(NodeBindingProvider().read(str(created.id), outs_of(created)))
        assert any(site.zone_b in line for line in read["drift"]), read["drift"]
        assert diff(read, props(site, cluster, name)).changes != ()
        new_run()
        updated = outs_of(NodeBindingProvider().update(str(created.id), read, props(site, cluster, name)))
        assert updated["zone"] == site.zone_b and labels(cluster, name)[ZONE_LABEL] == site.zone_b
    finally:
        _relocate(site, site.cluster_a)


def test_delete_removes_only_what_it_wrote(site: Site, cluster: Any) -> None:
    name = fresh_node(site, cluster, "delete")
    new_run()
    created = NodeBindingProvider().create(props(site, cluster, name))
    cluster.edit_node(name, {"metadata": {"labels": {REGION_LABEL: "by-hand"}}})
    new_run()
    NodeBindingProvider().delete(str(created.id), outs_of(created))
    left = labels(cluster, name)
    assert ZONE_LABEL not in left and left[REGION_LABEL] == "by-hand"
    assert cluster.node(name)["spec"]["providerID"] == f"vsphere://{site.bios}"


def test_a_site_leaves_no_category_tag_or_attachment_behind(vcenter: VCenterTarget) -> None:
    """What the README promises for a real vCenter, shown on whatever target is configured."""
    with open_site(vcenter) as opened:
        made = {opened.zone_category, opened.region_category}
        tagging = TaggingClient(connection_for(vcenter.endpoint()))
        assert made <= {c.name for c in tagging.categories()}
        ours = {t.id for c in tagging.categories() if c.name in made for t in tagging.tags_for_category(c.id)}
        assert ours & set(tagging.attached_tags(opened.cluster_a))
    tagging = TaggingClient(connection_for(vcenter.endpoint()))
    assert made.isdisjoint(c.name for c in tagging.categories())
    for cluster in (opened.cluster_a, opened.cluster_b):
        assert ours.isdisjoint(tagging.attached_tags(cluster))
