"""NodeBinding end to end: vcsim (or a real vCenter) for VMs and tags, kmock's emulator for the API server.

Each test plays the kubelet (registers the node with its systemUUID) and, where
it matters, the CPI or an administrator (edits the node). API-server rules the
emulator does not know are added as named guards (tests/support/kube.py).
"""

from __future__ import annotations

import os
import pickle
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dill
import pytest
from pyVmomi import vim

from providers.caches import reset_caches
from providers.node_binding import kube as kube_adapter
from providers.node_binding.plan import REGION_LABEL, ZONE_LABEL, BindingError, PendingError, diff
from providers.node_binding.provider import NodeBindingProvider
from providers.vcenter.connection import Endpoint, connection_for
from providers.vcenter.inventory import read_inventory
from providers.vcenter.tagging import ObjectRef, TaggingClient
from tests.support.kube import KubeEmulator, provider_id_immutable, resource_version_precondition
from tests.support.vcsim import VCenterTarget, Vcsim
from vsphere_k8s.topology import swap_uuid_byte_order
from vsphere_k8s.topology.labels import topology_labels

pytestmark = pytest.mark.live

ASSOCIABLE = ["Datacenter", "ClusterComputeResource", "HostSystem"]


@dataclass(frozen=True)
class Lab:
    """Inventory names the tests use: vcsim's by default, a disposable lab's on a real vCenter.

    On a real vCenter set VSPHERE_TEST_DATACENTER, VSPHERE_TEST_CLUSTERS (two clusters, "a,b"),
    VSPHERE_TEST_HOSTS (one host in each, "a,b") and VSPHERE_TEST_VMS (two powered-off VMs in each
    cluster, "a0,a1,b0,b1"). The tests tag them with categories of their own and delete those afterwards.
    """

    datacenter: str = "DC0"
    cluster_a: str = "DC0_C0"
    cluster_b: str = "DC0_C1"
    host_a: str = "DC0_C0_H0"
    host_b: str = "DC0_C1_H0"
    vm_a0: str = "DC0_C0_RP0_VM0"
    vm_a1: str = "DC0_C0_RP0_VM1"
    vm_b0: str = "DC0_C1_RP0_VM0"
    vm_b1: str = "DC0_C1_RP0_VM1"

    @classmethod
    def from_env(cls) -> Lab:
        env = os.environ
        if "VSPHERE_TEST_DATACENTER" not in env:
            return cls()
        clusters, hosts, vms = (
            env[k].split(",") for k in ("VSPHERE_TEST_CLUSTERS", "VSPHERE_TEST_HOSTS", "VSPHERE_TEST_VMS")
        )
        return cls(env["VSPHERE_TEST_DATACENTER"], *clusters[:2], *hosts[:2], *vms[:4])


LAB = Lab.from_env()
SIM = Lab()  # the names of a fresh simulator


@dataclass
class World:
    """Tags of the test's own categories: region on the datacenter, zone-a and zone-b on the two clusters."""

    endpoint: Endpoint
    zone_category: str
    region_category: str
    tags: dict[str, str]  # tag name -> id
    vms: dict[str, tuple[str, str]]  # VM name -> (moid, BIOS UUID)
    hosts: dict[str, str]  # host name -> moid
    clusters: dict[str, str]  # cluster name -> moid


def _endpoint(target: VCenterTarget) -> Endpoint:
    return target.endpoint()


def build_world(target: VCenterTarget) -> World:
    endpoint = _endpoint(target)
    conn = connection_for(endpoint)
    tagging = TaggingClient(conn)
    suffix = uuid.uuid4().hex[:6]
    zone_cat = tagging.create_category(f"k8s-zone-{suffix}", "SINGLE", ASSOCIABLE)
    region_cat = tagging.create_category(f"k8s-region-{suffix}", "SINGLE", ASSOCIABLE)
    tags = {
        "zone-a": tagging.create_tag("zone-a", zone_cat),
        "zone-b": tagging.create_tag("zone-b", zone_cat),
        "region-1": tagging.create_tag("region-1", region_cat),
    }
    inv = read_inventory(conn)
    by_name = {(o.ref.type, o.name): o.ref for o in inv.objects.values()}
    tagging.attach(tags["region-1"], by_name[("Datacenter", LAB.datacenter)])
    tagging.attach(tags["zone-a"], by_name[("ClusterComputeResource", LAB.cluster_a)])
    tagging.attach(tags["zone-b"], by_name[("ClusterComputeResource", LAB.cluster_b)])
    return World(
        endpoint,
        f"k8s-zone-{suffix}",
        f"k8s-region-{suffix}",
        tags,
        {vm.name: (vm.ref.id, vm.bios_uuid) for vm in inv.vms.values()},
        {o.name: o.ref.id for o in inv.objects.values() if o.ref.type == "HostSystem"},
        {o.name: o.ref.id for o in inv.objects.values() if o.ref.type == "ClusterComputeResource"},
    )


