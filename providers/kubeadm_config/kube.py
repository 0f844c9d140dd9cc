"""The Kubernetes requests of ClusterVersion and ClusterAddons (raw: see providers.kube_raw).

One API client per kubeconfig per process; the kubeconfig is a secret input, never quoted.
"""

from __future__ import annotations

import json
from typing import Any

from providers.kube_raw import ClientCache, RawApi, load_api_client

from .plan import KUBEADM_CONFIG, NAMESPACE, KubeadmError

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
_CLIENTS = ClientCache()
_CONFIG_MAP = "/api/v1/namespaces/{namespace}/configmaps/{name}"
_WORKLOAD = "/apis/apps/v1/namespaces/{namespace}/{kind}/{name}"


def api_for(kubeconfig: str) -> RawApi:
    def make(text: str) -> RawApi:
        return RawApi(load_api_client(text, lambda why: KubeadmError(f"the kubeconfig cannot be loaded ({why})")))

    found: RawApi = _CLIENTS.get(kubeconfig, make)
    return found


def _forget_clients() -> None:
    """Drop every cached client (through :func:`providers.caches.reset_caches`)."""
    _CLIENTS.clear()


def _fail(what: str, exc: Any) -> KubeadmError:
    return KubeadmError(f"{what} failed: HTTP {exc.status} {exc.reason}")


def _read(api: RawApi, path: str, params: dict[str, str], what: str) -> dict[str, Any] | None:
    """GET one object; None if there is none."""
    from kubernetes.client.exceptions import ApiException

    try:
        raw = api.send("GET", path, path_params=params)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise _fail(f"reading {what}", exc) from None
    found: dict[str, Any] = json.loads(raw.data)
    return found


def read_kubeadm_config(api: RawApi) -> dict[str, Any] | None:
    """``kube-system/kubeadm-config``, or None if there is none (yet: kubeadm init uploads it)."""
    params = {"namespace": NAMESPACE, "name": KUBEADM_CONFIG}
    return _read(api, _CONFIG_MAP, params, f"{NAMESPACE}/{KUBEADM_CONFIG}")


def replace_kubeadm_config(api: RawApi, body: dict[str, Any]) -> bool:
    """PUT the ConfigMap; False on a conflict (someone wrote it since it was read: read again)."""
    from kubernetes.client.exceptions import ApiException

    try:
        api.send("PUT", _CONFIG_MAP, path_params={"namespace": NAMESPACE, "name": KUBEADM_CONFIG}, body=body)
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise _fail(f"updating {NAMESPACE}/{KUBEADM_CONFIG}", exc) from None
    return True


def read_workload(api: RawApi, kind: str, name: str) -> dict[str, Any] | None:
    """A DaemonSet or Deployment (``kind`` as in the URL) of kube-system, None if absent."""
    params = {"namespace": NAMESPACE, "kind": kind, "name": name}
    return _read(api, _WORKLOAD, params, f"{kind[:-1]} {NAMESPACE}/{name}")


def patch_workload(api: RawApi, kind: str, name: str, patch: dict[str, Any]) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        api.send(
            "PATCH",
            _WORKLOAD,
            path_params={"namespace": NAMESPACE, "kind": kind, "name": name},
            body=patch,
            content_type=STRATEGIC_MERGE,
        )
    except ApiException as exc:
        raise _fail(f"patching {kind[:-1]} {NAMESPACE}/{name}", exc) from None
