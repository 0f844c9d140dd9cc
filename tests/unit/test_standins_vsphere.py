"""The stand-in vSphere plugin against vcsim, driven over gRPC as the engine drives it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from pulumi.runtime.proto import provider_pb2 as pb
from pyVmomi import vim

from providers.vcenter.connection import Endpoint, VCenterConnection
from tests.support.vcsim import VCenterTarget
from tests.unit.test_standins_grpc import Plugin, start_plugin
from toolchain.standins.wire import Secret, marshal, unmarshal
from vsphere_k8s.facts import VM_TYPE

pytestmark = pytest.mark.live

CATEGORY = "vsphere:index/tagCategory:TagCategory"
TAG = "vsphere:index/tag:Tag"
VM = VM_TYPE


@pytest.fixture(scope="module")
def plugin(vcenter: VCenterTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plugin]:
    started = start_plugin("vsphere", tmp_path_factory.mktemp("vsphere-plugin"))
    config = {
        "vsphereServer": f"{vcenter.address}:{vcenter.port}",
        "user": Secret(vcenter.username),
        "password": Secret(vcenter.password),
        "allowUnverifiedSsl": "true" if vcenter.insecure else "false",  # the SDK sends provider inputs as JSON
        "version": "4.18.2",
    }
    started.stub.Configure(pb.ConfigureRequest(args=marshal(config), acceptSecrets=True, acceptResources=True))
    yield started
    started.proc.kill()
    started.proc.wait()


@pytest.fixture(scope="module")
def soap(vcenter: VCenterTarget) -> Iterator[VCenterConnection]:
    conn = VCenterConnection(
        Endpoint(vcenter.address, vcenter.port, vcenter.username, vcenter.password, insecure=vcenter.insecure)
    )
    yield conn
    conn.close()


def invoke(plugin: Plugin, fn: str, **args: Any) -> dict[str, Any]:
    answer = plugin.stub.Invoke(pb.InvokeRequest(tok=f"vsphere:index/{fn}:{fn}", args=marshal(args)))
    return unmarshal(getattr(answer, "return"))


def check(plugin: Plugin, token: str, name: str, news: dict[str, Any]) -> Any:
    answer = plugin.stub.Check(pb.CheckRequest(urn=plugin.urn(token, name), type=token, name=name, news=marshal(news)))
    assert [(f.property, f.reason) for f in answer.failures] == []
    return answer.inputs


def create(plugin: Plugin, token: str, name: str, news: dict[str, Any]) -> tuple[str, Any, Any]:
    inputs = check(plugin, token, name, news)
    made = plugin.stub.Create(pb.CreateRequest(urn=plugin.urn(token, name), type=token, properties=inputs, timeout=600))
    assert made.id
    return made.id, made.properties, inputs


def read(plugin: Plugin, token: str, rid: str, props: Any, inputs: Any) -> Any:
    return plugin.stub.Read(pb.ReadRequest(id=rid, urn=plugin.urn(token), type=token, properties=props, inputs=inputs))


def delete(plugin: Plugin, token: str, rid: str, props: Any) -> None:
    plugin.stub.Delete(pb.DeleteRequest(id=rid, urn=plugin.urn(token), type=token, properties=props))


def test_lookups_answer_with_moids_and_name_what_is_missing(plugin: Plugin):
    dc = invoke(plugin, "getDatacenter", name="DC0")
    assert dc["id"].startswith("datacenter-") and dc["name"] == "DC0"
    cluster = invoke(plugin, "getComputeCluster", name="DC0_C0", datacenterId=dc["id"])
    assert cluster["resourcePoolId"].startswith("resgroup-")
    assert invoke(plugin, "getDatastore", name="LocalDS_0", datacenterId=dc["id"])["id"]
    assert invoke(plugin, "getNetwork", name="VM Network", datacenterId=dc["id"])["id"].startswith("network-")
    host = invoke(plugin, "getHost", name="DC0_C0_H0", datacenterId=dc["id"])
    assert host["id"].startswith("host-") and host["resourcePoolId"] == cluster["resourcePoolId"]
    template = invoke(plugin, "getVirtualMachine", name="DC0_C0_RP0_VM0", datacenterId=dc["id"])
    assert template["id"] == template["uuid"] and template["disks"] and template["networkInterfaceTypes"]
    folder = invoke(plugin, "getFolder", path="/DC0/vm")  # moids differ between vcsim releases
    assert folder["id"] and folder["path"] == "/DC0/vm"
    with pytest.raises(grpc.RpcError) as caught:
        invoke(plugin, "getDatacenter", name="DC-missing")
    assert "datacenter 'DC-missing' not found" in str(caught.value.details())
    with pytest.raises(grpc.RpcError) as caught:
        invoke(plugin, "getVirtualMachine", name="no-such-template", datacenterId=dc["id"])
    assert "'no-such-template' not found" in str(caught.value.details())


def test_tag_category_and_tag_lifecycle_and_gone_after_delete(plugin: Plugin):
    cat_id, cat_props, cat_inputs = create(
        plugin,
        CATEGORY,
        "zone-cat",
        {"name": "k8s-zone-test", "cardinality": "SINGLE", "associableTypes": ["HostSystem"]},
    )
    assert unmarshal(cat_props)["associableTypes"] == ["HostSystem"]  # read back without the urn:vim25: prefix
    tag_id, tag_props, tag_inputs = create(plugin, TAG, "zone-a", {"name": "zone-a", "categoryId": cat_id})
    assert tag_id.startswith("urn:vmomi:InventoryServiceTag:")
    again = read(plugin, TAG, tag_id, tag_props, tag_inputs)
    assert again.id == tag_id and unmarshal(again.properties)["categoryId"] == cat_id
    diff = plugin.stub.Diff(
        pb.DiffRequest(id=tag_id, type=TAG, urn=plugin.urn(TAG), olds=again.properties, news=tag_inputs)
    )
    assert diff.changes == pb.DiffResponse.DIFF_NONE

    grown = check(
        plugin, CATEGORY, "zone-cat", {**unmarshal(cat_inputs), "associableTypes": ["HostSystem", "Datacenter"]}
    )
    updated = plugin.stub.Update(
        pb.UpdateRequest(id=cat_id, type=CATEGORY, urn=plugin.urn(CATEGORY), olds=cat_props, news=grown)
    )
    assert sorted(unmarshal(updated.properties)["associableTypes"]) == ["Datacenter", "HostSystem"]
    shrunk = check(plugin, CATEGORY, "zone-cat", {**unmarshal(cat_inputs), "associableTypes": ["Datacenter"]})
    with pytest.raises(grpc.RpcError) as caught:
        plugin.stub.Update(
            pb.UpdateRequest(id=cat_id, type=CATEGORY, urn=plugin.urn(CATEGORY), olds=updated.properties, news=shrunk)
        )
    assert "cannot remove type 'HostSystem'" in str(caught.value.details())

    delete(plugin, TAG, tag_id, tag_props)
    assert read(plugin, TAG, tag_id, tag_props, tag_inputs).id == ""
    delete(plugin, TAG, tag_id, tag_props)  # already gone: still a success
    delete(plugin, CATEGORY, cat_id, updated.properties)
    assert read(plugin, CATEGORY, cat_id, cat_props, cat_inputs).id == ""


def test_vm_clone_with_extra_config_and_disk_uuid_then_gone_after_out_of_band_delete(
    plugin: Plugin, soap: VCenterConnection
):
    dc = invoke(plugin, "getDatacenter", name="DC0")["id"]
    pool = invoke(plugin, "getComputeCluster", name="DC0_C0", datacenterId=dc)["resourcePoolId"]
    datastore = invoke(plugin, "getDatastore", name="LocalDS_0", datacenterId=dc)["id"]
    network = invoke(plugin, "getNetwork", name="VM Network", datacenterId=dc)["id"]
    template = invoke(plugin, "getVirtualMachine", name="DC0_C0_RP0_VM0", datacenterId=dc)
    cat_id, cat_props, _ = create(
        plugin,
        CATEGORY,
        "vm-cat",
        {"name": "k8s-vm-test", "cardinality": "MULTIPLE", "associableTypes": ["VirtualMachine"]},
    )
    tag_id, tag_props, _ = create(plugin, TAG, "vm-tag", {"name": "zone-vm", "categoryId": cat_id})
    news = {
        "name": "standin-node-0",
        "resourcePoolId": pool,
        "datastoreId": datastore,
        "numCpus": 2,
        "memory": 2048,
        "guestId": template["guestId"],
        "hardwareVersion": 15,
        "enableDiskUuid": True,
        "extraConfig": Secret({"guestinfo.metadata": "bWV0YQ==", "guestinfo.metadata.encoding": "base64"}),
        "extraConfigRebootRequired": False,
        "disks": [
            {
                "label": "disk0",
                "size": template["disks"][0]["size"] + 1,
                "thinProvisioned": template["disks"][0]["thinProvisioned"],
            }
        ],
        "networkInterfaces": [{"networkId": network, "adapterType": template["networkInterfaceTypes"][0]}],
        "clone": {"templateUuid": template["uuid"]},
        "tags": [tag_id],
        "waitForGuestNetTimeout": 0,  # vcsim guests report no address: the real waiter would time out
    }
    vm_id, props, inputs = create(plugin, VM, "node-0", news)
    outs = unmarshal(props)
    assert vm_id == outs["uuid"] != template["uuid"]
    assert outs["moid"].startswith("vm-") and outs["enableDiskUuid"] is True and outs["numCpus"] == 2
    assert outs["hardwareVersion"] == 15 and outs["tags"] == [tag_id] and outs["powerState"] == "on"
    assert isinstance(outs["extraConfig"], Secret)  # a secret input stays secret in state
    assert outs["disks"][0]["size"] == template["disks"][0]["size"] + 1 and outs["disks"][0]["label"] == "disk0"

    content = soap.service_content()
    vm = soap.call(lambda: content.searchIndex.FindByUuid(None, vm_id, True, False))
    config = soap.call(lambda: vm.config)
    assert config.flags.diskUuidEnabled is True
    assert {o.key: o.value for o in config.extraConfig}["guestinfo.metadata"] == "bWV0YQ=="

    refreshed = read(plugin, VM, vm_id, props, inputs)
    assert refreshed.id == vm_id
    diff = plugin.stub.Diff(
        pb.DiffRequest(id=vm_id, type=VM, urn=plugin.urn(VM), olds=refreshed.properties, news=inputs)
    )
    assert diff.changes == pb.DiffResponse.DIFF_NONE, dict(diff.detailedDiff)
    replaced = check(plugin, VM, "node-0", {**news, "clone": {"templateUuid": "4211-0000-other"}})
    diff = plugin.stub.Diff(pb.DiffRequest(id=vm_id, type=VM, urn=plugin.urn(VM), olds=props, news=replaced))
    assert list(diff.replaces) == ["clone"]

    # Deleted behind Pulumi's back: refresh answers "gone", and deleting it again is no error.
    soap.call(lambda: _wait(soap, vm.PowerOffVM_Task()))
    soap.call(lambda: _wait(soap, vm.Destroy_Task()))
    assert read(plugin, VM, vm_id, props, inputs).id == ""
    delete(plugin, VM, vm_id, props)
    delete(plugin, CATEGORY, cat_id, cat_props)
    assert read(plugin, TAG, tag_id, tag_props, marshal({})).id == ""  # the category took its tag along


def _wait(conn: VCenterConnection, task: Any) -> None:
    import time

    while task.info.state not in (vim.TaskInfo.State.success, vim.TaskInfo.State.error):
        time.sleep(0.05)


def test_vm_create_with_missing_template_names_it(plugin: Plugin):
    dc = invoke(plugin, "getDatacenter", name="DC0")["id"]
    pool = invoke(plugin, "getComputeCluster", name="DC0_C0", datacenterId=dc)["resourcePoolId"]
    inputs = check(
        plugin,
        VM,
        "broken",
        {"name": "broken", "resourcePoolId": pool, "datastoreId": "x", "clone": {"templateUuid": "4211-dead-beef"}},
    )
    with pytest.raises(grpc.RpcError) as caught:
        plugin.stub.Create(pb.CreateRequest(urn=plugin.urn(VM), type=VM, properties=inputs))
    assert "4211-dead-beef" in str(caught.value.details())


def _update(plugin: Plugin, token: str, rid: str, olds: Any, news: dict[str, Any]) -> dict[str, Any]:
    inputs = check(plugin, token, "r", news)
    answer = plugin.stub.Update(pb.UpdateRequest(id=rid, type=token, urn=plugin.urn(token), olds=olds, news=inputs))
    return unmarshal(answer.properties)


def test_drs_rules_and_groups_are_created_edited_and_removed_in_the_cluster(
    plugin: Plugin, soap: VCenterConnection
) -> None:
    from providers.vcenter.inventory import read_inventory
    from toolchain.standins.vsphere import cluster_rules as cr

    dc = invoke(plugin, "getDatacenter", name="DC0")["id"]
    cluster = invoke(plugin, "getComputeCluster", name="DC0_C0", datacenterId=dc)["id"]
    hosts = [invoke(plugin, "getHost", name=f"DC0_C0_H{i}", datacenterId=dc)["id"] for i in (0, 1)]
    inventory = read_inventory(soap)
    uuids = sorted(
        vm.bios_uuid
        for vm in inventory.vms.values()
        if not vm.template
        and vm.host is not None
        and inventory.objects[vm.host].parent is not None
        and inventory.objects[vm.host].parent.id == cluster  # type: ignore[union-attr]
    )[:2]
    assert len(uuids) == 2
    anti = cr.ComputeClusterVmAntiAffinityRule.pulumi_type
    rule_in = {"computeClusterId": cluster, "name": "aa-test", "virtualMachineIds": uuids, "mandatory": True}
    rule_id, rule_props, rule_inputs = create(plugin, anti, "aa", rule_in)
    assert rule_id.startswith(f"{cluster}:")
    assert unmarshal(rule_props) | {"virtualMachineIds": sorted(unmarshal(rule_props)["virtualMachineIds"])} == {
        **rule_in,
        "enabled": True,
    }
    edited = _update(plugin, anti, rule_id, rule_props, {**rule_in, "enabled": False})
    assert edited["enabled"] is False and edited["mandatory"] is True

    vm_group_type, host_group_type = cr.ComputeClusterVmGroup.pulumi_type, cr.ComputeClusterHostGroup.pulumi_type
    vm_group = {"computeClusterId": cluster, "name": "vg-test", "virtualMachineIds": uuids[:1]}
    vg_id, vg_props, _ = create(plugin, vm_group_type, "vg", vm_group)
    host_group = {"computeClusterId": cluster, "name": "hg-test", "hostSystemIds": hosts[:1]}
    hg_id, hg_props, _ = create(plugin, host_group_type, "hg", host_group)
    assert (vg_id, hg_id) == (f"{cluster}:vg-test", f"{cluster}:hg-test")
    grown = _update(plugin, host_group_type, hg_id, hg_props, {**host_group, "hostSystemIds": hosts})
    assert grown["hostSystemIds"] == sorted(hosts)
    host_rule = cr.ComputeClusterVmHostRule.pulumi_type
    affinity = {"computeClusterId": cluster, "name": "vh-test", "vmGroupName": "vg-test"}
    vh_id, vh_props, _ = create(plugin, host_rule, "vh", {**affinity, "affinityHostGroupName": "hg-test"})
    vh = unmarshal(vh_props)
    assert (vh["affinityHostGroupName"], vh["antiAffinityHostGroupName"], vh["enabled"]) == ("hg-test", "", True)

    # Removed in the reverse order the engine deletes them; each then reads as gone.
    for token, rid, props in (
        (host_rule, vh_id, vh_props),
        (host_group_type, hg_id, hg_props),
        (vm_group_type, vg_id, vg_props),
        (anti, rule_id, rule_props),
    ):
        delete(plugin, token, rid, props)
        assert read(plugin, token, rid, props, rule_inputs).id == ""
