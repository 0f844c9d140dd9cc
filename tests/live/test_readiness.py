"""The API-server wait and the admin kubeconfig against a real TLS server on loopback.

The server presents a certificate from the cluster CA (IP SAN 127.0.0.1), as kubeadm's
apiserver certificate does for the endpoint, and answers /readyz as a starting API
server does: 500 while post-start hooks run, then "ok". For the kubeconfig it also
demands a client certificate chained to the same CA, as the API server's x509 authn does.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client
from kubernetes.config.kube_config import KubeConfigLoader

from offline.program import offline_config, run_program
from providers.readiness.plan import ApiNotReadyError, WaitPlan, wait_ready
from providers.readiness.probe import probe_readyz, ssl_context
from providers.readiness.provider import ApiServerReadyProvider

pytestmark = pytest.mark.live

VERSION = json.dumps(
    {
        "major": "1", "minor": "31", "gitVersion": "v1.31.4", "gitCommit": "a" * 40, "gitTreeState": "clean",
        "buildDate": "2024-12-10T11:37:53Z", "goVersion": "go1.22.9", "compiler": "gc", "platform": "linux/amd64",
    }
)  # fmt: skip


def _server_cert(ca_pem: str, ca_key_pem: str, tmp: Path) -> tuple[Path, Path]:
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    ca_key: Any = serialization.load_pem_private_key(ca_key_pem.encode(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "apiserver.crt", tmp / "apiserver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class FakeApiServer:
    """/readyz: `not_ready_for` answers of 500 first, then ok; /version for the client test."""

    def __init__(self, cert: Path, key: Path, client_ca: str | None = None, readyz_status: int = 200) -> None:
        self.not_ready_for = 0
        self.readyz_status = readyz_status
        self.hits = 0
        self.peer: Any = None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                if self.path == "/readyz":
                    if outer.not_ready_for > 0:
                        outer.not_ready_for -= 1
                        self._send(500, "[-]poststarthook/rbac/bootstrap-roles failed: not finished\n")
                    else:
                        self._send(outer.readyz_status, "ok" if outer.readyz_status == 200 else "nope")
                elif self.path.rstrip("/") == "/version":
                    outer.peer = self.connection.getpeercert()
                    self._send(200, VERSION, "application/json")
                else:
                    self._send(404, "404 page not found")

            def _send(self, status: int, body: str, kind: str = "text/plain") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        if client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=client_ca)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def cluster_pki() -> dict[str, str]:
    """The program's own PKI, as the mocks issue it (real keys and certificates)."""
    run = run_program(offline_config("sim"), stack="sim")
    out = {n: run.recording.by_name(f"sim-bootstrap-pki-{n}").outputs for n in ("ca", "ca-key")}
    return {
        "ca": out["ca"]["certPem"],
        "ca_key": out["ca-key"]["privateKeyPem"],
        "kubeconfig": run.exports["kubeconfig"],
    }


@pytest.fixture
def server_files(cluster_pki: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    return _server_cert(cluster_pki["ca"], cluster_pki["ca_key"], tmp_path)


def _wait(url: str, ca: str | None, timeout: float, insecure: bool = False) -> Any:
    context = ssl_context(ca, insecure)
    return wait_ready(
        f"Kubernetes API server {url}",
        lambda t: probe_readyz(url, context, t),
        WaitPlan(timeout, initial_delay=0.05, max_delay=0.2),
        time.monotonic,
        time.sleep,
    )


def test_waits_through_500s_until_ready(cluster_pki: dict[str, str], server_files: tuple[Path, Path]) -> None:
    with FakeApiServer(*server_files) as server:
        server.not_ready_for = 3
        result = _wait(server.url, cluster_pki["ca"], timeout=20)
    assert result.attempts == 4 and result.reason == "ok"


def test_provider_create_waits_and_records_the_outcome(
    cluster_pki: dict[str, str], server_files: tuple[Path, Path]
) -> None:
    with FakeApiServer(*server_files) as server:
        created = ApiServerReadyProvider().create(
            {"server": server.url, "caCertPem": cluster_pki["ca"], "insecure": False, "timeoutSeconds": 20}
        )
    assert created.id == server.url and created.outs is not None
    assert created.outs["status"] == "ok" and created.outs["attempts"] == 1


def test_a_server_with_another_ca_times_out_naming_the_tls_failure(cluster_pki: dict[str, str], tmp_path: Path) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone-else")])
    now = datetime.datetime.now(datetime.UTC)
    other_ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(other_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(other_key, hashes.SHA256())
    )
    other_pem = other_ca.public_bytes(serialization.Encoding.PEM).decode()
    other_key_pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with FakeApiServer(*_server_cert(other_pem, other_key_pem, tmp_path)) as server:
        start = time.monotonic()
        with pytest.raises(ApiNotReadyError, match=r"not ready after 2s .*CERTIFICATE_VERIFY_FAILED"):
            _wait(server.url, cluster_pki["ca"], timeout=2)
        assert time.monotonic() - start < 5  # bounded


def test_nothing_listening_times_out_with_a_clear_error() -> None:
    with pytest.raises(
        ApiNotReadyError, match=r"https://127.0.0.1:9 not ready after 1s.*kubernetes.apiReadyTimeoutSeconds"
    ):
        _wait("https://127.0.0.1:9", None, timeout=1)


@pytest.mark.parametrize(("status", "outcome"), [(401, "ready"), (403, "ready"), (404, "fail")])
def test_status_codes(cluster_pki: dict[str, str], server_files: tuple[Path, Path], status: int, outcome: str) -> None:
    with FakeApiServer(*server_files, readyz_status=status) as server:
        if outcome == "ready":
            assert "anonymous access disabled" in _wait(server.url, cluster_pki["ca"], timeout=5).reason
        else:
            with pytest.raises(ApiNotReadyError, match="not a Kubernetes API server"):
                _wait(server.url, cluster_pki["ca"], timeout=5)
            assert server.hits == 1  # a definite answer fails at once


def test_admin_kubeconfig_authenticates_over_mutual_tls(
    cluster_pki: dict[str, str], server_files: tuple[Path, Path]
) -> None:
    """The real kubernetes client, our kubeconfig, a server that trusts only our CA both ways."""
    with FakeApiServer(*server_files, client_ca=cluster_pki["ca"]) as server:
        doc = yaml.safe_load(cluster_pki["kubeconfig"])
        doc["clusters"][0]["cluster"]["server"] = server.url  # the VIP stands in for loopback
        configuration = client.Configuration()
        KubeConfigLoader(config_dict=doc).load_and_set(configuration)
        api = client.VersionApi(client.ApiClient(configuration))
        assert api.get_code().git_version == "v1.31.4"
    # The server saw the admin certificate: the RBAC-bound admin group of kubeadm >= 1.29.
    assert server.peer is not None
    subject = dict(attr for rdn in server.peer["subject"] for attr in rdn)
    assert subject == {"organizationName": "kubeadm:cluster-admins", "commonName": "sim-admin"}
