"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback.

The API server runs with RBAC and client-certificate authentication, as a kubeadm
cluster does; the test's own identity is an admin certificate (system:masters). Other
identities (the CPI's ServiceAccount) get tokens through the TokenRequest API.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml

from toolchain.manifest import locate

from .pki import ControlPlanePki, make_control_plane_pki
from .process import Process, free_port, http_ok, unverified_tls

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(
    path: Path,
    server: str,
    ca: Path,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    token: str | None = None,
    user: str = "e2e",
) -> Path:
    """A kubeconfig with everything embedded (what the stack's secret config receives)."""
    auth: dict[str, str] = {}
    if cert and key:
        auth = {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}
    if token:
        auth = {"token": token}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [{"name": user, "user": auth}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


@dataclass
class ControlPlane:
    workdir: Path
    etcd: Process | None = None
    apiserver: Process | None = None
    controller_manager: Process | None = None
    scheduler: Process | None = None
    pki: ControlPlanePki | None = None
    api_port: int = 0

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    def _admin_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        ctx = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        ctx.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        return ctx

    def processes(self) -> list[Process]:
        self.pki = make_control_plane_pki(self.workdir / "pki", SERVICE_IP)
        pki = self.pki
        client_port, peer_port = free_port(), free_port()
        self.api_port = free_port()
        etcd_url = f"http://127.0.0.1:{client_port}"
        self.etcd = Process(
            "etcd",
            [
                str(locate("etcd")),
                "--name=e2e",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=e2e=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",  # a throwaway test store: durability costs seconds per write here
                "--log-level=warn",
            ],
            self.workdir,
            ready=lambda: http_ok(f"{etcd_url}/health"),
        )
        write_kubeconfig(self.admin_kubeconfig, self.server, pki.ca.cert, cert=pki.admin.cert, key=pki.admin.key)
        self.apiserver = Process(
            "kube-apiserver",
            [
                str(locate("kube-apiserver")),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--tls-cert-file={pki.serving.cert}",
                f"--tls-private-key-file={pki.serving.key}",
                f"--client-ca-file={pki.ca.cert}",
                # As kubeadm's API server: nodes join with bootstrap tokens (Secrets in kube-system).
                "--enable-bootstrap-token-auth=true",
                "--authorization-mode=Node,RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.service_account_pub}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                "--enable-admission-plugins=NodeRestriction",
                "--allow-privileged=true",
                "--v=1",
            ],
            self.workdir,
            ready=lambda: http_ok(f"{self.server}/readyz", self._admin_context()),
            start_timeout=120.0,
        )
        kcm_port, sched_port = free_port(), free_port()
        insecure = unverified_tls()  # their self-made serving certs: only the health probe reads them
        self.controller_manager = Process(
            "kube-controller-manager",
            [
                str(locate("kube-controller-manager")),
                f"--kubeconfig={self.admin_kubeconfig}",
                f"--authentication-kubeconfig={self.admin_kubeconfig}",
                f"--authorization-kubeconfig={self.admin_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--root-ca-file={pki.ca.cert}",
                "--use-service-account-credentials=true",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                # No cloud controllers here: the vSphere CPI runs as its own process.
                "--cloud-provider=external",
                # bootstrapsigner (off by default, on in kubeadm's kcm manifest) signs kube-public/cluster-info
                # for each bootstrap token: kubeadm join's token discovery needs the signature.
                "--controllers=*,bootstrapsigner,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
                # kwok's heartbeats come every few seconds; on a loaded 2-core CI machine a late one
                # must not make a node NotReady (the CPI deletes NotReady nodes whose VM is gone).
                "--node-monitor-grace-period=120s",
                "--v=1",
            ],
            self.workdir,
            ready=lambda: http_ok(f"https://127.0.0.1:{kcm_port}/healthz", insecure),
        )
        self.scheduler = Process(
            "kube-scheduler",
            [
                str(locate("kube-scheduler")),
                f"--kubeconfig={self.admin_kubeconfig}",
                f"--authentication-kubeconfig={self.admin_kubeconfig}",
                f"--authorization-kubeconfig={self.admin_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={sched_port}",
                "--leader-elect=false",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                "--v=1",
            ],
            self.workdir,
            ready=lambda: http_ok(f"https://127.0.0.1:{sched_port}/healthz", insecure),
        )
        return [self.etcd, self.apiserver, self.controller_manager, self.scheduler]
