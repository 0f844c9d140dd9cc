"""The engine benchmarks' pure parts: the registration recording and replay builder, role and request counting."""

from __future__ import annotations

import asyncio
import os
import re
import struct
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest
from google.protobuf import struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import resource_pb2

from benchmarks.cpi_race import done, node_patch
from benchmarks.engine_world import BenchNode, bench_config, count_requests, stack_document
from benchmarks.floor_program import SECRET_SIG, SIG, UNKNOWN, to_input, with_dependencies
from benchmarks.noop_cost import summary
from benchmarks.preview_cost import creates_of
from benchmarks.proctree import cpu_of_stat, role_of
from benchmarks.registrations import (
    _KIND_OUTPUTS,
    _KIND_RESOURCE,
    differences,
    is_stack_urn,
    read_records,
    replay_items,
    sent_record,
)

STACK_URN = "urn:pulumi:bench::vsphere-k8s::pulumi:pulumi:Stack::vsphere-k8s-bench"
CLUSTER_URN = "urn:pulumi:bench::vsphere-k8s::vsphere-k8s:index:Cluster::bench"
PROVIDER_URN = "urn:pulumi:bench::vsphere-k8s::vsphere-k8s:index:Cluster$pulumi:providers:vsphere::bench-vsphere-vc"
VM_URN = "urn:pulumi:bench::vsphere-k8s::vsphere-k8s:index:Cluster$vsphere:index/virtualMachine:VirtualMachine::vm-0"


def _struct(value: dict[str, Any]) -> Any:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def _resource(urn: str, **fields: Any) -> bytes:
    obj = fields.pop("object", {})
    req = resource_pb2.RegisterResourceRequest(object=_struct(obj), **fields)
    blob: bytes = req.SerializeToString()
    return struct.pack(">BI", _KIND_RESOURCE, len(blob)) + blob + struct.pack(">BI", 0, len(urn)) + urn.encode()


def _outputs(urn: str, outputs: dict[str, Any]) -> bytes:
    blob: bytes = resource_pb2.RegisterResourceOutputsRequest(urn=urn, outputs=_struct(outputs)).SerializeToString()
    return struct.pack(">BI", _KIND_OUTPUTS, len(blob)) + blob


def recording() -> bytes:
    secret = {SIG: SECRET_SIG, "value": "hunter2"}
    return b"".join(
        [
            _resource(CLUSTER_URN, type="vsphere-k8s:index:Cluster", name="bench", parent=STACK_URN),
            _resource(
                PROVIDER_URN,
                type="pulumi:providers:vsphere",
                name="bench-vsphere-vc",
                custom=True,
                parent=CLUSTER_URN,
                object={"user": secret, "version": "4.18.2"},
            ),
            _resource(
                VM_URN,
                type="vsphere:index/virtualMachine:VirtualMachine",
                name="vm-0",
                custom=True,
                parent=CLUSTER_URN,
                provider=f"{PROVIDER_URN}::{UNKNOWN}",
                additionalSecretOutputs=["extraConfig"],
                object={"name": "vm-0", "tags": [UNKNOWN], "numCpus": 8},
            ),
            _outputs(CLUSTER_URN, {"vms": 1}),
            _outputs(STACK_URN, {"clusterName": "bench"}),
        ]
    )


def test_replay_items_keep_order_tree_providers_and_wire_inputs() -> None:
    replay = replay_items(read_records(recording()))
    items = replay["resources"]
    assert [i["name"] for i in items] == ["bench", "bench-vsphere-vc", "vm-0"]
    cluster, provider, vm = items
    assert cluster["parent"] == "" and not cluster["custom"] and cluster["outputs"] == {"vms": 1}
    assert provider["parent"] == CLUSTER_URN and provider["inputs"]["user"] == {SIG: SECRET_SIG, "value": "hunter2"}
    assert vm["provider"] == PROVIDER_URN  # the id part (unknown in a preview) is dropped
    assert vm["inputs"] == {"name": "vm-0", "tags": [UNKNOWN], "numCpus": 8}
    assert vm["additional_secret_outputs"] == ["extraConfig"]
    assert replay["stack_outputs"] == {"clusterName": "bench"}


