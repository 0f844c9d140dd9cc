"""NodeBinding against vcsim and the Kubernetes emulator (or a real vCenter and cluster).

Real targets: VSPHERE_SERVER/USER/PASSWORD (see tests/support/vcsim.py) and KUBECONFIG_LIVE
(test Node objects are created and deleted). On a real vCenter, name two clusters of one
datacenter with BINDING_TEST_DC / BINDING_TEST_CLUSTER_A / BINDING_TEST_CLUSTER_B; each
needs a powered VM the test may vMotion between them. The API server rules and failure
injections always run on the emulator.

Every provider call goes through a provider object restored from dill, as Pulumi stores
it; ``new_run()`` drops the per-process snapshot, as a new provider process starts empty.
"""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pyVmomi import vim

from providers.node_binding import vcenter as snapshots
from providers.node_binding.plan import REGION_LABEL, ZONE_LABEL, BindingError, NodeNotRegisteredError
from providers.node_binding.plan import diff as plan_diff
from providers.node_binding.provider import NodeBindingProvider
from providers.vcenter.connection import Endpoint, VCenterConnection, connection_for
from providers.vcenter.inventory import Inventory, VmInfo, read_inventory
from providers.vcenter.retry import RetryPolicy
from providers.vcenter.tagging import ObjectRef, TaggingClient
from tests.support.kube import Emulator, RealCluster, real_cluster_from_env
from tests.support.vcsim import VCenterTarget, Vcsim, real_vcenter_from_env
from vsphere_k8s.topology import swap_system_uuid

pytestmark = pytest.mark.live

DC = os.environ.get("BINDING_TEST_DC", "DC0")
CLUSTER_A = os.environ.get("BINDING_TEST_CLUSTER_A", "DC0_C0")
CLUSTER_B = os.environ.get("BINDING_TEST_CLUSTER_B", "DC0_C1")


# ------------------------------------------------------------------ targets


@dataclass
class VCenter:
    target: VCenterTarget
    sim: Vcsim | None  # None on a real vCenter

    @property
    def endpoint(self) -> Endpoint:
        t = self.target
        return Endpoint(host=t.host, port=t.port, username=t.username, password=t.password, insecure=t.insecure)


@pytest.fixture(scope="module")
def vc() -> Iterator[VCenter]:
    """A simulator of this module's own (the restart test must not disturb other modules), or a real vCenter."""
    real = real_vcenter_from_env()
    if real is not None:
        yield VCenter(real, None)
        return
    sim = Vcsim()
    target = sim.start()
    try:
        yield VCenter(target, sim)
    finally:
        snapshots.forget_snapshots()
        sim.stop()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    emu = Emulator().start()
    emu.enforce_node_rules()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def cluster(emulator: Emulator) -> Iterator[Emulator | RealCluster]:
    """Where bindings run: a real cluster when KUBECONFIG_LIVE is set, else the emulator."""
    real = real_cluster_from_env()
    if real is None:
        yield emulator
        return
    try:
        yield real
    finally:
        real.cleanup()


@dataclass
class Topology:
    zone_category: str
    region_category: str
    tags: dict[str, str]  # tag name -> id
    cluster_a: ObjectRef
    cluster_b: ObjectRef
    datacenter: ObjectRef


def _setup_conn(vc: VCenter) -> VCenterConnection:
    # Not the provider's cached connection: test setup must not count in the provider's costs.
    return VCenterConnection(vc.endpoint, RetryPolicy(attempts=6, base_delay=0.1))


def _tag(vc: VCenter, suffix: str, inv: Inventory) -> Topology:
    tagging = TaggingClient(_setup_conn(vc))
    types = ["Datacenter", "ClusterComputeResource", "HostSystem"]
    zone_cat = tagging.create_category(f"k8s-zone-{suffix}", "SINGLE", types)
    region_cat = tagging.create_category(f"k8s-region-{suffix}", "SINGLE", types)
    tags = {
        "zone-a": tagging.create_tag(f"zone-a-{suffix}", zone_cat),
        "zone-b": tagging.create_tag(f"zone-b-{suffix}", zone_cat),
        "region-1": tagging.create_tag(f"region-1-{suffix}", region_cat),
    }
    by_name = {(o.ref.type, o.name): o.ref for o in inv.objects.values()}
    topo = Topology(
        f"k8s-zone-{suffix}",
        f"k8s-region-{suffix}",
        tags,
        by_name[("ClusterComputeResource", CLUSTER_A)],
        by_name[("ClusterComputeResource", CLUSTER_B)],
        by_name[("Datacenter", DC)],
    )
    tagging.attach(tags["zone-a"], topo.cluster_a)
    tagging.attach(tags["zone-b"], topo.cluster_b)
    tagging.attach(tags["region-1"], topo.datacenter)
    return topo


