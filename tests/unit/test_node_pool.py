"""NodePool under Pulumi mocks: the exact vSphere arguments of every node VM, anti-affinity, host zones, names."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_vsphere as vsphere
import pytest

from components.lookups import LookupFailed, VSphereLookups
from components.node_pool import NodePool, NodePoolArgs
from offline.ids import stable_id, stable_uuid
from offline.program import OfflineRun, offline_config, run_program
from offline.recording import Recording, Registration
from offline.runtime import configure, run
from offline.vsphere_fakes import VSphereMocks
from vsphere_k8s.facts import VM_TYPE
from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import plan_nodes
from vsphere_k8s.render import guestinfo
from vsphere_k8s.stack_file import PROJECT

VM = VM_TYPE
RULE = "vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule"
GET_VM = "vsphere:index/getVirtualMachine:getVirtualMachine"


def _vms(run: OfflineRun | Recording) -> dict[str, Registration]:
    """The VMs by the stem of their names (pool, zone, ordinal)."""
    recording = run.recording if isinstance(run, OfflineRun) else run
    return {r.inputs["name"]: r for r in recording.of_type(VM)}


def _uuid(vms: dict[str, Registration], stem: str) -> str:
    return stable_uuid("vm", vms[stem].inputs["name"])


def _tag_id(resource_name: str) -> str:
    return f"urn:vmomi:InventoryServiceTag:{stable_uuid('tag', resource_name)}:GLOBAL"


def _guestinfo(vm: Registration) -> tuple[dict[str, Any], str]:
    extra = vm.inputs["extraConfig"]
    meta = json.loads(guestinfo.decode(extra["guestinfo.metadata"], extra["guestinfo.metadata.encoding"]))
    return meta, guestinfo.decode(extra["guestinfo.userdata"], extra["guestinfo.userdata.encoding"])


def test_every_node_vm_has_what_the_cpi_and_csi_need(sim: OfflineRun) -> None:
    vms = _vms(sim)
    cfg = load(offline_config("sim"), stack="sim")
    assert sorted(vms) == sorted(n.name for n in plan_nodes(cfg))
    for node in plan_nodes(cfg):
        vm = vms[node.name].inputs
        assert vm["enableDiskUuid"] is True
        assert vm["hardwareVersion"] >= 15
        assert vm["numCpus"] == node.shape.cpus
        assert vm["memory"] == node.shape.memory_mib
        assert vm["disks"] == [
            {"label": "disk0", "size": node.shape.disk_gib, "thinProvisioned": True, "eagerlyScrub": False}
        ]
        assert vm["extraConfigRebootRequired"] is False
        assert vm["tags"] == [_tag_id(f"sim-topology-zone-{node.zone}"), _tag_id("sim-topology-region-sim-region")]
        template = sim.mocks.invokes[GET_VM]({"name": node.shape.template, "datacenterId": _dc_id()})
        assert vm["clone"] == {"templateUuid": template["uuid"]}
        assert (vm["guestId"], vm["firmware"], vm["scsiType"]) == ("ubuntu64Guest", "efi", "pvscsi")


def _dc_id() -> str:
    return f"datacenter-{stable_id('datacenter', '', 'DC0')}"


def test_vms_are_placed_in_their_zones_cluster_datastore_and_network(sim: OfflineRun) -> None:
    cfg = load(offline_config("sim"), stack="sim")
    dc = _dc_id()
    for node in plan_nodes(cfg):
        zone = cfg.zone(node.zone)
        vm = _vms(sim)[node.name].inputs
        rp = f"resgroup-{stable_id('rp', dc, zone.compute_cluster)}"
        assert vm["resourcePoolId"] == rp, node.name
        assert vm["datastoreId"] == f"datastore-{stable_id('datastore', dc, zone.datastore)}"
        assert vm["networkInterfaces"] == [
            {"networkId": f"network-{stable_id('network', dc, zone.network.name)}", "adapterType": "vmxnet3"}
        ]
    assert len({vm.inputs["resourcePoolId"] for vm in _vms(sim).values()}) == 3


def test_guestinfo_carries_identity_network_and_user_data_as_a_secret(sim: OfflineRun) -> None:
    cfg = load(offline_config("sim"), stack="sim")
    for node in plan_nodes(cfg):
        vm = _vms(sim)[node.name]
        assert "extraConfig" in vm.secret_inputs
        assert "extraConfig" in vm.additional_secret_outputs
        assert vm.inputs["extraConfig"]["guestinfo.metadata.encoding"] == "base64"
        assert vm.inputs["extraConfig"]["guestinfo.userdata.encoding"] in ("base64", "gzip+base64")
        meta, user_data = _guestinfo(vm)
        assert meta["instance-id"] == meta["local-hostname"] == node.name
        nic = meta["network"]["ethernets"]["nic0"]
        assert nic["addresses"] == [f"{node.ip}/24"]
        assert nic["routes"] == [{"to": "0.0.0.0/0", "via": "10.10.0.1"}]
        assert user_data.startswith("#cloud-config")


def test_vms_wait_for_their_zone_tags_to_be_attached(sim: OfflineRun) -> None:
    for name, vm in _vms(sim).items():
        zone = name.rsplit("-", 2)[1]
        attachment = sim.recording.by_name(f"sim-topology-attach-zone-sim-{zone}")
        assert attachment.urn in vm.dependencies, name


def test_vms_use_their_vcenters_provider_and_pool_parent(sim: OfflineRun) -> None:
    (provider,) = sim.recording.of_type("pulumi:providers:vsphere")
    pools = {p.name: p for p in sim.recording.of_type("vsphere-k8s:vsphere:NodePool")}
    assert set(pools) == {"sim-cp", "sim-general"}
    for name, vm in _vms(sim).items():
        assert vm.provider.startswith(provider.urn)
        assert vm.parent == pools["sim-cp" if name.startswith("sim-cp-") else "sim-general"].urn
    outputs = pools["sim-cp"].component_outputs["vms"]
    assert outputs["cp-sim-a-0"]["uuid"] == _uuid(_vms(sim), "sim-cp-sim-a-0")
    assert outputs["cp-sim-a-0"]["moid"].startswith("vm-")


def test_sim_has_no_anti_affinity_rule_of_one(sim: OfflineRun) -> None:
    assert sim.recording.of_type(RULE) == []  # one VM per pool and cluster: vSphere refuses such a rule


def _crowded() -> dict[str, Any]:
    cfg = copy.deepcopy(offline_config("sim"))
    cfg["nodePools"]["controlPlane"]["replicas"] = {"sim-a": 3}
    cfg["nodePools"]["workers"][0]["replicas"] = {"sim-a": 2, "sim-b": 1}
    return cfg


def test_anti_affinity_keeps_a_pools_vms_in_one_cluster_apart() -> None:
    run = run_program(_crowded(), stack="sim")
    vms = _vms(run)
    rules = {r.name: r for r in run.recording.of_type(RULE)}
    assert set(rules) == {"sim-cp-anti-affinity-DC0-DC0_C0", "sim-general-anti-affinity-DC0-DC0_C0"}
    cp = rules["sim-cp-anti-affinity-DC0-DC0_C0"].inputs
    assert sorted(cp["virtualMachineIds"]) == sorted(_uuid(vms, f"sim-cp-sim-a-{i}") for i in range(3))
    assert cp["mandatory"] is True
    assert cp["computeClusterId"] == f"domain-c-{stable_id('cluster', _dc_id(), 'DC0_C0')}"
    workers = rules["sim-general-anti-affinity-DC0-DC0_C0"].inputs
    assert sorted(workers["virtualMachineIds"]) == sorted(_uuid(vms, f"sim-general-sim-a-{i}") for i in range(2))
    assert workers["mandatory"] is False
    assert cp["name"] != workers["name"]


def test_host_group_zone_pins_vms_to_its_hosts() -> None:
    cfg = _crowded()
    cfg["topology"]["zones"][0]["hosts"] = ["DC0_C0_H0", "DC0_C0_H1"]
    run = run_program(cfg, stack="sim")
    vms = _vms(run)
    host = {h: f"host-{stable_id('host', _dc_id(), h)}" for h in ("DC0_C0_H0", "DC0_C0_H1")}
    assert [vms[f"sim-cp-sim-a-{i}"].inputs["hostSystemId"] for i in range(3)] == [
        host["DC0_C0_H0"],
        host["DC0_C0_H1"],
        host["DC0_C0_H0"],
    ]
    assert "hostSystemId" not in vms["sim-general-sim-b-0"].inputs
    groups = run.recording.by_name("sim-cp-host-group-sim-a").inputs
    assert sorted(groups["hostSystemIds"]) == sorted(host.values())
    vm_group = run.recording.by_name("sim-cp-vm-group-sim-a").inputs
    assert sorted(vm_group["virtualMachineIds"]) == sorted(_uuid(vms, f"sim-cp-sim-a-{i}") for i in range(3))
    rule = run.recording.by_name("sim-cp-vm-host-rule-sim-a").inputs
    assert (rule["vmGroupName"], rule["affinityHostGroupName"], rule["mandatory"]) == (
        vm_group["name"],
        groups["name"],
        True,
    )


def test_adding_a_node_and_a_zone_renames_nothing(sim: OfflineRun) -> None:
    grown = copy.deepcopy(offline_config("sim"))
    grown["nodePools"]["workers"][0]["replicas"] = {"sim-a": 2, "sim-b": 1, "sim-c": 1}
    grown["topology"]["zones"].append(
        {**copy.deepcopy(grown["topology"]["zones"][2]), "name": "sim-d", "computeCluster": "DC0_C3"}
    )
    grown["topology"]["zones"][3]["network"]["static"].update(rangeStart="10.10.0.140", rangeEnd="10.10.0.179")
    grown["nodePools"]["workers"][0]["replicas"]["sim-d"] = 1
    after = run_program(grown, stack="sim")
    before_vms = {vm.urn: vm.inputs for vm in sim.recording.of_type(VM)}
    after_vms = {vm.urn: vm.inputs for vm in after.recording.of_type(VM)}
    assert set(before_vms) < set(after_vms)
    assert len(after_vms) - len(before_vms) == 2
    for urn, inputs in before_vms.items():
        for key in ("name", "resourcePoolId", "datastoreId", "networkInterfaces", "clone", "tags"):
            assert after_vms[urn][key] == inputs[key], (urn, key)
        assert _meta(inputs) == _meta(after_vms[urn])


def _meta(inputs: dict[str, Any]) -> str:
    return guestinfo.decode(inputs["extraConfig"]["guestinfo.metadata"], "base64")


def _with_template(**overrides: Any) -> VSphereMocks:
    mocks = VSphereMocks()
    original = mocks.invokes[GET_VM]

    def template(args: Any) -> dict[str, Any]:
        return {**original(args), **overrides}

    mocks.invokes[GET_VM] = template
    return mocks


def test_old_template_hardware_is_raised_to_15() -> None:
    run = run_program(offline_config("sim"), stack="sim", mocks=_with_template(hardwareVersion=13))
    assert {vm.inputs["hardwareVersion"] for vm in run.recording.of_type(VM)} == {15}


def test_disk_smaller_than_the_template_is_refused_by_key() -> None:
    big = [{"label": "disk0", "size": 50, "thinProvisioned": True, "eagerlyScrub": False}]
    with pytest.raises(Exception, match=r"nodePools\.controlPlane\.diskGib: 40 GiB is smaller than template"):
        run_program(offline_config("sim"), stack="sim", mocks=_with_template(disks=big))


@pytest.mark.parametrize(
    ("kind", "missing", "message"),
    [
        ("datastore", "LocalDS_0", r"topology\.zones\[sim-a\]\.datastore: datastore 'LocalDS_0' .* was not found"),
        ("network", "VM Network", r"topology\.zones\[sim-a\]\.network\.name: network 'VM Network'"),
        ("template", "DC0_C0_RP0_VM0", r"nodePools\.controlPlane\.template: template 'DC0_C0_RP0_VM0'"),
        ("cluster", "DC0_C0", r"topology\.zones\[sim-a\]\.computeCluster: compute cluster 'DC0_C0'"),
    ],
)
def test_missing_vcenter_object_names_its_config_key(kind: str, missing: str, message: str) -> None:
    mocks = VSphereMocks()
    everything = {
        "datacenter": {"DC0"},
        "cluster": {"DC0_C0", "DC0_C1", "DC0_C2"},
        "datastore": {"LocalDS_0"},
        "network": {"VM Network"},
        "template": {"DC0_C0_RP0_VM0"},
    }
    everything[kind] = everything[kind] - {missing}
    mocks.inventory = everything
    with pytest.raises(Exception, match=message):
        run_program(offline_config("sim"), stack="sim", mocks=mocks)


def _direct(build: Callable[[], None]) -> Recording:
    mocks, monitor = configure({}, project=PROJECT, stack="direct")
    return run(build, monitor, mocks)


def test_user_data_is_taken_per_node_key_and_kept_secret() -> None:
    cfg = load(offline_config("sim"), stack="sim")
    nodes = [n for n in plan_nodes(cfg) if n.pool == "general"]

    def build() -> None:
        providers = {"sim": vsphere.Provider("vc")}
        NodePool(
            "np",
            NodePoolArgs(
                config=cfg,
                pool="general",
                nodes=nodes,
                providers=providers,
                lookups=VSphereLookups(cfg, providers),
                zone_tags={z.name: f"zone-tag-{z.name}" for z in cfg.topology.zones},
                region_tags={"sim-region": "region-tag"},
                user_data={
                    n.key: pulumi.Output.secret(f"#cloud-config\nhostname: {n.name}\n# {n.key}\n") for n in nodes
                },
            ),
        )

    recording = _direct(build)
    vms = _vms(recording)
    assert set(vms) == {n.name for n in nodes}
    for node in nodes:
        vm = vms[node.name]
        assert _guestinfo(vm)[1] == f"#cloud-config\nhostname: {node.name}\n# {node.key}\n"
        assert vm.inputs["tags"] == [f"zone-tag-{node.zone}", "region-tag"]
        assert vm.name == f"np-vm-{node.zone}-{node.ordinal}"
        assert "extraConfig" in vm.secret_inputs


def test_a_node_without_user_data_is_refused_before_registering() -> None:
    cfg = load(offline_config("sim"), stack="sim")
    nodes = [n for n in plan_nodes(cfg) if n.pool == "general"]
    errors: list[BaseException] = []

    def build() -> None:
        providers = {"sim": vsphere.Provider("vc")}
        args = NodePoolArgs(cfg, "general", nodes, providers, VSphereLookups(cfg, providers), {}, {}, {})
        try:
            NodePool("np", args)
        except ValueError as error:
            errors.append(error)

    recording = _direct(build)
    assert "no user-data for node(s) general-sim-a-0, general-sim-b-0, general-sim-c-0" in str(errors[0])
    assert recording.of_type(VM) == []


def test_lookup_failure_is_a_run_error() -> None:
    assert issubclass(LookupFailed, pulumi.RunError)  # printed as a message, not a traceback
