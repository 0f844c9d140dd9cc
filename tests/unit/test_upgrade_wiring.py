"""A version bump as the program runs it (under mocks): the skew from what the last run's
``nodeSlots`` record says runs, and a template annotation that says another release, stop the run."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from offline.program import OfflineRun, offline_config, run_program
from offline.vsphere_fakes import VSphereMocks
from vsphere_k8s.facts import VM_TYPE

GET_VM = "vsphere:index/getVirtualMachine:getVirtualMachine"


# An existing cluster's kubeconfig (mode: existing: the template carries the node software).
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.10.0.10:6443", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {token: not-a-real-token}}]
"""


def _config(version: str, workers: str | None = None, mode: str = "existing") -> dict[str, Any]:
    raw = copy.deepcopy(offline_config("sim"))
    for zone in raw["topology"]["zones"]:  # DHCP: a static-address control plane cannot roll
        zone["network"] = {"name": zone["network"]["name"], "mode": "dhcp", "cidr": "10.10.0.0/24"}
    if mode == "existing":
        raw["kubernetes"] = {"version": version, "mode": "existing", "kubeconfig": KUBECONFIG}
    raw["kubernetes"]["version"] = version
    if workers is not None:
        raw["nodePools"]["workers"][0]["kubernetesVersion"] = workers
    return raw


def _run(config: dict[str, Any], previous: dict[str, Any] | None = None, notes: str | None = None) -> OfflineRun:
    mocks = VSphereMocks()
    if previous is not None:
        mocks.invokes["pulumi:pulumi:readStackOutputs"] = lambda _a: {"outputs": {"nodeSlots": previous}}
    if notes is not None:
        found = mocks.invokes[GET_VM]
        mocks.invokes[GET_VM] = lambda args: {**found(args), "annotation": notes}
    return run_program(config, stack="sim", mocks=mocks)


@pytest.fixture(scope="module")
def at_135() -> dict[str, Any]:
    return dict(_run(_config("1.35.2")).exports["nodeSlots"])


def test_the_control_plane_moves_first_with_the_workers_pinned(at_135: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"nodePools\.workers\[general\]\.kubernetesVersion: moves from 1\.35\.2"):
        _run(_config("1.36.3"), at_135)
    run = _run(_config("1.36.3", workers="1.35.2"), at_135)
    names = {r.inputs["name"] for r in run.recording.of_type(VM_TYPE)}
    slots = run.exports["nodeSlots"]
    assert {k for k in slots if slots[k]["name"] != at_135[k]["name"]} == {k for k in slots if k.startswith("cp-")}
    assert {slots[k]["name"] for k in slots} <= names


def test_a_control_plane_two_minors_ahead_of_what_runs_is_refused() -> None:
    at_134 = dict(_run(_config("1.34.2")).exports["nodeSlots"])
    with pytest.raises(
        Exception, match=r"kubernetes\.version: the control plane runs 1\.34\.2; 1\.36\.3 skips a minor"
    ):
        _run(_config("1.36.3", workers="1.34.2"), at_134)


def test_a_downgrade_is_refused(at_135: dict[str, Any]) -> None:
    with pytest.raises(
        Exception, match=r"kubernetes\.version: the control plane runs 1\.35\.2; 1\.35\.1 is a downgrade"
    ):
        _run(_config("1.35.1"), at_135)


def test_a_template_annotated_for_another_release_is_refused() -> None:
    notes = "Cluster API vSphere image - Ubuntu 24.04 and Kubernetes v1.35.2"
    assert _run(_config("1.35.2"), notes=notes).recording.of_type(VM_TYPE)
    with pytest.raises(
        Exception, match=r"nodePools\.controlPlane\.template: the annotation .* says Kubernetes 1\.35\.2"
    ):
        _run(_config("1.36.3"), notes=notes)


def test_the_cpi_moves_after_every_control_plane_node_is_ready(at_135: dict[str, Any]) -> None:
    run = _run(_config("1.36.3", workers="1.35.2"), at_135)
    regs = run.recording.registrations.values()
    cp_gates = {r.urn for r in regs if "-retire-cp-" in r.name}
    (daemonset,) = [r for r in regs if r.type == "kubernetes:apps/v1:DaemonSet" and "cpi" in r.name]
    assert len(cp_gates) == 3 and cp_gates <= set(daemonset.dependencies)
    assert not {r.urn for r in regs if "-retire-general-" in r.name} & set(daemonset.dependencies)


