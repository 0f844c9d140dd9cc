"""The e2e world's node agent registers a Node once per machine, as a kubelet does once per start.

A retirement deletes the old Node while its VM still runs; a real kubelet does not register it again
(it registers once, at start), so neither may the agent, or an old node comes back after the roll.
"""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client

from tests.support.world.kubelets import Machine, NodeAgent

U1, U2 = "4207a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a5b", "4207a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a6c"


class FakeCore:
    """The Nodes the agent created, by name; a test deletes them as the program would."""

    def __init__(self) -> None:
        self.nodes: dict[str, Any] = {}
        self.creates: list[str] = []

    def create_node(self, node: Any) -> None:
        name = node["metadata"]["name"] if isinstance(node, dict) else node.metadata.name
        self.creates.append(name)
        self.nodes[name] = node


def _agent(core: FakeCore, vms: dict[str, Machine]) -> NodeAgent:
    return NodeAgent(cast(client.CoreV1Api, core), lambda: dict(vms), lambda: {"cp-a": True, "w-a": False})


def test_a_deleted_node_of_a_running_vm_is_not_registered_again() -> None:
    core = FakeCore()
    vms = {"cp-a": Machine(U1, "vm-1"), "w-a": Machine(U2, "vm-2")}
    agent = _agent(core, vms)
    agent.sync_once()
    assert sorted(core.creates) == ["cp-a", "w-a"]
    del core.nodes["cp-a"]  # retired: drained and its Node deleted; the VM is not deleted yet
    agent.sync_once()
    agent.sync_once()
    assert sorted(core.creates) == ["cp-a", "w-a"]


def test_a_vm_made_again_under_its_name_registers_again() -> None:
    core = FakeCore()
    vms = {"w-a": Machine(U2, "vm-2")}
    agent = _agent(core, vms)
    agent.sync_once()
    del core.nodes["w-a"]
    vms["w-a"] = Machine(U2, "vm-9")  # destroyed and cloned again between two polls: a new id
    agent.sync_once()
    assert core.creates == ["w-a", "w-a"]
    del core.nodes["w-a"]
    del vms["w-a"]  # gone (powered off or destroyed) ...
    agent.sync_once()
    vms["w-a"] = Machine(U2, "vm-9")  # ... and back: another start of its kubelet
    agent.sync_once()
    assert core.creates == ["w-a", "w-a", "w-a"]