TAG_URN = "urn:pulumi:bench::vsphere-k8s::vsphere-k8s:index:Cluster$vsphere:index/tag:Tag::zone-a"
BINDING_URN = "urn:pulumi:bench::vsphere-k8s::vsphere-k8s:index:Cluster$pulumi-python:dynamic:NodeBinding::node-0"


def _sent(seq: int, urn: str, **fields: Any) -> bytes:
    obj = fields.pop("object", {})
    deps = fields.pop("property_dependencies", {})
    req = resource_pb2.RegisterResourceRequest(object=_struct(obj), **fields)
    for key, urns in deps.items():
        req.propertyDependencies[key].urns.extend(urns)
    return sent_record(seq, req.SerializeToString(), urn)


def test_replay_follows_the_send_order_and_keeps_dependencies() -> None:
    # Answered out of order: the engine finished the VM (sent third) before the tag (sent second).
    data = b"".join(
        [
            _sent(0, CLUSTER_URN, type="vsphere-k8s:index:Cluster", name="bench", parent=STACK_URN),
            _sent(
                2,
                VM_URN,
                type="vsphere:index/virtualMachine:VirtualMachine",
                name="vm-0",
                custom=True,
                parent=CLUSTER_URN,
                dependencies=[TAG_URN],
                property_dependencies={"tags": [TAG_URN]},
                object={"tags": ["t-1"]},
            ),
            _sent(1, TAG_URN, type="vsphere:index/tag:Tag", name="zone-a", custom=True, parent=CLUSTER_URN),
            _sent(
                3,
                BINDING_URN,
                type="pulumi-python:dynamic:NodeBinding",
                name="node-0",
                custom=True,
                parent=CLUSTER_URN,
                dependencies=[TAG_URN, VM_URN],
                property_dependencies={"vm_moid": [VM_URN]},
                object={"vm_moid": "vm-12"},
            ),
        ]
    )
    items = replay_items(read_records(data))["resources"]
    assert [i["name"] for i in items] == ["bench", "zone-a", "vm-0", "node-0"]
    vm, binding = items[2], items[3]
    assert vm["dependencies"] == [TAG_URN] and vm["property_dependencies"] == {"tags": [TAG_URN]}
    assert binding["dependencies"] == [TAG_URN, VM_URN]


def test_replay_refuses_a_dependency_sent_after_its_dependent() -> None:
    data = _sent(0, VM_URN, type="vsphere:index/virtualMachine:VirtualMachine", name="vm-0", dependencies=[TAG_URN])
    data += _sent(1, TAG_URN, type="vsphere:index/tag:Tag", name="zone-a")
    with pytest.raises(ValueError, match=re.escape(f"dependency {TAG_URN} was not registered before it")):
        replay_items(read_records(data))


def test_differences_name_the_field_and_the_registration() -> None:
    program = replay_items(read_records(recording()))
    assert differences(program, program) == []
    resources = [dict(i) for i in program["resources"]]
    resources[2]["dependencies"] = [PROVIDER_URN]
    floor = {"resources": resources[1:], "stack_outputs": {}}
    assert differences(program, floor) == [
        f"{CLUSTER_URN}: only the program registered it",
        f"{VM_URN}: dependencies differs",
    ]


class _Res:
    """A stand-in for a registered resource (hashable, as the SDK's resources are)."""


def test_floor_waits_for_property_dependencies_and_the_rest_through_depends_on() -> None:
    tag, vm, other = _Res(), _Res(), _Res()
    made: dict[str, Any] = {TAG_URN: tag, VM_URN: vm, CLUSTER_URN: other}
    item = {
        "dependencies": [CLUSTER_URN, TAG_URN, VM_URN],
        "property_dependencies": {"vm_moid": [VM_URN], "tags": [TAG_URN], "absent": [CLUSTER_URN]},
    }

    async def convert() -> tuple[list[Any], dict[str, Any], set[Any], Any, bool]:
        props: dict[str, Any] = {"vm_moid": "vm-12", "tags": [{SIG: SECRET_SIG, "value": "t"}], "plain": 1}
        props = to_input(props, made)
        rest = with_dependencies(item, props, made)
        moid = props["vm_moid"]
        assert isinstance(moid, pulumi.Output) and isinstance(props["tags"], pulumi.Output)
        return rest, props, await moid.resources(), await moid.future(), await props["tags"].is_secret()

    rest, props, moid_deps, moid, tags_secret = asyncio.run(convert())
    assert moid_deps == {vm} and moid == "vm-12"
    assert tags_secret  # the secret inside the value stays secret
    assert props["plain"] == 1
    # the cluster is a dependency of no property the floor sends: it waits through depends_on
    assert rest == [other]


