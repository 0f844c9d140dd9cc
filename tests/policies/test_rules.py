"""Each rule on a passing and a violating case, with plain resource views (no Pulumi CLI)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from policies import facts, rules
from policies.view import UNKNOWN, ResourceView

from .builders import (
    Topology,
    anti_affinity,
    category,
    control_plane_vm,
    cpi_configmap,
    cpi_secret,
    csi_secret,
    kubeadm_user_data,
    storage_class,
    view,
    vm,
    workload,
)

CFG = rules.policy("node-vm-single-zone-and-region").defaults()


def messages(violations: list[rules.Violation]) -> str:
    return " | ".join(v.message for v in violations)


# --------------------------------------------------------------------------- VM prerequisites


def test_vm_with_disk_uuid_and_hw19_passes() -> None:
    assert rules.vm_disk_uuid_and_hardware(vm("n1"), {}) == []


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"disk_uuid": False}, "enableDiskUuid must be true"),
        ({"hardware_version": 14}, "hardwareVersion 14 is below 15"),
        ({"hardware_version": None}, "hardwareVersion is not set"),
    ],
)
def test_vm_prerequisites_violations(kw: dict[str, Any], expected: str) -> None:
    problems = rules.vm_disk_uuid_and_hardware(vm("n1", **kw), {"minHardwareVersion": 15})
    assert len(problems) == 1 and expected in problems[0]


def test_vm_unknown_values_are_not_judged_and_extra_config_override_is() -> None:
    assert rules.vm_disk_uuid_and_hardware(vm("n1", disk_uuid=UNKNOWN, hardware_version=UNKNOWN), {}) == []
    overridden = view(
        facts.VM,
        "n2",
        props={"enableDiskUuid": True, "hardwareVersion": 19, "extraConfig": {"disk.EnableUUID": "FALSE"}},
    )
    assert "overrides enableDiskUuid" in rules.vm_disk_uuid_and_hardware(overridden, {})[0]


# --------------------------------------------------------------------------- TLS


def provider(stack: str, insecure: object) -> ResourceView:
    return view(facts.VSPHERE_PROVIDER, "vc", stack, props={"vsphereServer": "vc", "allowUnverifiedSsl": insecure})


def test_tls_verified_provider_passes_and_insecure_is_allowed_only_on_listed_stacks() -> None:
    cfg = {"allowInsecureStacks": ["sim"]}
    assert rules.tls_verified(provider("prod", "false"), cfg) == []
    assert rules.tls_verified(provider("sim", "true"), cfg) == []
    problems = rules.tls_verified(provider("prod", "true"), cfg)
    assert len(problems) == 1 and "allowUnverifiedSsl" in problems[0] and "'prod'" in problems[0]


def test_tls_rule_reads_cpi_csi_configs_and_dynamic_resources() -> None:
    cfg: dict[str, Any] = {"allowInsecureStacks": []}
    assert rules.tls_verified(cpi_configmap(), cfg) == []
    assert rules.tls_verified(csi_secret(), cfg) == []
    assert "insecureFlag" in rules.tls_verified(cpi_configmap(insecure=True), cfg)[0]
    assert 'VirtualCenter "vc.example"' in rules.tls_verified(csi_secret(insecure=True), cfg)[0]
    dynamic = view("pulumi-python:dynamic/vsphere:TagAttachment", "a", props={"insecure": True})
    assert "TLS verification off" in rules.tls_verified(dynamic, cfg)[0]


def test_tls_rule_reads_the_nsxt_section_of_vsphere_conf() -> None:
    def with_nsxt(insecure: bool) -> ResourceView:
        text = (
            cpi_configmap().props["data"]["vsphere.conf"]
            + f"nsxt:\n  host: nsx.example\n  insecureFlag: {str(insecure).lower()}\n"
        )
        return view(facts.CONFIG_MAP, "cpi-config", props={"data": {"vsphere.conf": text}})

    assert rules.tls_verified(with_nsxt(False), {"allowInsecureStacks": []}) == []
    (problem,) = rules.tls_verified(with_nsxt(True), {"allowInsecureStacks": []})
    assert "nsxt nsx.example" in problem and "'prod'" in problem
    assert rules.tls_verified(with_nsxt(True), {"allowInsecureStacks": ["prod"]}) == []


# --------------------------------------------------------------------------- credentials


def test_configmap_without_credentials_passes() -> None:
    assert rules.credentials_in_secrets(cpi_configmap(), {}) == []


@pytest.mark.parametrize(
    "data",
    [
        {"vc.example.password": "hunter2"},
        {"vsphere.conf": "global:\n  user: admin\n  password: hunter2\n"},
        {"key.pem": "-----BEGIN RSA PRIVATE KEY-----\nMII...\n"},
    ],
)
def test_configmap_with_credentials_violates(data: dict[str, str]) -> None:
    cm = view(facts.CONFIG_MAP, "cm", props={"metadata": {"name": "c"}, "data": data})
    assert "holds a credential" in rules.credentials_in_secrets(cm, {})[0]


def test_plaintext_credential_inputs_and_outputs_violate_when_secrecy_is_known() -> None:
    secret_input = view(
        "pulumi-python:dynamic/vsphere:X", "x", props={"password": "p"}, secret_props=frozenset({"password"})
    )
    plain_input = view("pulumi-python:dynamic/vsphere:X", "x", props={"password": "p"}, secret_props=frozenset())
    unknown_secrecy = view("pulumi-python:dynamic/vsphere:X", "x", props={"password": "p"}, secret_props=None)
    plain_output = view(
        "vsphere-k8s:index:Cluster",
        "c",
        props={"kubeconfig": "users:\n- user:\n    client-key-data: QUJD\n"},
        secret_props=frozenset(),
        custom=False,
    )
    assert rules.credentials_in_secrets(secret_input, {}) == []
    assert rules.credentials_in_secrets(unknown_secrecy, {}) == []
    assert rules.credentials_in_secrets(plain_input, {}) == [
        "input password holds a credential in plaintext; wrap it in pulumi.Output.secret"
    ]
    assert "output kubeconfig" in rules.credentials_in_secrets(plain_output, {})[0]


def test_env_literal_password_in_workload_violates() -> None:
    ok = workload(
        "d",
        [
            {
                "name": "c",
                "image": "i",
                "env": [{"name": "VSPHERE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            }
        ],
    )
    bad = workload("d", [{"name": "c", "image": "i", "env": [{"name": "VSPHERE_PASSWORD", "value": "p"}]}])
    assert rules.credentials_in_secrets(ok, {}) == []
    assert "secretKeyRef" in rules.credentials_in_secrets(bad, {})[0]


# --------------------------------------------------------------------------- in-tree cloud provider


def test_external_kubelets_and_the_cpi_itself_pass() -> None:
    assert rules.no_in_tree_cloud_provider(vm("n", user_data=kubeadm_user_data("InitConfiguration")), {}) == []
    cpi = workload(
        "cpi",
        [
            {
                "name": "ccm",
                "image": "registry.k8s.io/cloud-pv-vsphere/cloud-provider-vsphere:v1.31.1",
                "args": ["--cloud-provider=vsphere"],
            }
        ],
    )
    assert rules.no_in_tree_cloud_provider(cpi, {}) == []
    assert rules.no_in_tree_cloud_provider(storage_class("sc"), {}) == []


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (vm("n", user_data=kubeadm_user_data("JoinConfiguration", cloud_provider="vsphere")), "cloud-provider=vsphere"),
        (vm("n", user_data=kubeadm_user_data("JoinConfiguration", cloud_provider=None)), "cloud-provider=(unset)"),
        (vm("n", user_data="#!/bin/sh\nKUBELET_EXTRA_ARGS=--cloud-provider=vsphere\n"), "in-tree"),
        (
            workload(
                "apiserver",
                [
                    {
                        "name": "a",
                        "image": "registry.k8s.io/kube-apiserver:v1.31.4",
                        "command": ["kube-apiserver", "--cloud-provider=vsphere"],
                    }
                ],
                "Deployment",
            ),
            "kube-apiserver",
        ),
        (storage_class("old", provisioner="kubernetes.io/vsphere-volume"), "in-tree plugin"),
    ],
)
def test_in_tree_cloud_provider_violations(resource: ResourceView, expected: str) -> None:
    problems = rules.no_in_tree_cloud_provider(resource, {})
    assert problems and expected in " ".join(problems)


KUBEADM_CONFIG = """apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.4
controllerManager:
  extraArgs:
  - name: cloud-provider
    value: {value}
