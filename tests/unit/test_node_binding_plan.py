"""NodeBinding's pure rules: VM selection, what to write per mode, ownership, drift, diff; provider pickling."""

from __future__ import annotations

from typing import Any

import dill
import pytest

from offline.program import OfflineRun, offline_config
from providers.node_binding.plan import (
    REGION_LABEL,
    ZONE_LABEL,
    BindingError,
    NodeView,
    PendingError,
    VmView,
    desired,
    diff,
    drift,
    parse_inputs,
    parse_state,
    plan,
    removal_patch,
    select_vm,
)
from providers.node_binding.provider import NodeBindingProvider
from vsphere_k8s.facts import VM_TYPE
from vsphere_k8s.topology import Placement, swap_uuid_byte_order
from vsphere_k8s.topology.labels import BETA_REGION, BETA_ZONE

BIOS = "422e4956-ad22-1139-6d72-59cc8f26bc90"
OTHER = "11112222-3333-4444-5555-666677778888"
VMS = {BIOS: VmView("vm-1", "w-0", BIOS), OTHER: VmView("vm-2", "w-1", OTHER)}
HERE = Placement("zone-a", "region-1", "ClusterComputeResource c0", "Datacenter dc0")
WANT = desired(VMS[BIOS], HERE)
PASSWORD = "pa55-never-printed"
KUBECONFIG = "apiVersion: v1\nusers: [{name: admin, user: {token: tok-never-printed}}]\n"


def props(**extra: Any) -> dict[str, Any]:
    base = {
        "node_name": "w-0",
        "server": "vc.example",
        "username": "svc",
        "password": PASSWORD,
        "kubeconfig": KUBECONFIG,
        "zone_category": "k8s-zone",
        "region_category": "k8s-region",
        "mode": "enforce",
    }
    return {**base, **extra}


def node(**extra: Any) -> NodeView:
    return NodeView(**{"name": "w-0", "exists": True, "system_uuid": swap_uuid_byte_order(BIOS), **extra})


def test_vm_found_by_swapped_system_uuid_by_provider_id_or_by_the_stacks_uuid() -> None:
    inputs = parse_inputs(props())
    assert select_vm(inputs, node(), VMS).moid == "vm-1"
    assert select_vm(inputs, node(system_uuid=BIOS), VMS).moid == "vm-1"
    assert select_vm(inputs, node(system_uuid="", provider_id=f"vsphere://{OTHER}"), VMS).moid == "vm-2"
    assert select_vm(parse_inputs(props(vm_uuid=OTHER.upper())), node(system_uuid=""), VMS).moid == "vm-2"


def test_a_node_naming_another_vm_than_the_stacks_fails_clearly() -> None:
    inputs = parse_inputs(props(vm_uuid=BIOS, vm_moid="vm-1"))
    with pytest.raises(
        BindingError,
        match=r"node w-0: its providerID \S+ names VM w-1 \(vm-2\), but the stack created VM w-0 \(vm-1\)",
    ):
        select_vm(inputs, node(provider_id=f"vsphere://{OTHER}"), VMS)
    with pytest.raises(BindingError, match=r"node w-0: its providerID \S+ names no VM in vCenter vc.example"):
        select_vm(inputs, node(provider_id="vsphere://99999999-3333-4444-5555-666677778888"), VMS)
    with pytest.raises(PendingError, match="node w-0: no providerID or systemUUID reported yet"):
        select_vm(parse_inputs(props()), node(system_uuid=""), VMS)


def test_enforce_writes_provider_id_over_the_read_version_and_both_labels() -> None:
    step = plan(parse_inputs(props()), node(resource_version="7"), WANT, HERE)
    # Both pairs: the CPI's node controller rewrites a GA label to its beta twin's value.
    both = {BETA_ZONE: "zone-a", ZONE_LABEL: "zone-a", BETA_REGION: "region-1", REGION_LABEL: "region-1"}
    assert step.patch == {
        "metadata": {"labels": both, "resourceVersion": "7"},
        "spec": {"providerID": f"vsphere://{BIOS}"},
    }
    assert step.owned_labels == dict(sorted(both.items()))
    assert (step.problems, step.pending) == ((), ())


def test_nothing_to_write_when_in_sync_and_labels_set_by_others_are_not_owned() -> None:
    synced = node(provider_id=f"vsphere://{BIOS}", labels=dict(WANT.labels))
    step = plan(parse_inputs(props()), synced, WANT, HERE)
    assert step.patch is None and step.owned_labels == {}
    kept = plan(parse_inputs(props()), synced, WANT, HERE, {ZONE_LABEL: "zone-a"})
    assert kept.owned_labels == {ZONE_LABEL: "zone-a"}


def test_verify_waits_for_missing_values_and_fails_on_wrong_ones() -> None:
    inputs = parse_inputs(props(mode="verify"))
    waiting = plan(inputs, node(), WANT, HERE)
    assert waiting.patch is None and len(waiting.pending) == 5 and waiting.problems == ()  # providerID, 4 labels
    wrong = plan(inputs, node(provider_id=f"vsphere://{BIOS}", labels={ZONE_LABEL: "zone-b"}), WANT, HERE)
    assert wrong.problems == ("node w-0: label topology.kubernetes.io/zone is 'zone-b', its VM is in 'zone-a'",)


