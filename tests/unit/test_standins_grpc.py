"""The stand-in plugins as the engine sees them: a process on PATH, a port on stdout, gRPC calls."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import provider_pb2 as pb
from pulumi.runtime.proto import provider_pb2_grpc as pbg

from toolchain.standins.wire import UNKNOWN, Secret, marshal, unmarshal

BIN = Path(__file__).resolve().parents[2] / "toolchain" / "standins" / "bin"


@dataclass
class Plugin:
    proc: subprocess.Popen[bytes]
    stub: pbg.ResourceProviderStub

    def urn(self, token: str, name: str = "r") -> str:
        return f"urn:pulumi:test::proj::{token}::{name}"


def start_plugin(name: str, cwd: Path) -> Plugin:
    """Start ``pulumi-resource-<name>`` the way the engine does and connect to the port it prints."""
    proc = subprocess.Popen([str(BIN / f"pulumi-resource-{name}"), "127.0.0.1:1"], stdout=subprocess.PIPE, cwd=cwd)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())
    # Loopback only: a proxy from the environment must not sit between engine and plugin.
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_http_proxy", 0)])
    grpc.channel_ready_future(channel).result(timeout=30)
    return Plugin(proc, pbg.ResourceProviderStub(channel))


@pytest.fixture
def plugin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Plugin]:
    started = start_plugin(request.param, tmp_path)
    started.stub.Configure(pb.ConfigureRequest(args=marshal({}), acceptSecrets=True))
    yield started
    started.proc.kill()
    started.proc.wait()


@pytest.mark.parametrize(("name", "version"), [("random", "4.21.4"), ("tls", "5.6.2"), ("vsphere", "4.18.2")])
def test_plugin_reports_the_sdk_version(name: str, version: str, tmp_path: Path):
    started = start_plugin(name, tmp_path)
    try:
        assert started.stub.GetPluginInfo(empty_pb2.Empty()).version == version
        assert '"STAND-IN' in started.stub.GetSchema(pb.GetSchemaRequest()).schema
    finally:
        started.proc.kill()
        started.proc.wait()


PASSWORD = "random:index/randomPassword:RandomPassword"


@pytest.mark.parametrize("plugin", ["random"], indirect=True)
def test_preview_keeps_unknowns_and_the_result_secret(plugin: Plugin):
    check = plugin.stub.Check(
        pb.CheckRequest(urn=plugin.urn(PASSWORD), type=PASSWORD, news=marshal({"length": UNKNOWN, "special": False}))
    )
    assert list(check.failures) == []
    inputs = unmarshal(check.inputs)
    assert inputs["length"] is UNKNOWN and inputs["upper"] is True
    preview = plugin.stub.Create(
        pb.CreateRequest(urn=plugin.urn(PASSWORD), type=PASSWORD, properties=check.inputs, preview=True)
    )
    assert preview.id == ""
    assert unmarshal(preview.properties)["result"] == Secret(UNKNOWN)


@pytest.mark.parametrize("plugin", ["random"], indirect=True)
def test_create_diff_and_bad_input_over_grpc(plugin: Plugin):
    news = marshal({"length": 16, "upper": False, "special": False})
    check = plugin.stub.Check(pb.CheckRequest(urn=plugin.urn(PASSWORD), type=PASSWORD, news=news))
    made = plugin.stub.Create(pb.CreateRequest(urn=plugin.urn(PASSWORD), type=PASSWORD, properties=check.inputs))
    outs = unmarshal(made.properties)
    assert made.id == "none" and isinstance(outs["result"], Secret) and len(outs["result"].value) == 16
    longer = plugin.stub.Check(
        pb.CheckRequest(
            urn=plugin.urn(PASSWORD), type=PASSWORD, news=marshal({**unmarshal(check.inputs), "length": 20})
        )
    )
    diff = plugin.stub.Diff(
        pb.DiffRequest(urn=plugin.urn(PASSWORD), type=PASSWORD, id=made.id, olds=made.properties, news=longer.inputs)
    )
    assert diff.changes == pb.DiffResponse.DIFF_SOME and list(diff.replaces) == ["length"]
    assert diff.detailedDiff["length"].kind == pb.PropertyDiff.UPDATE_REPLACE
    same = plugin.stub.Diff(
        pb.DiffRequest(urn=plugin.urn(PASSWORD), type=PASSWORD, id=made.id, olds=made.properties, news=check.inputs)
    )
    assert same.changes == pb.DiffResponse.DIFF_NONE
    bad = plugin.stub.Check(pb.CheckRequest(urn=plugin.urn(PASSWORD), type=PASSWORD, news=marshal({"length": 0})))
    assert [f.property for f in bad.failures] == ["length"]


KEY, CERT = "tls:index/privateKey:PrivateKey", "tls:index/selfSignedCert:SelfSignedCert"


@pytest.mark.parametrize("plugin", ["tls"], indirect=True)
def test_private_key_pem_is_secret_and_signs_a_ca(plugin: Plugin):
    from cryptography import x509

    key_in = plugin.stub.Check(
        pb.CheckRequest(urn=plugin.urn(KEY), type=KEY, news=marshal({"algorithm": "ECDSA", "ecdsaCurve": "P256"}))
    )
    key = unmarshal(
        plugin.stub.Create(pb.CreateRequest(urn=plugin.urn(KEY), type=KEY, properties=key_in.inputs)).properties
    )
    assert isinstance(key["privateKeyPem"], Secret) and "EC PRIVATE KEY" in key["privateKeyPem"].value
    assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    cert_news = {
        "privateKeyPem": key["privateKeyPem"],
        "subject": {"commonName": "kubernetes"},
        "isCaCertificate": True,
        "setSubjectKeyId": True,
        "validityPeriodHours": 24,
        "allowedUses": ["cert_signing", "digital_signature"],
    }
    cert_in = plugin.stub.Check(pb.CheckRequest(urn=plugin.urn(CERT), type=CERT, news=marshal(cert_news)))
    made = plugin.stub.Create(pb.CreateRequest(urn=plugin.urn(CERT), type=CERT, properties=cert_in.inputs))
    outs = unmarshal(made.properties)
    assert isinstance(outs["privateKeyPem"], Secret)  # secret input, secret output
    cert = x509.load_pem_x509_certificate(outs["certPem"].encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert str(cert.serial_number) == made.id


@pytest.mark.parametrize("plugin", ["random"], indirect=True)
def test_unknown_type_is_an_error_naming_it(plugin: Plugin):
    with pytest.raises(grpc.RpcError) as caught:
        plugin.stub.Check(pb.CheckRequest(urn=plugin.urn("random:index/nope:Nope"), type="random:index/nope:Nope"))
    assert "random:index/nope:Nope" in str(caught.value.details())
