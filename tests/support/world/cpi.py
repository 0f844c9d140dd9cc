"""The real vSphere CPI (cloud-controller-manager) as a process beside the cluster.

It is configured from what the stack itself deployed: the ``vsphere.conf`` of the
CPI's ConfigMap, read back from the API server, and it authenticates as the stack's
``cloud-controller-manager`` ServiceAccount (a TokenRequest token), so the stack's
RBAC rules and credentials Secret are what the CPI really runs with.
"""

from __future__ import annotations

import time
from pathlib import Path

from kubernetes import client

from toolchain.manifest import locate

from .controlplane import write_kubeconfig
from .process import Process


def service_account_token(api: client.CoreV1Api, namespace: str, name: str, seconds: int = 3600) -> str:
    req = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds))
    resp = api.create_namespaced_service_account_token(name, namespace, req)
    if resp.status is None:
        raise RuntimeError(f"TokenRequest for {namespace}/{name} returned no token")
    return str(resp.status.token)


def cpi_process(
    workdir: Path,
    api: client.CoreV1Api,
    server: str,
    ca: Path,
    *,
    namespace: str = "kube-system",
    configmap: str = "vsphere-cloud-config",
    service_account: str = "cloud-controller-manager",
) -> Process:
    cm = api.read_namespaced_config_map(configmap, namespace)
    conf = workdir / "cpi" / "vsphere.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    data = cm.data or {}
    if "vsphere.conf" not in data:
        raise RuntimeError(f"ConfigMap {namespace}/{configmap} has no vsphere.conf key (keys: {sorted(data)})")
    conf.write_text(data["vsphere.conf"])
    kubeconfig = write_kubeconfig(
        workdir / "cpi" / "kubeconfig",
        server,
        ca,
        token=service_account_token(api, namespace, service_account),
        user=service_account,
    )
    return cpi_from_config(workdir, conf, kubeconfig)


def cpi_from_config(
    workdir: Path, conf: Path, kubeconfig: Path, *, name: str = "vsphere-cloud-controller-manager"
) -> Process:
    """The CPI binary with a ``vsphere.conf`` and a kubeconfig, as its DaemonSet runs it (no leader election)."""
    started = time.monotonic()
    return Process(
        name,
        [
            str(locate("vsphere-cloud-controller-manager")),
            "--cloud-provider=vsphere",
            f"--cloud-config={conf}",
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",
            "--v=2",
        ],
        workdir,
        # No serving port to probe: alive for two seconds after start means it parsed its config.
        ready=lambda: time.monotonic() - started > 2.0,
    )