"""


def kubeadm_config_map(value: str) -> ResourceView:
    data = {"ClusterConfiguration": KUBEADM_CONFIG.format(value=value)}
    return view(facts.CONFIG_MAP, "kubeadm-config", props={"metadata": {"name": "kubeadm-config"}, "data": data})


def test_in_tree_cloud_provider_in_a_config_map_violates() -> None:
    (problem,) = rules.no_in_tree_cloud_provider(kubeadm_config_map("vsphere"), {})
    assert "'ClusterConfiguration'" in problem and "controllerManager sets cloud-provider=vsphere" in problem
    flags = view(
        facts.CONFIG_MAP, "kubelet-flags", props={"data": {"kubeadm-flags.env": "ARGS=--cloud-provider=vsphere"}}
    )
    assert "passes --cloud-provider=vsphere" in rules.no_in_tree_cloud_provider(flags, {})[0]


def test_external_cloud_provider_and_cpi_config_in_config_maps_pass() -> None:
    assert rules.no_in_tree_cloud_provider(kubeadm_config_map("external"), {}) == []
    assert rules.no_in_tree_cloud_provider(cpi_configmap(), {}) == []
    # A kubeadm document in a ConfigMap without kubelet args says nothing about the kubelet: not a finding.
    init = view(
        facts.CONFIG_MAP,
        "init",
        props={"data": {"init.yaml": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"}},
    )
    assert rules.no_in_tree_cloud_provider(init, {}) == []


def test_gzip_user_data_is_read() -> None:
    import gzip

    text = kubeadm_user_data("JoinConfiguration", cloud_provider="vsphere")
    node = view(
        facts.VM,
        "n",
        props={
            "extraConfig": {
                "guestinfo.userdata": base64.b64encode(gzip.compress(text.encode())).decode(),
                "guestinfo.userdata.encoding": "gzip+base64",
            }
        },
    )
    assert "cloud-provider=vsphere" in rules.no_in_tree_cloud_provider(node, {})[0]


# --------------------------------------------------------------------------- tag categories


def test_tag_category_cardinality() -> None:
    assert rules.tag_category_single(category("k8s-zone"), {}) == []
    assert "MULTIPLE" in rules.tag_category_single(category("k8s-zone", "MULTIPLE"), {})[0]


# --------------------------------------------------------------------------- versions


def cpi_csi(cpi: str, csi: str, syncer: str | None = None) -> list[ResourceView]:
    return [
        workload("cpi", [{"name": "ccm", "image": f"registry.k8s.io/cloud-pv-vsphere/cloud-provider-vsphere:{cpi}"}]),
        workload(
            "csi",
            [
                {"name": "driver", "image": f"registry.k8s.io/csi-vsphere/driver:{csi}"},
                {"name": "syncer", "image": f"registry.k8s.io/csi-vsphere/syncer:{syncer or csi}"},
            ],
            "Deployment",
        ),
        vm("cp", user_data=kubeadm_user_data("InitConfiguration")),  # kubernetesVersion v1.31.4
    ]


def test_supported_versions_pass() -> None:
    assert rules.versions_supported(cpi_csi("v1.31.1", "v3.5.1"), {}) == []


@pytest.mark.parametrize(
    ("cpi", "csi", "syncer", "expected"),
    [
        ("v1.29.2", "v3.5.1", None, "CPI v1.29.2 is built for Kubernetes 1.29"),
        ("v1.31.1", "v3.8.0", None, "CSI v3.8.0 supports Kubernetes 1.34-1.36"),
        ("v1.31.1", "v9.9.9", None, "not a known release"),
        ("v1.31.1", "v3.5.1", "v3.4.0", "syncer v3.4.0 differs"),
    ],
)
def test_unsupported_versions_violate(cpi: str, csi: str, syncer: str | None, expected: str) -> None:
    found = rules.versions_supported(cpi_csi(cpi, csi, syncer), {})
    assert expected in messages(found)


def test_version_from_pack_config_when_no_kubeadm() -> None:
    resources = cpi_csi("v1.31.1", "v3.5.1")[:2]
    assert rules.versions_supported(resources, {}) == []  # nothing to judge against
    assert "1.31" in messages(rules.versions_supported(resources, {"kubernetesVersion": "1.34.0"}))


# --------------------------------------------------------------------------- zones


def test_each_vm_in_one_zone_and_region() -> None:
    topo = Topology()
    good = [*topo.resources(), vm("n1", topo.placed("east-a"))]
    assert rules.vm_single_zone_and_region(good, CFG) == []
    two_zones = [*topo.resources(), vm("n1", [topo.zones["east-a"], topo.zones["east-b"], topo.east])]
    no_region = [*topo.resources(), vm("n2", [topo.zones["east-a"]])]
    assert "2 zone tags" in messages(rules.vm_single_zone_and_region(two_zones, CFG))
    assert "0 region tags" in messages(rules.vm_single_zone_and_region(no_region, CFG))


def test_vm_zone_resolved_by_property_dependencies_during_preview() -> None:
    topo = Topology()
    node = view(facts.VM, "n1", props={"tags": UNKNOWN}, property_dependencies={"tags": (topo.zones["east-a"].urn,)})
    found = rules.vm_single_zone_and_region([*topo.resources(), node], CFG)
    assert "0 region tags" in messages(found) and all(v.urn == node.urn for v in found)


def test_tags_not_managed_by_the_stack_are_not_judged() -> None:
    topo = Topology()
    node = view(facts.VM, "n1", props={"tags": ["urn:vmomi:InventoryServiceTag:elsewhere:GLOBAL"]})
    assert rules.vm_single_zone_and_region([*topo.resources(), node], CFG) == []


def three_control_planes(topo: Topology, zones: tuple[str, str, str]) -> list[ResourceView]:
    return [control_plane_vm(f"cp-{i}", topo.placed(z), first=i == 0) for i, z in enumerate(zones)]


def test_control_plane_spread_over_zones_passes() -> None:
    topo = Topology()
    cps = three_control_planes(topo, ("east-a", "east-b", "east-c"))
    assert rules.control_plane_quorum_spread([*topo.resources(), *cps], CFG) == []


def test_control_plane_even_count_violates() -> None:
    topo = Topology()
    cps = [control_plane_vm(f"cp-{i}", topo.placed(z), first=i == 0) for i, z in enumerate(("east-a", "east-b"))]
    assert "etcd needs 1, 3 or 5" in messages(rules.control_plane_quorum_spread([*topo.resources(), *cps], CFG))


def test_control_plane_in_one_zone_violates_spread_and_needs_anti_affinity() -> None:
    topo = Topology()
    cps = three_control_planes(topo, ("east-a", "east-a", "east-b"))
    found = messages(rules.control_plane_quorum_spread([*topo.resources(), *cps], CFG))
    assert "use 2 of 3 zones" in found and "one zone holds 2 of 3" in found
    assert "cp-0 and cp-1 share zone east-a but no mandatory" in found
    # A mandatory rule over the two clears the anti-affinity finding; a soft one does not.
    soft = [*topo.resources(), *cps, anti_affinity("aa", cps[:2], mandatory=False)]
    hard = [*topo.resources(), *cps, anti_affinity("aa", cps[:2], mandatory=True)]
    assert "no mandatory" in messages(rules.control_plane_quorum_spread(soft, CFG))
    assert "no mandatory" not in messages(rules.control_plane_quorum_spread(hard, CFG))


def zone_attachment(topo: Topology, zone: str, targets: list[dict[str, str]]) -> ResourceView:
    tag_id = topo.zones[zone].id
    return view(facts.TAG_ATTACHMENT, f"attach-{zone}", props={"tag_id": tag_id, "targets": targets})


def test_control_plane_vms_of_two_zones_in_one_compute_cluster_need_anti_affinity() -> None:
    # east-a and east-b are host groups of one compute cluster; east-c is a cluster of its own.
    topo = Topology()
    attachments = [
        zone_attachment(topo, "east-a", [{"type": "HostSystem", "datacenter": "dc", "name": "h1", "cluster": "cl-1"}]),
        zone_attachment(topo, "east-b", [{"type": "HostSystem", "datacenter": "dc", "name": "h2", "cluster": "cl-1"}]),
        zone_attachment(topo, "east-c", [{"type": "ClusterComputeResource", "datacenter": "dc", "name": "cl-2"}]),
    ]
    cps = three_control_planes(topo, ("east-a", "east-b", "east-c"))
    assert facts.zone_compute_clusters(
        [*topo.resources(), *attachments], facts.Categories("k8s-region", "k8s-zone")
    ) == {
        "east-a": "dc/cl-1",
        "east-b": "dc/cl-1",
        "east-c": "dc/cl-2",
    }
    found = messages(rules.control_plane_quorum_spread([*topo.resources(), *attachments, *cps], CFG))
    assert "cp-0 and cp-1 share compute cluster dc/cl-1 but no mandatory" in found
    assert "cp-2" not in found
    guarded = [*topo.resources(), *attachments, *cps, anti_affinity("aa", cps[:2])]
    assert rules.control_plane_quorum_spread(guarded, CFG) == []


def test_workers_are_not_the_control_plane() -> None:
    topo = Topology()
    workers = [vm(f"w-{i}", topo.placed("east-a"), user_data=kubeadm_user_data("JoinConfiguration")) for i in range(4)]
    assert rules.control_plane_quorum_spread([*topo.resources(), *workers], CFG) == []


def test_categories_consistent() -> None:
    topo = Topology()
    good = [*topo.resources(), cpi_configmap(), csi_secret()]
    assert rules.categories_consistent(good, {}) == []
    wrong_cpi = [*topo.resources(), cpi_configmap(zone="k8s-zones"), csi_secret()]
    no_csi_labels = [*topo.resources(), cpi_configmap(), csi_secret(categories=None)]
    csi_other = [*topo.resources(), cpi_configmap(), csi_secret(categories="k8s-region, zone")]
    assert "labels.zone is 'k8s-zones'" in messages(rules.categories_consistent(wrong_cpi, {}))
    assert "no [Labels] topology-categories" in messages(rules.categories_consistent(no_csi_labels, {}))
    assert "differ from ['k8s-region', 'k8s-zone']" in messages(rules.categories_consistent(csi_other, {}))


def test_node_binding_categories_follow_the_cpi() -> None:
    topo = Topology()
    base = [*topo.resources(), cpi_configmap(), csi_secret()]

    def binding(zone_category: str) -> ResourceView:
        props = {"region_category": "k8s-region", "zone_category": zone_category}
        return view(rules.NODE_BINDING, "b", props=props)

    assert rules.categories_consistent([*base, binding("k8s-zone")], {}) == []
    found = rules.categories_consistent([*base, binding("zones")], {})
    assert "NodeBinding b reads categories 'k8s-region'/'zones'" in messages(found)


def test_storage_class_topologies() -> None:
    topo = Topology()
    base = [*topo.resources(), cpi_configmap(), csi_secret()]
    cfg = rules.policy("storage-class-topologies-exist").defaults()
    good = [*base, storage_class("zonal-a", ["east-a"]), storage_class("plain")]
    assert rules.storage_class_topologies(good, cfg) == []
    typo = [*base, storage_class("zonal-x", ["east-x"])]
    wrong_key = [*base, storage_class("zonal-a", ["east-a"], key="topology.csi.vmware.com/zone")]
    assert "['east-x'], which no k8s-zone tag names" in messages(rules.storage_class_topologies(typo, cfg))
    assert "labels nodes only with" in messages(rules.storage_class_topologies(wrong_key, cfg))
    # Zones tagged outside the stack can be declared in the policy config.
    assert rules.storage_class_topologies(typo, {**cfg, "zones": ["east-x"]}) == []


@pytest.mark.parametrize(
    ("key", "suggested"),
    [
        ("topology.kubernetes.io/zone", "topology.csi.vmware.com/k8s-zone"),
        ("failure-domain.beta.kubernetes.io/zone", "topology.csi.vmware.com/k8s-zone"),
        ("topology.kubernetes.io/region", "topology.csi.vmware.com/k8s-region"),
    ],
)
def test_kubernetes_topology_keys_never_match_a_csi_with_topology_categories(key: str, suggested: str) -> None:
    """With topology-categories the vanilla driver's node topology is topology.csi.vmware.com/<category>
    only: a class restricted on Kubernetes' own labels never provisions under --strict-topology."""
    topo = Topology()
    base = [*topo.resources(), cpi_configmap()]
    cfg = rules.policy("storage-class-topologies-exist").defaults()
    value = "east-b" if key.endswith("zone") else "east"
    found = rules.storage_class_topologies([*base, csi_secret(), storage_class("k8s-key", [value], key=key)], cfg)
    assert len(found) == 1 and str(found[0].urn).endswith("::k8s-key")
    assert f"selects {key}, which the vSphere CSI never publishes" in found[0].message
    assert f"select {suggested}" in found[0].message
    # The deprecated [Labels] zone/region mode does publish Kubernetes' labels: then the key is right.
    legacy = view(
        facts.SECRET,
        "csi-secret",
        props={
            "metadata": {"name": "vsphere-config-secret", "namespace": "vmware-system-csi"},
            "stringData": {
                "csi-vsphere.conf": '[Global]\ncluster-id = "p"\n\n[Labels]\nregion = "k8s-region"\nzone = "k8s-zone"\n'
            },
        },
    )
    assert rules.storage_class_topologies([*base, legacy, storage_class("k8s-key", [value], key=key)], cfg) == []


