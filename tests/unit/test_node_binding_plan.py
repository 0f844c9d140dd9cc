"""NodeBinding's pure plan: which VM, what to write, drift, diff, delete, bounded waits."""

from __future__ import annotations

import pytest

from providers.node_binding.plan import (
    REGION_LABEL,
    ZONE_LABEL,
    BindingError,
    NodeFacts,
    Patch,
    VmFacts,
    applied,
    diff,
    drift_of,
    observed,
    parse_inputs,
    parse_state,
    plan,
    plan_delete,
    resolve_vm_uuid,
    wait_until,
)

SYSTEM = "56492e42-22ad-3911-6d72-59cc8f26bc90"
BIOS = "422e4956-ad22-1139-6d72-59cc8f26bc90"
OTHER = "11111111-2222-3333-4444-555555555555"
VMS = {BIOS: "node-vm", OTHER: "other-vm"}
VM = VmFacts("node-vm", "vm-42", BIOS, "zone-a", "region-1", "ClusterComputeResource DC0_C0", "Datacenter DC0")
PID = f"vsphere://{BIOS}"


def node(provider_id: str = "", labels: dict[str, str] | None = None, system: str = SYSTEM, rv: str | None = "7"):
    return NodeFacts("n1", system, provider_id, labels or {}, rv)


# ----------------------------------------------------------------- which VM


def test_system_uuid_finds_the_vm_through_the_cpi_byte_swap() -> None:
    assert resolve_vm_uuid(node(), None, VMS) == BIOS


def test_system_uuid_already_in_bios_order_also_finds_it() -> None:
    assert resolve_vm_uuid(node(system=BIOS), None, VMS) == BIOS


def test_provider_id_is_authoritative() -> None:
    assert resolve_vm_uuid(node(provider_id=PID, system=""), None, VMS) == BIOS


def test_the_stack_vm_is_used_when_the_node_matches_it() -> None:
    assert resolve_vm_uuid(node(system=""), BIOS.upper(), VMS) == BIOS
    assert resolve_vm_uuid(node(), BIOS, VMS) == BIOS


def test_provider_id_naming_another_vm_fails_naming_both() -> None:
    with pytest.raises(BindingError) as caught:
        resolve_vm_uuid(node(provider_id=f"vsphere://{OTHER}"), BIOS, VMS)
    text = str(caught.value)
    assert "names VM 'other-vm'" in text and "not the stack's VM 'node-vm'" in text
    assert "cannot change once set" in text


def test_a_node_reporting_another_vms_uuid_is_refused() -> None:
    with pytest.raises(BindingError, match="which is not the stack's VM 'node-vm'"):
        resolve_vm_uuid(node(system=OTHER), BIOS, VMS)


def test_unknown_uuid_and_missing_identity_are_named() -> None:
    with pytest.raises(BindingError, match=f"no VM has BIOS UUID {SYSTEM} or {BIOS}"):
        resolve_vm_uuid(node(), None, {OTHER: "other-vm"})
    with pytest.raises(BindingError, match="reports no systemUUID and no providerID"):
        resolve_vm_uuid(node(system=""), None, VMS)
    with pytest.raises(BindingError, match="not a vSphere providerID"):
        resolve_vm_uuid(node(provider_id="aws:///i-1"), None, VMS)


def test_a_uuid_matching_two_vms_both_ways_is_ambiguous() -> None:
    with pytest.raises(BindingError, match="matches two VMs"):
        resolve_vm_uuid(node(), None, {BIOS: "a", SYSTEM: "b"})


# ----------------------------------------------------------------- what to write


def test_enforce_writes_provider_id_and_both_labels_conditionally() -> None:
    outcome = plan("enforce", node(), VM)
    assert outcome.status == "bound"
    assert outcome.owned_labels == (REGION_LABEL, ZONE_LABEL)
    assert outcome.patch.body() == {
        "metadata": {"labels": {ZONE_LABEL: "zone-a", REGION_LABEL: "region-1"}, "resourceVersion": "7"},
        "spec": {"providerID": PID},
    }