@pytest.fixture(scope="module")
def topo(vc: VCenter) -> Iterator[Topology]:
    suffix = uuid.uuid4().hex[:8]
    topology = _tag(vc, suffix, read_inventory(_setup_conn(vc)))
    yield topology
    if vc.sim is None:  # a real vCenter keeps what we made: detach our tags
        tagging = TaggingClient(_setup_conn(vc))
        for tag in topology.tags.values():
            for obj in tagging.attached_objects([tag]).get(tag, []):
                tagging.detach(tag, obj)


def _vms(vc: VCenter, cluster_name: str) -> list[VmInfo]:
    inv = read_inventory(_setup_conn(vc))
    out = []
    for vm in inv.vms.values():
        chain = inv.ancestors(vm.ref)
        if not vm.template and any(inv.objects[r].name == cluster_name for r in chain[1:2] if r in inv.objects):
            out.append(vm)
    return sorted(out, key=lambda v: v.name)


def _suffix(zone: str, topo: Topology) -> str:
    return zone + "-" + topo.zone_category.rsplit("-", 1)[-1]


# ------------------------------------------------------------------ the provider as Pulumi runs it


def provider() -> NodeBindingProvider:
    restored = dill.loads(base64.b64decode(serialize_provider(NodeBindingProvider())))  # noqa: S301 - our own bytes
    assert isinstance(restored, NodeBindingProvider) and vars(restored) == {}
    return restored


def new_run() -> None:
    """What a new provider process starts with: no snapshot (the vCenter session cache stays per process)."""
    snapshots.forget_snapshots()


def props(
    vc: VCenter,
    kube: Any,
    topo: Topology,
    node: str,
    *,
    vm_uuid: str | None = None,
    mode: str = "enforce",
    timeout: float = 5,
) -> dict[str, Any]:
    t = vc.target
    return {
        "node_name": node,
        "server": t.host,
        "port": t.port,
        "username": t.username,
        "password": t.password,
        "insecure": t.insecure,
        "thumbprint": None,
        "ca_cert": None,
        "kubeconfig": kube.kubeconfig(),
        "zone_category": topo.zone_category,
        "region_category": topo.region_category,
        "vm_uuid": vm_uuid,
        "expected_zone": None,
        "expected_region": None,
        "mode": mode,
        "timeout_seconds": timeout,
        "poll_seconds": 0.1,
    }


def create(p: dict[str, Any]) -> dict[str, Any]:
    result = provider().create(p)
    assert result.id == p["node_name"] and result.outs is not None
    return dict(result.outs)


def read(state: dict[str, Any]) -> dict[str, Any]:
    result = provider().read(state["node_name"], state)
    assert result.outs is not None
    return dict(result.outs)