SNAPSHOTTER = {"name": "csi-snapshotter", "image": "registry.k8s.io/sig-storage/csi-snapshotter:v8.2.0"}


def _crd(plural: str) -> ResourceView:
    name = f"{plural}.snapshot.storage.k8s.io"
    return view("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", name, props={"metadata": {"name": name}})


def test_snapshotter_needs_the_snapshot_api_and_controller_behind_it() -> None:
    controller = workload(
        "vsphere-csi-controller", [{"name": "d", "image": "x/csi-vsphere/driver:v3.5.1"}, SNAPSHOTTER]
    )
    found = rules.snapshotter_backed([controller], {})
    assert len(found) == 1 and found[0].urn == controller.urn
    assert "runs csi-snapshotter without CRD volumesnapshotclasses.snapshot.storage.k8s.io" in found[0].message
    assert ", a snapshot-controller: no snapshot would ever be taken" in found[0].message
    crds = [_crd(p) for p in ("volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses")]
    snap_ctl = workload(
        "snapshot-controller",
        [{"name": "c", "image": "registry.k8s.io/sig-storage/snapshot-controller:v8.2.0"}],
        kind="Deployment",
    )
    assert rules.snapshotter_backed([controller, *crds, snap_ctl], {}) == []
    only_crds = messages(rules.snapshotter_backed([controller, *crds], {}))
    assert "without a snapshot-controller" in only_crds and "CRD" not in only_crds
    # Declared provided by the cluster (csi.snapshots: external), or no sidecar at all: nothing to judge.
    declared = view(
        "kubernetes:apps/v1:Deployment",
        "vsphere-csi-controller",
        props={
            "metadata": {"name": "c", "annotations": {"vsphere-k8s.io/snapshot-controller": "external"}},
            "spec": {"template": {"spec": {"containers": [SNAPSHOTTER]}}},
        },
    )
    assert rules.snapshotter_backed([declared], {}) == []
    assert rules.snapshotter_backed([workload("plain", [{"name": "d", "image": "x/driver:v1"}])], {}) == []