def test_enforce_with_everything_in_place_writes_nothing_and_keeps_ownership() -> None:
    done = node(PID, {ZONE_LABEL: "zone-a", REGION_LABEL: "region-1", "kubernetes.io/os": "linux"})
    outcome = plan("enforce", done, VM, owned_before=[ZONE_LABEL])
    assert outcome.patch.empty and outcome.patch.body() == {}
    assert outcome.owned_labels == (ZONE_LABEL,)


def test_enforce_repairs_only_the_edited_label_and_never_rewrites_provider_id() -> None:
    edited = node(PID, {ZONE_LABEL: "zone-x", REGION_LABEL: "region-1"})
    outcome = plan("enforce", edited, VM)
    assert outcome.patch.body() == {"metadata": {"labels": {ZONE_LABEL: "zone-a"}, "resourceVersion": "7"}}
    assert outcome.owned_labels == (ZONE_LABEL,)


def test_a_provider_id_of_another_vm_is_never_overwritten() -> None:
    with pytest.raises(BindingError, match="cannot change once set"):
        plan("enforce", node(f"vsphere://{OTHER}"), VM)


def test_verify_waits_while_the_cpi_has_not_initialized_the_node() -> None:
    outcome = plan("verify", node(), VM)
    assert outcome.status == "waiting" and outcome.patch.empty
    assert outcome.problems == (
        f"spec.providerID is not set yet (expected {PID})",
        f"label {ZONE_LABEL} is not set yet (expected 'zone-a')",
        f"label {REGION_LABEL} is not set yet (expected 'region-1')",
    )


def test_verify_reports_a_mismatch_once_the_cpi_is_done() -> None:
    outcome = plan("verify", node(PID, {ZONE_LABEL: "zone-b", REGION_LABEL: "region-1"}), VM)
    assert outcome.status == "mismatch" and outcome.patch.empty
    assert outcome.problems == (
        f"label {ZONE_LABEL} is 'zone-b', but VM 'node-vm' is in 'zone-a' (tag on ClusterComputeResource DC0_C0)",
    )


def test_verify_bound_when_cpi_and_binding_agree() -> None:
    outcome = plan("verify", node(PID, {ZONE_LABEL: "zone-a", REGION_LABEL: "region-1"}), VM)
    assert (outcome.status, outcome.problems, outcome.patch.empty) == ("bound", (), True)


def test_applied_patch_gives_the_node_as_written() -> None:
    patch = plan("enforce", node(), VM).patch
    after = applied(node(), patch)
    assert (after.provider_id, after.topology) == (PID, VM.labels)
    assert plan("enforce", after, VM).patch.empty


# ----------------------------------------------------------------- delete


def _state(**extra):
    props = {
        "node_name": "n1",
        "server": "vc",
        "username": "u",
        "password": "p",
        "kubeconfig": "k",
        "zone_category": "k8s-zone",
        "region_category": "k8s-region",
        "zone": "zone-a",
        "region": "region-1",
        **extra,
    }
    return parse_state(props)


def test_delete_removes_only_owned_labels_still_holding_our_value() -> None:
    state = _state(owned_labels=[ZONE_LABEL, REGION_LABEL])
    current = node(PID, {ZONE_LABEL: "zone-a", REGION_LABEL: "edited-by-hand", "team": "x"})
    patch = plan_delete(state, current)
    assert patch.body() == {"metadata": {"labels": {ZONE_LABEL: None}, "resourceVersion": "7"}}
    assert "spec" not in patch.body()  # providerID stays


def test_delete_of_labels_set_by_the_cpi_writes_nothing() -> None:
    assert plan_delete(_state(owned_labels=[]), node(PID, VM.labels)).empty
    assert plan_delete(_state(owned_labels=[ZONE_LABEL]), None).empty


# ----------------------------------------------------------------- drift and diff