def update(state: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
    result = provider().update(state["node_name"], state, news)
    assert result.outs is not None
    return dict(result.outs)


def node_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def rv(kube: Any, name: str) -> str:
    return str(kube.node(name)["metadata"]["resourceVersion"])


# ------------------------------------------------------------------ bind and label


def test_enforce_binds_by_byte_swapped_system_uuid_and_labels(vc: VCenter, cluster: Any, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("enforce")
    cluster.add_node(name, swap_system_uuid(vm.bios_uuid))  # what a Linux guest reports
    new_run()
    outs = create(props(vc, cluster, topo, name))
    pid = f"vsphere://{vm.bios_uuid}"
    assert (outs["vm"], outs["vm_moid"], outs["bios_uuid"], outs["provider_id"]) == (
        vm.name,
        vm.ref.id,
        vm.bios_uuid,
        pid,
    )
    zone, region = f"zone-a-{_tail(topo)}", f"region-1-{_tail(topo)}"
    assert (outs["zone"], outs["region"]) == (zone, region)
    assert outs["zone_source"] == f"ClusterComputeResource {CLUSTER_A}"
    assert outs["region_source"] == f"Datacenter {DC}"
    assert outs["observed_labels"] == {ZONE_LABEL: zone, REGION_LABEL: region}
    assert outs["owned_labels"] == sorted([ZONE_LABEL, REGION_LABEL]) and outs["drift"] == []
    stored = cluster.node(name)
    assert stored["spec"]["providerID"] == pid
    assert {k: stored["metadata"]["labels"][k] for k in (ZONE_LABEL, REGION_LABEL)} == {
        ZONE_LABEL: zone,
        REGION_LABEL: region,
    }
    assert stored["metadata"]["labels"]["kubernetes.io/os"] == "linux"  # other labels untouched


def _tail(topo: Topology) -> str:
    return topo.zone_category.rsplit("-", 1)[-1]


def test_many_nodes_share_one_session_and_one_snapshot(vc: VCenter, emulator: Emulator, topo: Topology) -> None:
    vms = _vms(vc, CLUSTER_A) + _vms(vc, CLUSTER_B)
    names = [node_name(f"batch{i}") for i in range(len(vms))]
    for name, vm in zip(names, vms, strict=True):
        emulator.add_node(name, swap_system_uuid(vm.bios_uuid))
    new_run()
    conn = connection_for(vc.endpoint)
    conn.service_content()  # the session exists before we count (earlier tests may have made it)
    before = (conn.stats.logins, conn.stats.soap_calls, conn.stats.rest_calls)
    threads = [threading.Thread(target=create, args=(props(vc, emulator, topo, n),)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    zones = {n: emulator.labels(n)[ZONE_LABEL] for n in names}
    assert sorted(set(zones.values())) == [f"zone-a-{_tail(topo)}", f"zone-b-{_tail(topo)}"]
    after = (conn.stats.logins, conn.stats.soap_calls, conn.stats.rest_calls)
    # One inventory read (CreateContainerView, RetrievePropertiesEx, DestroyView) for all nodes, no login;
    # REST: the category list and the tags of two categories, then one attached-objects call.
    assert after[0] - before[0] == 0
    assert after[1] - before[1] == 3
    rest_one_snapshot = after[2] - before[2]
    new_run()
    emulator.add_node(extra := node_name("one"), swap_system_uuid(vms[0].bios_uuid))
    mid = conn.stats.rest_calls
    create(props(vc, emulator, topo, extra))
    assert conn.stats.rest_calls - mid == rest_one_snapshot  # the same for one node as for all of them


# ------------------------------------------------------------------ verify mode


def _cpi_later(kube: Any, name: str, labels: dict[str, str], pid: str, delay: float = 0.4) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        kube.patch_node(name, {"spec": {"providerID": pid, "taints": None}, "metadata": {"labels": labels}})

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_verify_waits_for_the_cpi_and_writes_nothing(vc: VCenter, cluster: Any, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("verify")
    cluster.add_node(name, swap_system_uuid(vm.bios_uuid))
    zone, region = f"zone-a-{_tail(topo)}", f"region-1-{_tail(topo)}"
    patches = cluster.count("patch") if isinstance(cluster, Emulator) else None
    cpi = _cpi_later(cluster, name, {ZONE_LABEL: zone, REGION_LABEL: region}, f"vsphere://{vm.bios_uuid}")
    new_run()
    outs = create(props(vc, cluster, topo, name, mode="verify", vm_uuid=vm.bios_uuid))
    cpi.join()
    assert outs["observed_labels"] == {ZONE_LABEL: zone, REGION_LABEL: region}
    assert outs["observed_provider_id"] == f"vsphere://{vm.bios_uuid}"
    assert outs["owned_labels"] == [] and outs["drift"] == []
    if patches is not None:
        assert cluster.count("patch") == patches  # the CPI wrote (directly); the binding did not


def test_verify_reports_a_cpi_mismatch_naming_label_and_tag(vc: VCenter, cluster: Any, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("mismatch")
    wrong = {ZONE_LABEL: f"zone-b-{_tail(topo)}", REGION_LABEL: f"region-1-{_tail(topo)}"}
    cluster.add_node(name, swap_system_uuid(vm.bios_uuid), f"vsphere://{vm.bios_uuid}", wrong)
    new_run()
    with pytest.raises(BindingError) as caught:
        create(props(vc, cluster, topo, name, mode="verify", timeout=30))
    message = str(caught.value)
    assert f"node '{name}' does not match its VM '{vm.name}'" in message
    assert f"label {ZONE_LABEL} is 'zone-b-{_tail(topo)}', but VM '{vm.name}' is in 'zone-a-{_tail(topo)}'" in message
    assert f"(tag on ClusterComputeResource {CLUSTER_A})" in message
    assert cluster.labels(name)[ZONE_LABEL] == f"zone-b-{_tail(topo)}"  # verify never writes


def test_verify_times_out_naming_what_the_cpi_has_not_done(vc: VCenter, cluster: Any, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("nocpi")
    cluster.add_node(name, swap_system_uuid(vm.bios_uuid))
    new_run()
    with pytest.raises(BindingError) as caught:
        create(props(vc, cluster, topo, name, mode="verify", timeout=1))
    message = str(caught.value)
    assert message.startswith(f"node '{name}' to be initialized by the CPI: not done after")
    assert f"spec.providerID is not set yet (expected vsphere://{vm.bios_uuid})" in message


# ------------------------------------------------------------------ idempotence, drift, repair, delete


def test_nothing_changed_means_no_diff_and_zero_writes(vc: VCenter, emulator: Emulator, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("idle")
    emulator.add_node(name, swap_system_uuid(vm.bios_uuid))
    p = props(vc, emulator, topo, name, vm_uuid=vm.bios_uuid)
    state = create(p)
    version = rv(emulator, name)
    patches = emulator.count("patch")
    new_run()
    state = read(state)
    assert state["drift"] == []
    assert NodeBindingProvider().diff(name, state, p).changes is False
    new_run()
    update(state, p)  # even when asked to update, nothing needs writing
    assert emulator.count("patch") == patches and rv(emulator, name) == version


def test_label_removed_or_edited_by_hand_is_shown_and_repaired(vc: VCenter, cluster: Any, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("drift")
    cluster.add_node(name, swap_system_uuid(vm.bios_uuid))
    p = props(vc, cluster, topo, name, vm_uuid=vm.bios_uuid)
    state = create(p)
    cluster.patch_node(name, {"metadata": {"labels": {ZONE_LABEL: None, REGION_LABEL: "edited"}}})
    new_run()
    state = read(state)
    assert state["observed_labels"] == {REGION_LABEL: "edited"}
    assert state["drift"] == [
        f"label {ZONE_LABEL} is missing (VM '{vm.name}' is in 'zone-a-{_tail(topo)}', "
        f"tag on ClusterComputeResource {CLUSTER_A})",
        f"label {REGION_LABEL} is 'edited', but VM '{vm.name}' is in 'region-1-{_tail(topo)}' (tag on Datacenter {DC})",
    ]
    diff = NodeBindingProvider().diff(name, state, p)
    assert diff.changes is True and diff.replaces == []
    new_run()
    state = update(state, p)
    assert state["drift"] == []
    labels = cluster.labels(name)
    assert (labels[ZONE_LABEL], labels[REGION_LABEL]) == (f"zone-a-{_tail(topo)}", f"region-1-{_tail(topo)}")


def _relocate(vc: VCenter, vm: VmInfo, cluster_ref: ObjectRef) -> None:
    conn = _setup_conn(vc)
    content = conn.service_content()
    stub = content.rootFolder._stub
    target = vim.ClusterComputeResource(cluster_ref.id, stub)
    host = target.host[0]
    task = vim.VirtualMachine(vm.ref.id, stub).RelocateVM_Task(vim.vm.RelocateSpec(host=host, pool=target.resourcePool))
    deadline = time.monotonic() + 60
    while task.info.state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert task.info.state == "success", task.info.error


def test_vmotion_into_another_zone_is_drift_and_relabelled(vc: VCenter, cluster: Any, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[-1]
    name = node_name("vmotion")
    cluster.add_node(name, swap_system_uuid(vm.bios_uuid))
    p = props(vc, cluster, topo, name, vm_uuid=vm.bios_uuid)
    state = create(p)
    assert state["zone"] == f"zone-a-{_tail(topo)}"
    _relocate(vc, vm, topo.cluster_b)  # DRS or a person moves it; the CPI never relabels after init
    try:
        new_run()
        state = read(state)
        assert (state["zone"], state["zone_source"]) == (f"zone-b-{_tail(topo)}", f"ClusterComputeResource {CLUSTER_B}")
        assert state["observed_labels"][ZONE_LABEL] == f"zone-a-{_tail(topo)}"
        assert state["drift"] == [
            f"label {ZONE_LABEL} is 'zone-a-{_tail(topo)}', but VM '{vm.name}' is in 'zone-b-{_tail(topo)}' "
            f"(tag on ClusterComputeResource {CLUSTER_B})"
        ]
        assert "observed_labels" in plan_diff(state, p).changes
        new_run()
        state = update(state, p)
        assert cluster.labels(name)[ZONE_LABEL] == f"zone-b-{_tail(topo)}" and state["drift"] == []
    finally:
        _relocate(vc, vm, topo.cluster_a)


def test_delete_removes_only_the_labels_it_wrote(vc: VCenter, cluster: Any, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("delete")
    cluster.add_node(name, swap_system_uuid(vm.bios_uuid))
    state = create(props(vc, cluster, topo, name, vm_uuid=vm.bios_uuid))
    cluster.patch_node(name, {"metadata": {"labels": {REGION_LABEL: "set-by-someone-else"}}})
    provider().delete(name, state)
    stored = cluster.node(name)
    assert ZONE_LABEL not in stored["metadata"]["labels"]
    assert stored["metadata"]["labels"][REGION_LABEL] == "set-by-someone-else"
    assert stored["spec"]["providerID"] == f"vsphere://{vm.bios_uuid}"  # providerID is never removed


def test_delete_after_verify_writes_nothing(vc: VCenter, emulator: Emulator, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("cpidone")
    labels = {ZONE_LABEL: f"zone-a-{_tail(topo)}", REGION_LABEL: f"region-1-{_tail(topo)}"}
    emulator.add_node(name, swap_system_uuid(vm.bios_uuid), f"vsphere://{vm.bios_uuid}", labels)
    state = create(props(vc, emulator, topo, name, mode="verify"))
    patches = emulator.count("patch")
    provider().delete(name, state)
    assert emulator.count("patch") == patches and emulator.labels(name)[ZONE_LABEL] == labels[ZONE_LABEL]


# ------------------------------------------------------------------ failures


def test_provider_id_naming_another_vm_fails_clearly_and_writes_nothing(
    vc: VCenter, cluster: Any, topo: Topology
) -> None:
    mine, other = _vms(vc, CLUSTER_A)[0], _vms(vc, CLUSTER_B)[0]
    name = node_name("wrongvm")
    cluster.add_node(name, swap_system_uuid(mine.bios_uuid), f"vsphere://{other.bios_uuid}")
    version = rv(cluster, name)
    new_run()
    with pytest.raises(BindingError) as caught:
        create(props(vc, cluster, topo, name, vm_uuid=mine.bios_uuid))
    message = str(caught.value)
    assert f"spec.providerID 'vsphere://{other.bios_uuid}' names VM '{other.name}'" in message
    assert f"not the stack's VM '{mine.name}'" in message
    assert rv(cluster, name) == version


def test_a_node_that_never_registers_times_out_naming_it(vc: VCenter, cluster: Any, topo: Topology) -> None:
    name = node_name("ghost")
    new_run()
    with pytest.raises(NodeNotRegisteredError) as caught:
        create(props(vc, cluster, topo, name, timeout=1))
    assert str(caught.value).startswith(f"node '{name}': not done after 1s")
    assert "it is not registered in the API server" in str(caught.value)


def test_one_broken_node_does_not_affect_the_others(vc: VCenter, emulator: Emulator, topo: Topology) -> None:
    good = _vms(vc, CLUSTER_A)[0]
    names = {"ok1": node_name("ok1"), "bad": node_name("bad"), "ok2": node_name("ok2")}
    emulator.add_node(names["ok1"], swap_system_uuid(good.bios_uuid))
    emulator.add_node(names["bad"], "00000000-0000-4000-8000-000000000000")  # no VM has it
    emulator.add_node(names["ok2"], good.bios_uuid)  # a guest that reports the BIOS order
    new_run()
    results: dict[str, Any] = {}

    def run(key: str) -> None:
        try:
            results[key] = create(props(vc, emulator, topo, names[key]))
        except BindingError as error:
            results[key] = error

    threads = [threading.Thread(target=run, args=(k,)) for k in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert isinstance(results["bad"], BindingError)
    assert f"node '{names['bad']}': no VM has BIOS UUID" in str(results["bad"])
    for key in ("ok1", "ok2"):
        assert results[key]["vm"] == good.name and results[key]["drift"] == []
        assert emulator.labels(names[key])[ZONE_LABEL] == f"zone-a-{_tail(topo)}"
    assert ZONE_LABEL not in emulator.labels(names["bad"])


def test_conflicts_and_transient_api_errors_retry_then_succeed(vc: VCenter, emulator: Emulator, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("flaky")
    emulator.add_node(name, swap_system_uuid(vm.bios_uuid))
    patches, gets = emulator.count("patch"), emulator.count("get")
    emulator.fail_next("get", [503])  # the first read fails: read again after a pause
    # Someone else writes right after the read that precedes our write (the one after the registration
    # check): our conditional patch is then stale -> 409 by the rule, and the binding reads again.
    emulator.after_get(lambda: emulator.write_now(name, {"metadata": {"annotations": {"meddled": "yes"}}}), skip=1)
    emulator.fail_next("patch", [None, 500])  # and the retry after that meets a hiccup once
    new_run()
    outs = create(props(vc, emulator, topo, name))
    assert outs["drift"] == [] and emulator.labels(name)[ZONE_LABEL] == f"zone-a-{_tail(topo)}"
    # PATCH: 409 (stale after the concurrent write), 500 (injected), then the one that landed.
    assert emulator.count("patch") - patches == 3
    assert emulator.count("get") - gets >= 4  # 503, then a fresh read before each patch attempt
    assert emulator.node(name)["metadata"]["annotations"] == {"meddled": "yes"}  # the other write survived


def test_stale_resource_version_is_refused_by_the_rule_and_reread(emulator: Emulator) -> None:
    """The API server rule itself (optimistic concurrency), as programmed: a stale write stores nothing."""
    from providers.node_binding import kube
    from providers.node_binding.plan import Patch

    name = node_name("rules")
    emulator.add_node(name, "11111111-2222-3333-4444-555555555555")
    api = kube.client_for(emulator.kubeconfig())
    with pytest.raises(kube.ConflictError):
        kube.patch_node(api, name, Patch(set_labels={"x": "1"}, resource_version="0"))
    kube.patch_node(api, name, Patch(provider_id="vsphere://11111111-2222-3333-4444-555555555555"))
    with pytest.raises(kube.KubeError) as caught:  # providerID is immutable once set
        kube.patch_node(api, name, Patch(provider_id="vsphere://aaaaaaaa-2222-3333-4444-555555555555"))
    assert caught.value.status == 422 and "may not change providerID" in str(caught.value)
    stored = emulator.node(name)
    assert stored["spec"]["providerID"] == "vsphere://11111111-2222-3333-4444-555555555555"
    assert "x" not in stored["metadata"]["labels"]


def test_a_422_from_the_api_server_is_reported_as_such(vc: VCenter, emulator: Emulator, topo: Topology) -> None:
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("refused")
    emulator.add_node(name, swap_system_uuid(vm.bios_uuid))
    emulator.fail_next("patch", [422])
    new_run()
    with pytest.raises(BindingError, match=r"the API server refused the change: patching node .*HTTP 422"):
        create(props(vc, emulator, topo, name))


def test_vcenter_restart_mid_run_logs_in_again(vc: VCenter, emulator: Emulator, topo: Topology) -> None:
    if vc.sim is None:
        pytest.skip("restarts the simulator; a real vCenter is not restarted by tests")
    vm = _vms(vc, CLUSTER_A)[0]
    name = node_name("restart")
    emulator.add_node(name, swap_system_uuid(vm.bios_uuid))
    p = props(vc, emulator, topo, name, vm_uuid=vm.bios_uuid)
    state = create(p)
    conn = connection_for(vc.endpoint)
    logins = conn.stats.logins
    vc.sim.restart()  # same port; every session is gone and the inventory is rebuilt
    # The simulator forgets tags across restarts (a real vCenter keeps them): put the same names back.
    suffix = _tail(topo)
    fresh = _tag(vc, suffix, read_inventory(_setup_conn(vc)))
    topo.tags.update(fresh.tags)
    new_run()
    state = read(state)  # the provider's cached session is stale: it must log in again
    assert conn.stats.logins > logins
    assert state["vm"] == vm.name and state["zone"] == f"zone-a-{suffix}" and state["drift"] == []
    assert NodeBindingProvider().diff(name, state, p).changes is False
