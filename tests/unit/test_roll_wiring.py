"""The roll as the program declares it (under mocks): names from the last run's record, one
NodeRetirement per node after its VM, and a rolling slot's VM after the previous batch's gate."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from offline.program import OfflineRun, offline_config, run_program
from offline.recording import Registration
from offline.vsphere_fakes import VSphereMocks
from vsphere_k8s.facts import VM_TYPE


def _config(template: str | None = None) -> dict[str, Any]:
    """The sim stack on DHCP (a static-address pool cannot roll yet), optionally a new worker template."""
    raw = copy.deepcopy(offline_config("sim"))
    for zone in raw["topology"]["zones"]:
        zone["network"] = {"name": zone["network"]["name"], "mode": "dhcp", "cidr": "10.10.0.0/24"}
    if template:
        raw["nodePools"]["workers"][0]["template"] = template
    return raw


def _run(config: dict[str, Any], previous: dict[str, Any] | None = None) -> OfflineRun:
    mocks = VSphereMocks()
    if previous is not None:
        # The engine's readStackOutputs for the program's own stack answers with the last run's outputs.
        mocks.invokes["pulumi:pulumi:readStackOutputs"] = lambda _a: {"outputs": {"nodeSlots": previous}}
    return run_program(config, stack="sim", mocks=mocks)


def _plan_logged(config: dict[str, Any], previous: dict[str, Any]) -> tuple[OfflineRun, list[str]]:
    """The run and the roll plan it logged (what `pulumi preview` shows under Diagnostics)."""
    logged: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pulumi.log, "info", lambda msg, *_a, **_k: logged.append(msg))
        run = _run(config, previous)
    plans = [m for m in logged if m.startswith("node roll plan:")]
    return run, [line.strip() for m in plans for line in m.splitlines()[1:]]


def _retirements(run: OfflineRun) -> dict[str, Registration]:
    return {r.name: r for r in run.recording.registrations.values() if "-retire-" in r.name}


@pytest.fixture(scope="module")
def first() -> OfflineRun:
    return _run(_config())


def test_every_node_has_a_retirement_after_its_vm(first: OfflineRun) -> None:
    rets = _retirements(first)
    vms = {r.inputs["name"]: r for r in first.recording.of_type(VM_TYPE)}
    assert len(rets) == len(vms) == 6
    for ret in rets.values():
        vm = vms[ret.inputs["node_name"]]
        assert vm.urn in ret.dependencies  # so the engine deletes the retirement (drains) before the VM
        assert "kubeconfig" in ret.secret_inputs
    # A first run chains no VM to a gate: every VM is created at once.
    assert not any(r.urn in vm.dependencies for vm in vms.values() for r in rets.values())
    # Retirements chain batch after batch: the first worker after the last control-plane node.
    assert rets["sim-retire-cp-sim-b-0"].dependencies.count(rets["sim-retire-cp-sim-a-0"].urn) == 1
    assert rets["sim-retire-general-sim-a-0"].urn not in rets["sim-retire-cp-sim-c-0"].dependencies
    assert rets["sim-retire-cp-sim-c-0"].urn in rets["sim-retire-general-sim-a-0"].dependencies


def test_a_new_stack_keeps_base_names_and_records_them(first: OfflineRun) -> None:
    slots = first.exports["nodeSlots"]
    assert {s["name"] for s in slots.values()} == {f"sim-{k}" for k in slots}
    # The same config against its own record: the same names, nothing to roll.
    again, plan = _plan_logged(_config(), slots)
    assert again.exports["nodeSlots"] == slots
    assert plan == []


def test_a_template_change_rolls_the_workers_one_batch_after_another(first: OfflineRun) -> None:
    slots = first.exports["nodeSlots"]
    rolled, plan = _plan_logged(_config("new-template"), slots)
    names = {k: s["name"] for k, s in rolled.exports["nodeSlots"].items()}
    gens = {k: s["generation"] for k, s in rolled.exports["nodeSlots"].items()}
    for key, name in names.items():
        if key.startswith("general-"):
            assert name == f"sim-{key}-{gens[key]}" and gens[key] != slots[key]["generation"]
        else:
            assert name == slots[key]["name"]
    assert any(line.startswith("replace sim-general-sim-a-0 -> ") and "template" in line for line in plan)
    assert not any("sim-cp-" in line for line in plan if line.startswith("replace"))
    rets = _retirements(rolled)
    vms = {r.name: r for r in rolled.recording.of_type(VM_TYPE)}
    # maxSurge 1: each rolling worker's VM waits for the previous slot's node to be Ready.
    assert rets["sim-retire-cp-sim-c-0"].urn in vms["sim-general-vm-sim-a-0"].dependencies
    assert rets["sim-retire-general-sim-a-0"].urn in vms["sim-general-vm-sim-b-0"].dependencies
    assert rets["sim-retire-general-sim-b-0"].urn in vms["sim-general-vm-sim-c-0"].dependencies
    # Control-plane VMs do not roll, so they wait for nothing new.
    assert not any(r.urn in vms["sim-cp-vm-sim-b-0"].dependencies for r in rets.values())


def test_a_static_address_pool_refuses_to_roll() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    slots = _run(raw).exports["nodeSlots"]
    raw["nodePools"]["workers"][0]["template"] = "new-template"
    with pytest.raises(Exception, match="static"):
        _run(raw, slots)


def _deletes_first(config: dict[str, Any]) -> dict[str, Any]:
    config["nodePools"]["workers"][0] |= {"maxSurge": 0, "maxUnavailable": 1}
    return config


def test_max_unavailable_replaces_each_vm_under_its_name_deleting_first(first: OfflineRun) -> None:
    slots = first.exports["nodeSlots"]
    rolled, plan = _plan_logged(_deletes_first(_config("new-template")), slots)
    after = rolled.exports["nodeSlots"]
    assert {k: s["name"] for k, s in after.items()} == {k: s["name"] for k, s in slots.items()}
    workers = sorted(k for k in after if k.startswith("general-"))
    assert workers and all(after[k]["generation"] != slots[k]["generation"] for k in workers)
    assert f"replace sim-{workers[0]} (deleted first, same name): template" in " ".join(plan)
    assert any(line.startswith("step 1: retire sim-general-") for line in plan)
    vms = {r.name: r for r in rolled.recording.of_type(VM_TYPE)}
    rets = _retirements(rolled)
    for name, vm in vms.items():
        key = vm.inputs["name"].removeprefix("sim-")
        # The generation is the VM's replacement trigger; only the deletes-first pool deletes before replacing.
        assert vm.replacement_trigger == after[key]["generation"], name
        assert vm.delete_before_replace is (True if key.startswith("general-") else None), name
        assert rets[f"sim-retire-{key}"].replace_with == [vm.urn]  # drained with its VM, before it
    # maxUnavailable 1: each rolling VM (the old one deleted first) waits for the previous slot's new node.
    assert rets["sim-retire-general-sim-a-0"].urn in vms["sim-general-vm-sim-b-0"].dependencies


def test_a_static_address_pool_rolls_with_max_unavailable() -> None:
    raw = _deletes_first(copy.deepcopy(offline_config("sim")))
    slots = _run(raw).exports["nodeSlots"]
    raw["nodePools"]["workers"][0]["template"] = "new-template"
    rolled = _run(raw, slots).exports["nodeSlots"]
    assert {k: s["name"] for k, s in rolled.items()} == {k: s["name"] for k, s in slots.items()}