def test_drift_names_removed_edited_and_relocated() -> None:
    moved = VmFacts("node-vm", "vm-42", BIOS, "zone-b", "region-1", "ClusterComputeResource DC0_C1", "Datacenter DC0")
    assert drift_of(node(PID, {REGION_LABEL: "region-1"}), VM, "enforce") == [
        f"label {ZONE_LABEL} is missing (VM 'node-vm' is in 'zone-a', tag on ClusterComputeResource DC0_C0)"
    ]
    assert drift_of(node(PID, VM.labels), moved, "enforce") == [
        f"label {ZONE_LABEL} is 'zone-a', but VM 'node-vm' is in 'zone-b' (tag on ClusterComputeResource DC0_C1)"
    ]
    assert drift_of(None, VM, "enforce") == ["node is not registered"]
    assert drift_of(node(PID, VM.labels), VM, "enforce") == []


def _inputs(**extra):
    return {
        "node_name": "n1",
        "server": "vc",
        "port": 443,
        "username": "u",
        "password": "p",
        "kubeconfig": "k",
        "insecure": False,
        "thumbprint": None,
        "ca_cert": None,
        "zone_category": "k8s-zone",
        "region_category": "k8s-region",
        "vm_uuid": BIOS,
        "mode": "enforce",
        "timeout_seconds": 600,
        "poll_seconds": 5,
        **extra,
    }


def _read_state(current: NodeFacts, vm: VmFacts, **extra):
    return {**_inputs(**extra), **observed(current, vm, "enforce", [ZONE_LABEL, REGION_LABEL])}


def test_nothing_changed_means_no_diff() -> None:
    assert diff(_read_state(node(PID, VM.labels), VM), _inputs()).changes == ()


def test_label_drift_and_relocation_show_as_observed_labels() -> None:
    removed = _read_state(node(PID, {REGION_LABEL: "region-1"}), VM)
    assert diff(removed, _inputs()).changes == ("observed_labels",)
    moved = VmFacts("node-vm", "vm-42", BIOS, "zone-b", "region-1", "ClusterComputeResource DC0_C1", "Datacenter DC0")
    assert diff(_read_state(node(PID, VM.labels), moved), _inputs()).changes == ("observed_labels",)
    assert diff(_read_state(node("", VM.labels), VM), _inputs()).changes == ("observed_provider_id",)


def test_changed_inputs_are_named_and_only_the_node_name_replaces() -> None:
    olds = _read_state(node(PID, VM.labels), VM)
    result = diff(olds, _inputs(mode="verify", password="rotated", node_name="n2"))
    assert result.changes == ("node_name", "mode", "password")
    assert result.replaces == ("node_name",)


def test_inputs_validate_and_keep_secrets_secret() -> None:
    inputs = parse_inputs(_inputs(password="s3cr3t-pw", kubeconfig="kubeconfig-text"))
    assert "s3cr3t-pw" not in repr(inputs) and "kubeconfig-text" not in repr(inputs)
    assert inputs.password.get_secret_value() == "s3cr3t-pw"
    with pytest.raises(ValueError, match="mode"):
        parse_inputs(_inputs(mode="sometimes"))


# ----------------------------------------------------------------- bounded waits


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_returns_once_done() -> None:
    clock = FakeClock()
    answers = iter([(False, 1, "not yet"), (False, 2, "not yet"), (True, 3, "")])
    result = wait_until("x", lambda: next(answers), timeout=60, poll=5, clock=clock, sleep=clock.sleep)
    assert (result.value, result.attempts, clock.sleeps) == (3, 3, [5, 5])


def test_wait_until_times_out_naming_what_and_why() -> None:
    clock = FakeClock()
    with pytest.raises(TimeoutError) as caught:
        wait_until(
            "node 'n9'",
            lambda: (False, None, "it is not registered"),
            timeout=12,
            poll=5,
            clock=clock,
            sleep=clock.sleep,
        )
    assert str(caught.value) == "node 'n9': not done after 12s (4 checks): it is not registered"
    assert clock.sleeps == [5, 5, 2]  # never sleeps past the deadline


def test_patch_body_shapes() -> None:
    assert Patch().body() == {}
    assert Patch(remove_labels=(ZONE_LABEL,)).body() == {"metadata": {"labels": {ZONE_LABEL: None}}}
