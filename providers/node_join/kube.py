"""NodeJoin's Kubernetes side: the node's registration, and its bootstrap-token Secret.

One API client per kubeconfig per process; the kubeconfig is a secret input, so the provider
object never holds it, and no error message quotes it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import yaml

from .plan import TOKEN_NAMESPACE, JoinError, NodeState, token_secret_name

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


def core_for(kubeconfig: str) -> Any:
    import hashlib

    from kubernetes import client, config

    key = hashlib.sha256(kubeconfig.encode()).hexdigest()
    with _LOCK:
        api = _CLIENTS.get(key)
        if api is None:
            try:
                api_client = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))  # type: ignore[no-untyped-call]
            except Exception as exc:  # the loader raises many types; none may echo the secret
                raise JoinError(f"the kubeconfig for NodeJoin cannot be loaded ({type(exc).__name__})") from None
            api = _CLIENTS[key] = client.CoreV1Api(api_client)
        return api


def _status(exc: Exception) -> int:
    return int(getattr(exc, "status", 0) or 0)


def node_state(api: Any, name: str) -> NodeState:
    from kubernetes.client.exceptions import ApiException

    try:
        raw = api.read_node(name, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return NodeState(False)
        raise JoinError(f"reading node {name} failed: HTTP {exc.status} {exc.reason}") from None
    body = json.loads(raw.data)
    return NodeState(True, str((body.get("spec") or {}).get("providerID") or ""))


def token_exists(api: Any, token_id: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        api.read_namespaced_secret(token_secret_name(token_id), TOKEN_NAMESPACE, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise JoinError(f"reading bootstrap token {token_id} failed: HTTP {exc.status} {exc.reason}") from None
    return True


def create_token(api: Any, body: dict[str, Any]) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        api.create_namespaced_secret(TOKEN_NAMESPACE, body, _preload_content=False)
    except ApiException as exc:
        if exc.status != 409:  # created meanwhile (a retried call): it is there
            raise JoinError(f"creating {body['metadata']['name']} failed: HTTP {exc.status} {exc.reason}") from None


def delete_token(api: Any, token_id: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        api.delete_namespaced_secret(token_secret_name(token_id), TOKEN_NAMESPACE, _preload_content=False)
    except ApiException as exc:
        if exc.status != 404:  # gone already (expired and cleaned up, or deleted by hand)
            raise JoinError(f"deleting bootstrap token {token_id} failed: HTTP {exc.status} {exc.reason}") from None