@pytest.fixture(scope="module")
def world(vcenter: VCenterTarget) -> Iterator[World]:
    built = build_world(vcenter)
    yield built
    # Leave a real vCenter as found: deleting a category deletes its tags and their attachments.
    tagging = TaggingClient(connection_for(built.endpoint))
    for name in (built.zone_category, built.region_category):
        category = tagging.category_by_name(name)
        if category is not None:
            tagging.delete_category(category.id)


@pytest.fixture
def k8s() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator().start()
    reset_caches()  # each test is a new `pulumi up`: a new provider process
    yield emulator
    emulator.stop()


def props(world: World, k8s: KubeEmulator, node: str, **extra: Any) -> dict[str, Any]:
    ep = world.endpoint
    base: dict[str, Any] = {
        "node_name": node,
        "server": ep.host,
        "port": ep.port,
        "username": ep.username,
        "password": ep.password,
        "insecure": ep.insecure,
        "kubeconfig": k8s.kubeconfig(),
        "zone_category": world.zone_category,
        "region_category": world.region_category,
        "mode": "enforce",
        "timeout_seconds": 5,
    }
    return {**base, **extra}


@dataclass
class Result:
    id: str
    outs: dict[str, Any]


class Binding:
    """The provider as the engine drives it, with the results' outs typed as present."""

    def __init__(self) -> None:
        self.provider = NodeBindingProvider()

    def create(self, news: dict[str, Any]) -> Result:
        done = self.provider.create(news)
        assert done.outs is not None
        return Result(str(done.id), done.outs)

    def read(self, id_: str, olds: dict[str, Any]) -> Result:
        done = self.provider.read(id_, olds)
        assert done.outs is not None
        return Result(id_, done.outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> Result:
        done = self.provider.update(id_, olds, news)
        assert done.outs is not None
        return Result(id_, done.outs)

    def delete(self, id_: str, olds: dict[str, Any]) -> None:
        self.provider.delete(id_, olds)


def system_uuid_of(world: World, vm: str) -> str:
    """What a Linux guest on old SMBIOS reports: the BIOS UUID with its first three groups byte-swapped."""
    return swap_uuid_byte_order(world.vms[vm][1])


def our_writes(k8s: KubeEmulator) -> int:
    return int(kube_adapter.nodes_for(k8s.kubeconfig()).writes)


def test_enforce_binds_by_system_uuid_then_rerun_writes_nothing(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_a0))
    provider = Binding()
    created = provider.create(props(world, k8s, "n0"))
    moid, bios = world.vms[LAB.vm_a0]
    outs = created.outs
    assert (outs["bound_vm"], outs["provider_id"], outs["zone"], outs["region"]) == (
        moid,
        f"vsphere://{bios}",
        "zone-a",
        "region-1",
    )
    node = k8s.node("n0")
    assert node["spec"]["providerID"] == f"vsphere://{bios}"
    assert topology_labels("zone-a", "region-1").items() <= node["metadata"]["labels"].items()
    assert outs["owned_labels"] == dict(sorted(topology_labels("zone-a", "region-1").items()))
    assert "password" not in str({k: v for k, v in outs.items() if k not in ("password", "username", "kubeconfig")})
    writes = our_writes(k8s)
    assert writes == 1  # providerID and both labels in one patch
    # Nothing changed: read, diff and update write nothing.
    read = provider.read(created.id, outs)
    assert read.outs["drift"] == []
    assert diff(read.outs, props(world, k8s, "n0")).changes == ()
    provider.update(created.id, read.outs, props(world, k8s, "n0"))
    assert our_writes(k8s) == writes


def test_one_inventory_read_serves_every_node(world: World, k8s: KubeEmulator) -> None:
    names = [LAB.vm_a0, LAB.vm_a1, LAB.vm_b0, LAB.vm_b1]
    for i, vm in enumerate(names):
        k8s.register_node(f"n{i}", system_uuid_of(world, vm))
    conn = connection_for(world.endpoint)
    before = (conn.stats.soap_calls, conn.stats.rest_calls)
    provider = Binding()
    threads = [threading.Thread(target=provider.create, args=(props(world, k8s, f"n{i}"),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    zones = [k8s.node(f"n{i}")["metadata"]["labels"][ZONE_LABEL] for i in range(4)]
    assert zones == ["zone-a", "zone-a", "zone-b", "zone-b"]
    soap, rest = conn.stats.soap_calls - before[0], conn.stats.rest_calls - before[1]
    # One snapshot: view + retrieve + destroy; one category listing (+ a GET each), tags of the two
    # categories (+ a GET for each of the 3 tags) and one attached-objects call for all of them.
    assert soap == 3
    assert rest == 1 + len(TaggingClient(conn).categories()) + 2 + 3 + 1


def test_one_node_list_serves_every_binding_of_a_run(world: World, k8s: KubeEmulator) -> None:
    names = [LAB.vm_a0, LAB.vm_a1, LAB.vm_b0, LAB.vm_b1]
    for i, vm in enumerate(names[:3]):
        k8s.register_node(f"n{i}", system_uuid_of(world, vm))
    provider = Binding()
    created = [provider.create(props(world, k8s, f"n{i}")) for i in range(3)]
    kube = kube_adapter.nodes_for(k8s.kubeconfig())
    assert (kube.reads, kube.writes) == (1, 3)  # one LIST, one PATCH per node, no GET
    # A node that registers after the list was taken is read on its own.
    k8s.register_node("n3", system_uuid_of(world, names[3]))
    late = provider.create(props(world, k8s, "n3"))
    assert late.outs["zone"] == "zone-b" and (kube.reads, kube.writes) == (2, 4)
    # Later looks in the same run see what this run wrote, without reading again.
    for i, done in enumerate(created):
        assert provider.read(done.id, done.outs).outs["drift"] == [], f"n{i}"
    assert (kube.reads, kube.writes) == (2, 4)


def test_verify_waits_for_the_cpi_and_writes_nothing(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_b0))
    _, bios = world.vms[LAB.vm_b0]

    def cpi() -> None:
        time.sleep(1.5)
        k8s.edit_node(
            "n0",
            {
                "spec": {"providerID": f"vsphere://{bios}"},
                # As the CPI's node controller does: both pairs (the beta ones lead).
                "metadata": {"labels": topology_labels("zone-b", "region-1")},
            },
        )

    threading.Thread(target=cpi).start()
    outs = Binding().create(props(world, k8s, "n0", mode="verify")).outs
    # It returned bound, so it saw what only the CPI (1.5 s later) wrote: it waited.
    assert outs["provider_id"] == f"vsphere://{bios}" and outs["labels"][ZONE_LABEL] == "zone-b"
    assert outs["zone"] == "zone-b" and outs["owned_labels"] == {}
    assert our_writes(k8s) == 0


def test_verify_reports_a_cpi_mismatch(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_b0))
    k8s.edit_node("n0", {"metadata": {"labels": {ZONE_LABEL: "zone-a"}}})
    with pytest.raises(
        BindingError, match=r"node n0: label topology.kubernetes.io/zone is 'zone-a', its VM is in 'zone-b'"
    ):
        Binding().create(props(world, k8s, "n0", mode="verify"))


def test_a_node_that_never_registers_times_out_naming_it(world: World, k8s: KubeEmulator) -> None:
    with pytest.raises(PendingError, match=r"timed out after 1s: node ghost-1 has not registered"):
        Binding().create(props(world, k8s, "ghost-1", timeout_seconds=1))


def test_provider_id_of_another_vm_fails_and_leaves_other_nodes_alone(world: World, k8s: KubeEmulator) -> None:
    _, other = world.vms[LAB.vm_b1]
    stack_moid, stack_uuid = world.vms[LAB.vm_a0]
    k8s.register_node("bad", system_uuid_of(world, LAB.vm_a0))
    k8s.edit_node("bad", {"spec": {"providerID": f"vsphere://{other}"}})
    k8s.register_node("good", system_uuid_of(world, LAB.vm_a1))
    provider = Binding()
    with pytest.raises(BindingError, match=rf"node bad: its providerID vsphere://\S+ names VM {re.escape(LAB.vm_b1)}"):
        provider.create(props(world, k8s, "bad", vm_uuid=stack_uuid, vm_moid=stack_moid))
    assert k8s.node("bad")["spec"]["providerID"] == f"vsphere://{other}"
    assert ZONE_LABEL not in k8s.node("bad")["metadata"]["labels"]
    assert provider.create(props(world, k8s, "good")).outs["zone"] == "zone-a"


def test_binds_by_the_stacks_vm_when_the_guest_reports_vmware_order(world: World, k8s: KubeEmulator) -> None:
    moid, bios = world.vms[LAB.vm_b1]
    k8s.register_node("n0", bios)  # SMBIOS 2.6+ guests report the BIOS UUID unswapped
    outs = Binding().create(props(world, k8s, "n0", vm_uuid=bios.upper(), vm_moid=moid)).outs
    assert outs["bound_vm"] == moid and outs["provider_id"] == f"vsphere://{bios}"


def test_conflict_on_a_stale_version_rereads_and_keeps_the_cpis_value(world: World, k8s: KubeEmulator) -> None:
    _, bios = world.vms[LAB.vm_a0]
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_a0))
    em = k8s.em
    em.guards["resourceVersion precondition"] = resource_version_precondition
    em.guards["providerID immutable"] = provider_id_immutable
    raced: list[int] = []

    def cpi_races(request: Any, current: dict[str, Any] | None) -> tuple[int, str] | None:
        # The CPI initializes the node just after our read: the stored version moves on.
        if not raced and ((request.data or {}).get("spec") or {}).get("providerID"):
            raced.append(1)
            key = next(k for k in em.objects if k[2] == "n0")
            em.objects[key].patch({"spec": {"providerID": f"vsphere://{bios}"}, "metadata": {"resourceVersion": "99"}})
        return None

    em.guards = {"cpi": cpi_races, **em.guards}
    outs = Binding().create(props(world, k8s, "n0")).outs
    assert raced == [1]
    assert outs["provider_id"] == f"vsphere://{bios}"
    [(rule, _, refused)] = em.refused
    assert rule == "resourceVersion precondition" and refused["spec"]["providerID"] == f"vsphere://{bios}"
    # Read again, re-planned: the CPI's providerID stays, only the labels are written.
    assert k8s.writes_to("n0") == [{"metadata": {"labels": topology_labels("zone-a", "region-1")}}]


def test_refresh_shows_a_removed_label_and_update_repairs_it(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_a0))
    provider = Binding()
    created = provider.create(props(world, k8s, "n0"))
    k8s.edit_node("n0", {"metadata": {"labels": {ZONE_LABEL: None, REGION_LABEL: "elsewhere"}}})
    reset_caches()  # `pulumi refresh` is a new provider process: no node list from the create
    read = provider.read(created.id, created.outs)
    assert read.outs["drift"] == [
        "node n0: label topology.kubernetes.io/zone removed (want 'zone-a')",
        "node n0: label topology.kubernetes.io/region is 'elsewhere', want 'region-1'",
    ]
    # An edited label is no longer ours to delete; the beta twins kept our value, so stay ours.
    assert set(read.outs["owned_labels"]) == {
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
    }
    changed = diff(read.outs, props(world, k8s, "n0"))
    assert changed.changes == ("drift", "labels") and changed.replaces == ()
    repaired = provider.update(created.id, read.outs, props(world, k8s, "n0")).outs
    labels = k8s.node("n0")["metadata"]["labels"]
    assert (labels[ZONE_LABEL], labels[REGION_LABEL]) == ("zone-a", "region-1")
    assert repaired["drift"] == []


def relocate(target: VCenterTarget, vm_moid: str, host_moid: str, cluster_moid: str) -> None:
    """A vMotion: move the VM to a host (and the resource pool) of another cluster."""
    conn = connection_for(_endpoint(target))
    content = conn.service_content()
    stub = content.rootFolder._stub
    vm = vim.VirtualMachine(vm_moid, stub)
    cluster = vim.ClusterComputeResource(cluster_moid, stub)
    spec = vim.vm.RelocateSpec(host=vim.HostSystem(host_moid, stub), pool=cluster.resourcePool)
    task = vm.RelocateVM_Task(spec)
    deadline = time.monotonic() + 30
    while task.info.state not in ("success", "error") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert task.info.state == "success", task.info.error