def test_cpu_of_stat_reads_user_and_system_time_after_the_command() -> None:
    # pid (comm with spaces and a paren) state ppid ... utime stime: fields 14 and 15
    stat = "42 (python (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 5 0 100 1000 100"
    assert cpu_of_stat(stat) == pytest.approx(400 / os.sysconf("SC_CLK_TCK"))


def test_replay_refuses_a_child_before_its_parent() -> None:
    orphan = _resource(VM_URN, type="vsphere:index/virtualMachine:VirtualMachine", name="vm-0", parent=CLUSTER_URN)
    with pytest.raises(ValueError, match="was not registered before it"):
        replay_items(read_records(orphan))


def test_stack_urn() -> None:
    assert is_stack_urn(STACK_URN)
    assert not is_stack_urn(CLUSTER_URN) and not is_stack_urn("")


def test_floor_inputs_wrap_secrets_again_and_keep_unknowns() -> None:
    async def convert() -> tuple[Any, bool, Any]:
        value = to_input({"a": [{SIG: SECRET_SIG, "value": "s"}], "b": UNKNOWN, "c": 3}, {})
        secret = value["a"][0]
        assert isinstance(secret, pulumi.Output)
        return value, await secret.is_secret(), await secret.future()

    value, is_secret, inner = asyncio.run(convert())
    assert is_secret and inner == "s"
    assert value["b"] == UNKNOWN and value["c"] == 3


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["/work/run/bin/pulumi", "preview"], "engine"),
        (["/work/run/bin/pulumi-language-python", "-root=/x"], "language host"),
        (["/repo/.venv/bin/python", "-u", "/work/run/bin/pulumi-language-python-exec", "--monitor", "m"], "program"),
        (["/repo/.venv/bin/python", "-u", "-m", "pulumi.dynamic"], "dynamic provider host"),
        (["/repo/.venv/bin/python", "-u", "-m", "toolchain.standins.vsphere"], "plugin vsphere (stand-in)"),
        (["/cache/pulumi-resource-kubernetes", "127.0.0.1:1"], "plugin kubernetes"),
        ([], "other"),
    ],
)
def test_process_roles(argv: list[str], role: str) -> None:
    assert role_of(argv) == role


def test_audit_counts_by_client_reads_and_writes() -> None:
    events = [
        {"stage": "ResponseComplete", "verb": "list", "userAgent": "OpenAPI-Generator/31.0.0/python"},
        {"stage": "ResponseComplete", "verb": "patch", "userAgent": "OpenAPI-Generator/31.0.0/python"},
        {"stage": "ResponseStarted", "verb": "watch", "userAgent": "OpenAPI-Generator/31.0.0/python"},
        {"stage": "ResponseComplete", "verb": "update", "userAgent": "kwok/v0.8.0 (linux/amd64)"},
        {"stage": "ResponseComplete", "verb": "get", "userAgent": "bench-watch"},
    ]
    all_ = count_requests(events)
    assert (all_.reads, all_.writes) == (2, 2)
    stack = count_requests(events, exclude=("kwok", "bench-watch"))
    assert (stack.reads, stack.writes) == (1, 1) and stack.by_client == {"OpenAPI-Generator": (1, 1)}
    assert count_requests(events, clients=("kwok",)).writes == 1


def test_bench_config_uses_the_renamed_template_and_keeps_credentials_out_of_the_file() -> None:
    raw = bench_config(12, 8989, nodeBinding={"mode": "enforce"})
    assert raw["vcenters"][0]["port"] == 8989 and raw["nodeBinding"] == {"mode": "enforce"}
    pools = [raw["nodePools"]["controlPlane"], *raw["nodePools"]["workers"]]
    assert {p["template"] for p in pools} == {"bench-template"}
    doc = stack_document(raw)
    assert "vsphere-k8s:credentials" not in doc["config"] and "vsphere-k8s:topology" in doc["config"]


