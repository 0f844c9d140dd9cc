"""The engine benchmarks' pure parts: the registration recording and replay builder, role and request counting."""

from __future__ import annotations

import asyncio
import struct
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest
from google.protobuf import struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import resource_pb2

from benchmarks.cpi_race import done, node_patch
from benchmarks.engine_world import BenchNode, bench_config, count_requests, stack_document
from benchmarks.floor_program import SECRET_SIG, SIG, UNKNOWN, to_input
from benchmarks.noop_cost import summary
from benchmarks.preview_cost import creates_of
from benchmarks.proctree import role_of
from benchmarks.registrations import _KIND_OUTPUTS, _KIND_RESOURCE, is_stack_urn, read_records, replay_items

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