def test_a_provider_id_of_another_vm_is_a_problem_in_every_mode() -> None:
    for mode in ("verify", "enforce"):
        step = plan(parse_inputs(props(mode=mode)), node(provider_id=f"vsphere://{OTHER}"), WANT, HERE)
        assert step.problems[0].startswith(f"node w-0: spec.providerID is vsphere://{OTHER}, but its VM is")
        assert "spec" not in (step.patch or {})


def test_a_vm_outside_its_planned_zone_is_reported_with_the_tagged_object() -> None:
    step = plan(parse_inputs(props(expected_zone="zone-b")), node(), WANT, HERE)
    assert step.problems == (
        "node w-0: its VM is in zone 'zone-a' (tag on ClusterComputeResource c0), planned zone 'zone-b'",
    )


def test_unregistered_node_is_pending() -> None:
    step = plan(parse_inputs(props()), NodeView("w-0", False), WANT, HERE)
    assert step.pending == ("node w-0 has not registered with the API server",) and step.patch is None


def test_delete_removes_only_labels_still_holding_our_value() -> None:
    labels = {ZONE_LABEL: "zone-a", REGION_LABEL: "edited", "team": "x"}
    owned = {ZONE_LABEL: "zone-a", REGION_LABEL: "region-1"}
    assert removal_patch(node(labels=labels), owned) == {"metadata": {"labels": {ZONE_LABEL: None}}}
    assert removal_patch(node(labels={"team": "x"}), owned) is None
    # Conditional on the version read: a label re-set by hand in between is not removed (409, read again).
    versioned = removal_patch(node(labels=labels, resource_version="41"), owned)
    assert versioned == {"metadata": {"labels": {ZONE_LABEL: None}, "resourceVersion": "41"}}


def test_drift_names_removed_and_edited_labels_and_a_moved_vm() -> None:
    previous = parse_state({**props(), "zone": "zone-b", "region": "region-1"})
    found = drift(node(provider_id=f"vsphere://{BIOS}", labels={REGION_LABEL: "r9"}), WANT, HERE, previous)
    assert found == [
        "node w-0: label failure-domain.beta.kubernetes.io/zone removed (want 'zone-a')",
        "node w-0: label topology.kubernetes.io/zone removed (want 'zone-a')",
        "node w-0: label failure-domain.beta.kubernetes.io/region removed (want 'region-1')",
        "node w-0: label topology.kubernetes.io/region is 'r9', want 'region-1'",
        "node w-0: VM moved from zone 'zone-b' to 'zone-a' (ClusterComputeResource c0)",
    ]
    assert drift(NodeView("w-0", False), WANT, HERE, None) == ["node w-0 is gone from the API server"]


def test_diff_names_changed_properties_and_replacements() -> None:
    olds = {**props(), "zone": "zone-a", "drift": [], "labels": {}}
    assert diff(olds, props()).changes == ()
    changed = diff(olds, props(mode="verify", node_name="w-9", timeout_seconds=60))
    assert changed.changes == ("mode", "node_name", "timeout_seconds") and changed.replaces == ("node_name",)
    assert diff({**olds, "drift": ["x"]}, props()).changes == ("drift", "labels")


def test_inputs_reject_bad_values_naming_the_field() -> None:
    with pytest.raises(ValueError, match="timeout_seconds"):
        parse_inputs(props(timeout_seconds=-1))
    with pytest.raises(ValueError, match="mode"):
        parse_inputs(props(mode="sometimes"))


def test_secrets_never_show_in_the_parsed_models() -> None:
    text = repr(parse_inputs(props())) + str(parse_state(props()))
    assert PASSWORD not in text and "tok-never-printed" not in text


def test_provider_pickles_with_dill_and_holds_no_credential() -> None:
    provider = NodeBindingProvider()
    failures = provider.check({}, props(port=0)).failures
    assert [f.property for f in failures] == ["port"]
    blob = dill.dumps(provider, protocol=dill.HIGHEST_PROTOCOL, recurse=True)
    assert PASSWORD.encode() not in blob and b"tok-never-printed" not in blob
    assert isinstance(dill.loads(blob), NodeBindingProvider)  # noqa: S301 - our own bytes


def test_the_program_binds_every_planned_node_to_its_vm_with_secret_credentials(sim: OfflineRun) -> None:
    from vsphere_k8s.config import StackConfig
    from vsphere_k8s.plan.nodes import plan_nodes

    cfg = StackConfig.model_validate(offline_config("sim"))
    recording = sim.recording
    bindings = {r.inputs["node_name"]: r for r in recording.of_type("pulumi-python:dynamic/vsphere:NodeBinding")}
    nodes = plan_nodes(cfg)
    assert sorted(bindings) == sorted(n.name for n in nodes)
    vms = {r.inputs["name"]: r for r in recording.of_type(VM_TYPE)}
    for n in nodes:
        binding = bindings[n.name]
        assert binding.inputs["vm_uuid"] == vms[n.name].outputs["uuid"]
        assert (binding.inputs["expected_zone"], binding.inputs["expected_region"]) == (n.zone, n.region)
        assert binding.inputs["mode"] == cfg.node_binding.mode
        assert {"username", "password", "kubeconfig"} <= set(binding.secret_inputs)
        assert {"username", "password", "kubeconfig"} <= set(binding.additional_secret_outputs)