def test_a_node_is_done_with_provider_id_zone_and_region() -> None:
    node = BenchNode("dc0-c0-rp0-vm0", "DC0_C0_RP0_VM0", "vm-1", "4213b2d5-1111-2222-3333-444455556666", "r0-z0", "r0")
    patch = node_patch(node)
    as_read = SimpleNamespace(
        metadata=SimpleNamespace(labels=patch["metadata"]["labels"]),
        spec=SimpleNamespace(provider_id=patch["spec"]["providerID"]),
    )
    assert patch["spec"]["providerID"] == "vsphere://4213b2d5-1111-2222-3333-444455556666"
    assert done(as_read)
    as_read.metadata.labels = {"topology.kubernetes.io/zone": "r0-z0"}
    assert not done(as_read)


def test_cli_output_parsing() -> None:
    assert creates_of("Resources:\n    + 130 to create\n") == 130
    with pytest.raises(ValueError, match="to create"):
        creates_of("error: boom")
    out = "Outputs:\n  x: 1\n\nResources:\n    130 unchanged\n\nDuration: 40s\n"
    assert summary(out) == "130 unchanged"
    assert summary("nothing") == "?"


def _item(urn: str, type_: str, name: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "urn": urn,
        "type": type_,
        "name": name,
        "custom": True,
        "parent": "",
        "provider": "",
        "version": "",
        "additional_secret_outputs": [],
        "inputs": {},
        "outputs": None,
        "dependencies": [],
        "property_dependencies": {},
    }
    return {**base, **fields}


def test_floor_registers_each_item_lazily_with_the_recorded_dependencies() -> None:
    from pulumi.runtime import mocks as pmocks
    from pulumi.runtime.settings import SETTINGS
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from benchmarks.floor_program import register_all
    from offline.recording import RecordingMonitor

    class Answer(pmocks.Mocks):
        def new_resource(self, args: pmocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pmocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
            return {}, None

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # the SDK runs the program on the thread's loop (asyncio.run left none)
    mocks = Answer()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False, monitor=monitor)
    group = "urn:pulumi:s::p::test:index:Group::g"
    tag = "urn:pulumi:s::p::test:index:Group$test:index:Tag::t"
    other = "urn:pulumi:s::p::test:index:Group$test:index:Tag::o"
    vm = "urn:pulumi:s::p::test:index:Group$test:index:Vm::v"
    replay = {
        "resources": [
            _item(group, "test:index:Group", "g", custom=False, outputs={"vms": 1}),
            _item(tag, "test:index:Tag", "t", parent=group, inputs={"name": "zone-a"}),
            _item(other, "test:index:Tag", "o", parent=group),
            _item(
                vm,
                "test:index:Vm",
                "v",
                parent=group,
                inputs={"tags": ["t-id"], "password": {SIG: SECRET_SIG, "value": "s"}},
                dependencies=[other, tag],
                property_dependencies={"tags": [tag]},
            ),
        ],
        "stack_outputs": {},
    }
    at_return: list[int] = []

    def main() -> None:
        at_return.append(len(register_all(replay)))

    try:
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()
        _sync_await(run_pulumi_func(main))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert at_return == [0]  # nothing is made before the program hands over to the SDK's loop
    regs = {r.name: r for r in monitor.registrations.values()}
    order = list(regs)
    assert order[0] == "g" and set(order[1:3]) == {"t", "o"} and order[3] == "v"  # v only after both tags
    by_name = {r.urn: r.name for r in monitor.registrations.values()}
    v = regs["v"]
    assert sorted(by_name[u] for u in v.dependencies) == ["o", "t"]
    assert {k: [by_name[u] for u in us] for k, us in v.property_dependencies.items() if us} == {"tags": ["t"]}
    assert v.inputs == {"tags": ["t-id"], "password": "s"} and v.secret_inputs == {"password"}
    assert by_name[v.parent] == "g" and regs["g"].component_outputs == {"vms": 1}