def test_single_default_storage_class() -> None:
    assert rules.single_default_storage_class([storage_class("a", default=True), storage_class("b")], {}) == []
    found = rules.single_default_storage_class([storage_class("a", default=True), storage_class("b", default=True)], {})
    assert len(found) == 1 and "2 default StorageClasses (a, b)" in found[0].message


def test_cpi_credentials_wired() -> None:
    assert rules.cpi_credentials_wired([cpi_configmap(), cpi_secret()], {}) == []
    # The CPI's form for servers no key can hold (IPv6): server_<id> names the server.
    alternate = cpi_secret(("server_east", "username_east", "password_east"))
    alternate.props["stringData"]["server_east"] = "vc.example"
    assert rules.cpi_credentials_wired([cpi_configmap(), alternate], {}) == []
    half = cpi_secret(("server_east", "username_east"))
    half.props["stringData"]["server_east"] = "vc.example"
    assert "lacks password_east" in messages(rules.cpi_credentials_wired([cpi_configmap(), half], {}))
    assert "does not create" in messages(rules.cpi_credentials_wired([cpi_configmap()], {}))
    found = rules.cpi_credentials_wired([cpi_configmap(), cpi_secret(("vc.example.username",))], {})
    assert "lacks vc.example.password" in messages(found)


def test_every_policy_is_covered_here() -> None:
    """A new policy must come with its own cases in this file."""
    tested = {
        "node-vm-disk-uuid-and-hardware",
        "vcenter-tls-verified",
        "credentials-only-in-secrets",
        "no-in-tree-cloud-provider",
        "tag-category-single-cardinality",
        "cpi-csi-versions-supported",
        "node-vm-single-zone-and-region",
        "control-plane-quorum-and-spread",
        "topology-categories-consistent",
        "storage-class-topologies-exist",
        "cpi-credentials-wired",
        "csi-snapshotter-backed",
        "single-default-storage-class",
        "cpi-daemonset-wiring",
        "explicit-providers",
        "guestinfo-join-material-short-lived",  # tests/policies/test_join_material.py
    }
    assert {p.name for p in rules.POLICIES} == tested


