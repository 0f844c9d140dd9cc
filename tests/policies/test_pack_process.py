"""The pack as the Pulumi CLI runs it: `policies/__main__.py` in its own process, spoken to over the Analyzer
gRPC protocol the engine uses (no Pulumi CLI needed). Proves the entry point imports from its own
directory, registers every policy, honours the pack config, reads secrets and unknowns as the engine
sends them, and reports mandatory violations.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from offline.program import ROOT
from policies.rules import POLICIES
from vsphere_k8s.facts import VM_TYPE

SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
VM = VM_TYPE


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # As the CLI does: the pack's directory is the working directory and the script is its __main__.py.
    proc = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=ROOT / "policies",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        if not port.isdigit():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the pack did not start: {port!r}\n{err}")
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def configure(stub: analyzer_pb2_grpc.AnalyzerStub, config: dict[str, dict[str, Any]]) -> None:
    levels = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY, "disabled": analyzer_pb2.DISABLED}
    request = analyzer_pb2.ConfigureAnalyzerRequest(
        policyConfig={
            name: analyzer_pb2.PolicyConfig(
                enforcementLevel=levels[settings.get("enforcementLevel", "mandatory")],
                properties=struct({k: v for k, v in settings.items() if k != "enforcementLevel"}),
            )
            for name, settings in config.items()
        }
    )
    stub.Configure(request)


def analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    type_: str,
    name: str,
    props: dict[str, Any],
    stack: str,
    *,
    provider: str | None = "vc-east",  # the program's explicit vSphere provider, as the engine sends it
) -> list[Any]:
    urn = f"urn:pulumi:{stack}::vsphere-k8s::{type_}::{name}"
    request = analyzer_pb2.AnalyzeRequest(type=type_, urn=urn, name=name, properties=struct(props))
    if provider is not None:
        request.provider.CopyFrom(
            analyzer_pb2.AnalyzerProviderResource(
                type="pulumi:providers:vsphere",
                name=provider,
                urn=f"urn:pulumi:{stack}::vsphere-k8s::pulumi:providers:vsphere::{provider}",
                properties=struct({}),
            )
        )
    return list(stub.Analyze(request).diagnostics)


def test_the_pack_registers_every_policy(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "vsphere-k8s"
    assert sorted(p.name for p in info.policies) == sorted(p.name for p in POLICIES)


def test_insecure_provider_is_mandatory_on_prod_and_allowed_where_the_pack_config_says(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    configure(analyzer, {"vcenter-tls-verified": {"allowInsecureStacks": ["sim"]}})
    props = {"vsphereServer": "vc", "allowUnverifiedSsl": "true", "password": {**SECRET_SIG, "value": "pw"}}
    (found,) = analyze(analyzer, "pulumi:providers:vsphere", "p", props, "prod")
    assert found.policyName == "vcenter-tls-verified"
    assert found.enforcementLevel == analyzer_pb2.MANDATORY
    assert "pw" not in found.message
    assert analyze(analyzer, "pulumi:providers:vsphere", "p", props, "sim") == []
    configure(analyzer, {"vcenter-tls-verified": {"enforcementLevel": "advisory", "allowInsecureStacks": []}})
    (found,) = analyze(analyzer, "pulumi:providers:vsphere", "p", props, "sim")
    assert found.enforcementLevel == analyzer_pb2.ADVISORY


def test_a_vm_with_unknown_user_data_is_still_checked_for_what_is_known(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    configure(analyzer, {})
    props = {"enableDiskUuid": False, "hardwareVersion": 19, "extraConfig": UNKNOWN_STRING, "tags": UNKNOWN_STRING}
    found = analyze(analyzer, VM, "c-cp-vm-a-0", props, "prod")
    assert [d.policyName for d in found] == ["node-vm-disk-uuid-and-hardware"]
    assert "enableDiskUuid" in found[0].message or "EnableUUID" in found[0].message
    # The same VM on the ambient default provider is refused too.
    found = analyze(analyzer, VM, "c-cp-vm-a-0", props, "prod", provider=None)
    assert sorted(d.policyName for d in found) == ["explicit-providers", "node-vm-disk-uuid-and-hardware"]


def test_stack_policies_see_the_whole_stack(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer, {})

    def resource(type_: str, name: str, props: dict[str, Any]) -> analyzer_pb2.AnalyzerResource:
        urn = f"urn:pulumi:prod::vsphere-k8s::{type_}::{name}"
        return analyzer_pb2.AnalyzerResource(type=type_, urn=urn, name=name, properties=struct(props))

    conf = "global:\n  port: 443\nvcenter:\n  vc:\n    server: vc\nlabels:\n  region: k8s-region\n  zone: k8s-zone\n"
    resources = [
        resource("vsphere:index/tagCategory:TagCategory", "zone-cat", {"name": "k8s-zones", "cardinality": "SINGLE"}),
        resource("kubernetes:core/v1:ConfigMap", "cpi", {"data": {"vsphere.conf": conf}}),
    ]
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
    names = {d.policyName for d in response.diagnostics}
    assert "topology-categories-consistent" in names, json.dumps([d.message for d in response.diagnostics])
