"""NodeJoin's Kubernetes side: the node's registration, and its bootstrap-token Secret.

One API client per kubeconfig per process; the kubeconfig is a secret input, so the provider
object never holds it, and no error message quotes it.
"""

from __future__ import annotations

import json
from typing import Any

from providers.kube_raw import ClientCache, RawApi, load_api_client

from .plan import TOKEN_NAMESPACE, JoinError, NodeState, token_secret_name

_CLIENTS = ClientCache()


def core_for(kubeconfig: str) -> RawApi:
    """The process-wide client for this kubeconfig (raw requests: see providers.kube_raw)."""

    def make(text: str) -> RawApi:
        return RawApi(
            load_api_client(text, lambda why: JoinError(f"the kubeconfig for NodeJoin cannot be loaded ({why})"))
        )

    found: RawApi = _CLIENTS.get(kubeconfig, make)
    return found


def _forget_clients() -> None:
    """Drop every cached client (through :func:`providers.caches.reset_caches`)."""
    _CLIENTS.clear()


def _secret_path(token_id: str = "") -> tuple[str, dict[str, str]]:
    params = {"namespace": TOKEN_NAMESPACE}
    if not token_id:
        return "/api/v1/namespaces/{namespace}/secrets", params
    return "/api/v1/namespaces/{namespace}/secrets/{name}", params | {"name": token_secret_name(token_id)}


def _status(exc: Exception) -> int:
    return int(getattr(exc, "status", 0) or 0)


def node_state(api: RawApi, name: str) -> NodeState:
    from kubernetes.client.exceptions import ApiException

    try:
        raw = api.send("GET", "/api/v1/nodes/{name}", path_params={"name": name})
    except ApiException as exc:
        if exc.status == 404:
            return NodeState(False)
        raise JoinError(f"reading node {name} failed: HTTP {exc.status} {exc.reason}") from None
    body = json.loads(raw.data)
    return NodeState(True, str((body.get("spec") or {}).get("providerID") or ""))


def token_exists(api: RawApi, token_id: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        path, params = _secret_path(token_id)
        api.send("GET", path, path_params=params)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise JoinError(f"reading bootstrap token {token_id} failed: HTTP {exc.status} {exc.reason}") from None
    return True


def create_token(api: RawApi, body: dict[str, Any]) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        path, params = _secret_path()
        api.send("POST", path, path_params=params, body=body)
    except ApiException as exc:
        if exc.status != 409:  # created meanwhile (a retried call): it is there
            raise JoinError(f"creating {body['metadata']['name']} failed: HTTP {exc.status} {exc.reason}") from None


def delete_token(api: RawApi, token_id: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        path, params = _secret_path(token_id)
        api.send("DELETE", path, path_params=params)
    except ApiException as exc:
        if exc.status != 404:  # gone already (expired and cleaned up, or deleted by hand)
            raise JoinError(f"deleting bootstrap token {token_id} failed: HTTP {exc.status} {exc.reason}") from None