# --------------------------------------------------------------------------- wiring

CPI_IMAGE = "registry.k8s.io/cloud-pv-vsphere/cloud-provider-vsphere:v1.31.1"


def cpi_daemonset(tolerations: list[dict[str, str]], config_map: str = "vsphere-cloud-config") -> ResourceView:
    spec = {
        "tolerations": tolerations,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}
                    ]
                }
            }
        },
        "volumes": [{"name": "cfg", "configMap": {"name": config_map}}],
        "containers": [
            {
                "name": "ccm",
                "image": CPI_IMAGE,
                "args": ["--cloud-provider=vsphere", "--cloud-config=/etc/cloud/vsphere.conf"],
                "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cloud"}],
            }
        ],
    }
    return view(
        "kubernetes:apps/v1:DaemonSet",
        "ccm",
        props={"metadata": {"name": "ccm", "namespace": "kube-system"}, "spec": {"template": {"spec": spec}}},
    )


UNINITIALIZED = {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}


def test_cpi_daemonset_wiring() -> None:
    assert rules.cpi_daemonset_wiring([cpi_configmap(), cpi_daemonset([UNINITIALIZED, CONTROL_PLANE])], {}) == []
    assert rules.cpi_daemonset_wiring([cpi_configmap(), cpi_daemonset([{"operator": "Exists"}])], {}) == []
    no_taint = messages(rules.cpi_daemonset_wiring([cpi_configmap(), cpi_daemonset([CONTROL_PLANE])], {}))
    assert "does not tolerate node.cloudprovider.kubernetes.io/uninitialized" in no_taint
    no_cp = messages(rules.cpi_daemonset_wiring([cpi_configmap(), cpi_daemonset([UNINITIALIZED])], {}))
    assert "does not tolerate their taint" in no_cp
    missing = messages(
        rules.cpi_daemonset_wiring([cpi_configmap(), cpi_daemonset([UNINITIALIZED, CONTROL_PLANE], "other")], {})
    )
    assert "mounts kube-system/other, which this stack does not create" in missing


def test_explicit_providers() -> None:
    explicit = view(facts.VM, "n", provider="urn:pulumi:prod::p::pulumi:providers:vsphere::prod-vsphere-east::0f3a")
    default = view(facts.VM, "n", provider="urn:pulumi:prod::p::pulumi:providers:vsphere::default_4_18_2::0f3a")
    ambient = view("kubernetes:core/v1:Namespace", "ns", provider=None)
    assert rules.explicit_providers(explicit, {}) == []
    assert rules.explicit_providers(view("tls:index/privateKey:PrivateKey", "k"), {}) == []
    assert "default vsphere provider" in rules.explicit_providers(default, {})[0]
    assert "default kubernetes provider" in rules.explicit_providers(ambient, {})[0]