def test_vmotion_to_another_zone_shows_drift_and_enforce_relabels(
    world: World, k8s: KubeEmulator, vcenter: VCenterTarget
) -> None:
    moid, _ = world.vms[LAB.vm_a1]
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_a1))
    provider = Binding()
    created = provider.create(props(world, k8s, "n0"))
    assert created.outs["zone"] == "zone-a"
    relocate(vcenter, moid, world.hosts[LAB.host_b], world.clusters[LAB.cluster_b])
    try:
        reset_caches()  # the next refresh runs in a new provider process
        read = provider.read(created.id, created.outs)
        assert (
            f"node n0: VM moved from zone 'zone-a' to 'zone-b' (ClusterComputeResource {LAB.cluster_b})"
            in read.outs["drift"]
        )
        assert "node n0: label topology.kubernetes.io/zone is 'zone-a', want 'zone-b'" in read.outs["drift"]
        with pytest.raises(
            BindingError, match=r"node n0: label topology\.kubernetes\.io/zone is 'zone-a', its VM is in 'zone-b'"
        ):
            provider.update(created.id, read.outs, props(world, k8s, "n0", mode="verify"))
        outs = provider.update(created.id, read.outs, props(world, k8s, "n0")).outs
        assert outs["zone"] == "zone-b" and k8s.node("n0")["metadata"]["labels"][ZONE_LABEL] == "zone-b"
    finally:
        relocate(vcenter, moid, world.hosts[LAB.host_a], world.clusters[LAB.cluster_a])


def test_delete_removes_only_the_labels_it_set(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_a0), labels={REGION_LABEL: "region-1", "team": "a"})
    provider = Binding()
    created = provider.create(props(world, k8s, "n0"))
    # The region (GA) was there already; the binding wrote the rest and owns only that.
    assert created.outs["owned_labels"] == {
        "failure-domain.beta.kubernetes.io/region": "region-1",
        "failure-domain.beta.kubernetes.io/zone": "zone-a",
        ZONE_LABEL: "zone-a",
    }
    provider.delete(created.id, created.outs)
    labels = k8s.node("n0")["metadata"]["labels"]
    assert labels == {REGION_LABEL: "region-1", "team": "a"}
    assert k8s.node("n0")["spec"]["providerID"]  # immutable once set: stays


def test_provider_pickles_without_clients_or_credentials(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, LAB.vm_a0))
    provider = NodeBindingProvider()
    provider.create(props(world, k8s, "n0"))  # caches are warm: they must not travel with the provider
    blob = dill.dumps(provider, recurse=True)
    assert world.endpoint.password.encode() not in blob
    assert b"vcsim" not in blob and k8s.url.encode() not in blob
    assert type(pickle.loads(blob)) is NodeBindingProvider  # noqa: S301 - our own bytes


def test_vcenter_restart_mid_run_logs_in_again(k8s: KubeEmulator) -> None:
    sim = Vcsim()
    target = sim.start()
    try:
        world = build_world(target)
        k8s.register_node("n0", system_uuid_of(world, SIM.vm_a0))
        provider = Binding()
        created = provider.create(props(world, k8s, "n0"))
        conn = connection_for(world.endpoint)
        logins = conn.stats.logins
        sim.restart()  # sessions and tags are gone; the inventory comes back the same
        tagging = TaggingClient(conn)  # through the cached connection: must log in again by itself
        zone = tagging.create_category(world.zone_category, "SINGLE", ASSOCIABLE)
        region = tagging.create_category(world.region_category, "SINGLE", ASSOCIABLE)
        inv = read_inventory(conn)
        by_name = {(o.ref.type, o.name): o.ref for o in inv.objects.values()}
        tagging.attach(tagging.create_tag("region-1", region), by_name[("Datacenter", SIM.datacenter)])
        tagging.attach(tagging.create_tag("zone-a", zone), by_name[("ClusterComputeResource", SIM.cluster_a)])
        reset_caches()  # the next refresh runs in a new provider process
        read = provider.read(created.id, created.outs)
        assert read.outs["drift"] == [] and read.outs["zone"] == "zone-a"
        assert conn.stats.logins >= logins + 2  # SOAP and REST both re-logged in
        assert isinstance(ObjectRef("VirtualMachine", read.outs["bound_vm"]), ObjectRef)
    finally:
        sim.stop()