def _by_suffix(run: OfflineRun, suffix: str) -> Any:
    (found,) = [r for r in run.recording.registrations.values() if r.name.endswith(suffix)]
    return found


def _steps(run: OfflineRun) -> dict[str, str]:
    (boot,) = [r for r in run.recording.registrations.values() if r.type == "vsphere-k8s:bootstrap:Bootstrap"]
    return dict(boot.component_outputs["steps"])


def test_a_new_bootstrap_cluster_has_one_init_node_that_waits_for_nothing_of_kubeadms() -> None:
    run = _run(_config("1.35.2", mode="bootstrap"))
    slots = run.exports["nodeSlots"]
    assert [k for k, s in slots.items() if s.get("init")] == ["cp-sim-a-0"]
    assert _steps(run)["cp-sim-a-0"] == "init"
    version = _by_suffix(run, "-kubeadm-version")
    assert version.inputs["kubernetes_version"] == "1.35.2"
    vms = {r.name: r for r in run.recording.of_type(VM_TYPE)}
    # A first up: no VM waits for the recorded version (kubeadm init writes it).
    assert not [n for n, vm in vms.items() if version.urn in vm.dependencies]
    again = _run(_config("1.35.2", mode="bootstrap"), dict(slots))
    assert again.exports["nodeSlots"] == slots and _steps(again) == _steps(run)


def test_a_control_plane_bump_in_bootstrap_mode_rolls_every_node_in_by_join() -> None:
    at_135 = dict(_run(_config("1.35.2", mode="bootstrap")).exports["nodeSlots"])
    run = _run(_config("1.36.3", workers="1.35.2", mode="bootstrap"), at_135)
    slots = run.exports["nodeSlots"]
    cp = {k for k in slots if k.startswith("cp-")}
    assert {k for k in slots if slots[k]["name"] != at_135[k]["name"]} == cp
    # No second kubeadm init: the init slot's new VM joins the running cluster like the others.
    assert not [k for k, s in slots.items() if s.get("init")]
    assert {_steps(run)[k] for k in cp} == {"join-control-plane"}
    version = _by_suffix(run, "-kubeadm-version")
    assert version.inputs["kubernetes_version"] == "1.36.3"
    for vm in run.recording.of_type(VM_TYPE):
        joins_cp = vm.inputs["name"] in {slots[k]["name"] for k in cp}
        assert (version.urn in vm.dependencies) == joins_cp, vm.inputs["name"]
    addons = _by_suffix(run, "-kubeadm-addons")
    assert addons.inputs["kubernetes_version"] == "1.36.3" and addons.inputs["coredns_version"] == "v1.14.2"
    cp_gates = {r.urn for r in run.recording.registrations.values() if "-retire-cp-" in r.name}
    assert len(cp_gates) == 3 and cp_gates <= set(addons.dependencies)
    # Once the roll is done its record has no init node, and nothing changes on the next run.
    again = _run(_config("1.36.3", workers="1.35.2", mode="bootstrap"), dict(slots))
    assert again.exports["nodeSlots"] == slots


def test_a_pool_moves_to_the_control_planes_version_in_bootstrap_mode() -> None:
    at_mixed = dict(_run(_config("1.35.2", workers="1.34.9", mode="bootstrap")).exports["nodeSlots"])
    run = _run(_config("1.35.2", mode="bootstrap"), at_mixed)
    slots = run.exports["nodeSlots"]
    assert {k for k in slots if slots[k]["name"] != at_mixed[k]["name"]} == {
        k for k in slots if k.startswith("general-")
    }
    assert _steps(run)["cp-sim-a-0"] == "init"  # the init VM stays: so does its user-data


def test_without_etcd_access_a_control_plane_roll_says_the_members_stay(
    at_135: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pulumi

    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda msg, *a, **k: said.append(str(msg)))
    _run(_config("1.36.3", workers="1.35.2"), at_135)  # every control-plane slot rolls: none is the init VM
    assert sum("its etcd member is not removed" in m for m in said) == 1


def test_kubeadms_addons_can_be_left_to_someone_else() -> None:
    raw = _config("1.35.2", mode="bootstrap")
    assert [r for r in _run(raw).recording.registrations.values() if r.name.endswith("-kubeadm-addons")]
    raw["kubernetes"]["kubeadmAddons"] = False
    run = _run(raw)
    assert not [r for r in run.recording.registrations.values() if r.name.endswith("-kubeadm-addons")]
    assert _by_suffix(run, "-kubeadm-version")  # the record still moves: joining nodes read it
