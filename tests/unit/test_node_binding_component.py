"""NodeBinding in the Cluster under mocks: one per node, secret inputs, dependencies, exports, pickling."""

from __future__ import annotations

import base64
import copy
from typing import Any

import dill
import pytest

from offline.program import PLACEHOLDER_PASSWORD, OfflineRun, offline_config, run_program
from providers.node_binding.provider import NodeBindingProvider
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.facts import VM_TYPE

BINDING = "pulumi-python:dynamic/vsphere:NodeBinding"
VM = VM_TYPE
READY = "pulumi-python:dynamic/kubernetes:ApiServerReady"


def _with(**node_binding: Any) -> dict[str, Any]:
    raw = copy.deepcopy(offline_config("sim"))
    raw["nodeBinding"] = node_binding
    return raw


def test_one_binding_per_node_named_by_stable_key(sim: OfflineRun) -> None:
    rec = sim.recording
    bindings = rec.of_type(BINDING)
    vms = rec.of_type(VM)
    assert len(bindings) == len(vms) == 6
    assert len({b.urn for b in bindings}) == 6  # mocks do not reject duplicate names: check it here
    by_node = {b.inputs["node_name"]: b for b in bindings}
    assert set(by_node) == {vm.inputs["name"] for vm in vms}
    cluster = rec.by_name("sim")
    assert all(b.parent == cluster.urn for b in bindings)
    # Keyed like the VMs (pool-zone-ordinal), never by position.
    assert {b.name for b in bindings} == {f"sim-bind-{n.removeprefix('sim-')}" for n in by_node}


def test_each_binding_targets_its_own_vm_and_waits_for_it_and_the_api(sim: OfflineRun) -> None:
    rec = sim.recording
    vms = {vm.inputs["name"]: vm for vm in rec.of_type(VM)}
    (ready,) = rec.of_type(READY)
    (cpi_daemonset,) = [d for d in rec.of_type("kubernetes:apps/v1:DaemonSet") if "cloud-controller" in d.name]
    checked = 0
    for binding in rec.of_type(BINDING):
        vm = vms[binding.inputs["node_name"]]
        assert binding.inputs["vm_uuid"] == vm.outputs["uuid"]
        assert vm.urn in binding.dependencies and ready.urn in binding.dependencies
        # verify mode (the default) also waits for the CPI to be deployed (a component: its resources)
        assert cpi_daemonset.urn in binding.dependencies
        assert binding.inputs["mode"] == "verify" and binding.inputs["timeout_seconds"] == 900
        assert (binding.inputs["zone_category"], binding.inputs["region_category"]) == ("k8s-zone", "k8s-region")
        assert (binding.inputs["server"], binding.inputs["port"], binding.inputs["insecure"]) == (
            "127.0.0.1",
            8989,
            True,
        )
        checked += 1
    assert checked == 6


def test_credentials_and_kubeconfig_are_secret_in_and_out(sim: OfflineRun) -> None:
    kubeconfig = sim.exports["kubeconfig"]
    for binding in sim.recording.of_type(BINDING):
        assert {"username", "password", "kubeconfig"} <= binding.secret_inputs
        assert {"username", "password", "kubeconfig"} <= set(binding.additional_secret_outputs)
        assert binding.inputs["password"] == PLACEHOLDER_PASSWORD
        assert binding.inputs["kubeconfig"] == kubeconfig
        # Declared outputs arrive unset; none of them repeats a credential.
        outputs = {k: v for k, v in binding.outputs.items() if k not in ("username", "password", "kubeconfig")}
        assert PLACEHOLDER_PASSWORD not in repr(outputs) and "BEGIN" not in repr(outputs)


def test_provider_pickles_with_no_client_or_credential(sim: OfflineRun) -> None:
    (binding, *_) = sim.recording.of_type(BINDING)
    blob = base64.b64decode(binding.inputs["__provider"])
    assert PLACEHOLDER_PASSWORD.encode() not in blob and b"PRIVATE KEY" not in blob
    provider = dill.loads(blob)  # noqa: S301 - our own resource's blob
    assert isinstance(provider, NodeBindingProvider) and vars(provider) == {}


def test_export_maps_each_node_to_vm_zone_region_and_provider_id(sim: OfflineRun) -> None:
    exported = sim.exports["nodeBindings"]
    vms = {vm.inputs["name"]: vm for vm in sim.recording.of_type(VM)}
    nodes = sim.exports["nodes"]
    assert set(exported) == set(vms) == set(nodes)
    for name, entry in exported.items():
        assert entry == {
            "vm": vms[name].outputs["moid"],
            "zone": nodes[name]["zone"],
            "region": nodes[name]["region"],
            "providerID": f"vsphere://{vms[name].outputs['uuid']}",
        }


def test_enforce_mode_does_not_wait_for_the_cpi() -> None:
    run = run_program(_with(mode="enforce", timeoutSeconds=120), stack="sim")
    rec = run.recording
    (cpi,) = [d for d in rec.of_type("kubernetes:apps/v1:DaemonSet") if "cloud-controller" in d.name]
    (ready,) = rec.of_type(READY)
    bindings = rec.of_type(BINDING)
    assert bindings and all(b.inputs["mode"] == "enforce" for b in bindings)
    assert all(cpi.urn not in b.dependencies and ready.urn in b.dependencies for b in bindings)
    assert {b.inputs["timeout_seconds"] for b in bindings} == {120}


def test_off_registers_no_binding() -> None:
    run = run_program(_with(mode="off"), stack="sim")
    assert run.recording.of_type(BINDING) == []
    # The Cluster's own registered outputs (stack exports accumulate across runs in one test process).
    outputs = run.recording.by_name("sim").component_outputs
    assert "nodeVms" in outputs and "nodeBindings" not in outputs


@pytest.mark.parametrize(
    ("node_binding", "path"),
    [({"mode": "sometimes"}, "nodeBinding.mode"), ({"timeoutSeconds": 1}, "nodeBinding.timeoutSeconds")],
)
def test_bad_node_binding_config_names_its_key(node_binding: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        run_program(_with(**node_binding), stack="sim")
    assert path in str(caught.value)
