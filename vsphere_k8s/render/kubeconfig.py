"""Admin kubeconfig: rendered from the cluster CA and a client certificate, and read back."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import yaml


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def render_kubeconfig(
    cluster: str,
    server: str,
    *,
    ca_cert_pem: str,
    client_cert_pem: str,
    client_key_pem: str,
    user: str = "admin",
) -> str:
    context = f"{user}@{cluster}"
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": _b64(ca_cert_pem)}}],
        "users": [
            {
                "name": context,
                "user": {
                    "client-certificate-data": _b64(client_cert_pem),
                    "client-key-data": _b64(client_key_pem),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": context}}],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass(frozen=True)
class ClusterEndpoint:
    """The public half of a kubeconfig: where the API server is and how to trust it."""

    server: str
    ca_cert_pem: str | None
    insecure: bool


class KubeconfigError(ValueError):
    pass


def endpoint_of(kubeconfig: str) -> ClusterEndpoint:
    """The current context's server and CA; errors name what is missing, never echo the content."""
    try:
        doc = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        raise KubeconfigError("kubeconfig is not valid YAML") from None
    if not isinstance(doc, dict):
        raise KubeconfigError("kubeconfig is not a mapping")
    contexts = {c.get("name"): c.get("context", {}) for c in doc.get("contexts") or [] if isinstance(c, dict)}
    clusters = {c.get("name"): c.get("cluster", {}) for c in doc.get("clusters") or [] if isinstance(c, dict)}
    current = doc.get("current-context")
    if current not in contexts:
        raise KubeconfigError(f"kubeconfig current-context {current!r} names no context")
    cluster_name = contexts[current].get("cluster")
    cluster = clusters.get(cluster_name)
    if not isinstance(cluster, dict) or not cluster.get("server"):
        raise KubeconfigError(f"kubeconfig cluster {cluster_name!r} has no server")
    ca = cluster.get("certificate-authority-data")
    return ClusterEndpoint(
        server=str(cluster["server"]).rstrip("/"),
        ca_cert_pem=base64.b64decode(ca).decode() if ca else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )
