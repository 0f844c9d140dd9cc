"""Thin Kubernetes adapter for NodeBinding: read a node, merge-patch a node.

The client is built from the kubeconfig text (a secret input), cached per process
by the text's digest; nothing of it is kept on the provider object.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from .plan import NodeFacts, Patch

MERGE_PATCH = "application/merge-patch+json"
# 409: a conflicting write won (stale resourceVersion); 429: throttled; 5xx: the API server restarting.
TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})


class KubeError(RuntimeError):
    """The API server refused a request (status and its message, never the request's credentials)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ConflictError(KubeError):
    """409: the node changed since it was read."""


class TransientKubeError(KubeError):
    """Worth trying again: 429, 5xx or no answer."""


_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


def client_for(kubeconfig: str) -> Any:
    """A CoreV1Api on ``kubeconfig`` (its current context), one per process and kubeconfig."""
    import yaml
    from kubernetes import client, config

    digest = hashlib.sha256(kubeconfig.encode()).hexdigest()
    with _LOCK:
        api = _CLIENTS.get(digest)
        if api is None:
            api_client = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))  # type: ignore[no-untyped-call,unused-ignore]
            api = _CLIENTS[digest] = client.CoreV1Api(api_client)
        return api


def _error(exc: BaseException, what: str) -> KubeError:
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        message = exc.reason or ""
        try:
            body = json.loads(exc.body or "{}")
            message = str(body.get("message") or message)
        except (ValueError, AttributeError):
            pass
        text = f"{what}: HTTP {status}: {message}"
        if status == 409:
            return ConflictError(status, text)
        if status in TRANSIENT_STATUS or status == 0:
            return TransientKubeError(status, text)
        return KubeError(status, text)
    return TransientKubeError(0, f"{what}: {type(exc).__name__}: {exc}")


def _facts(name: str, raw: dict[str, Any]) -> NodeFacts:
    meta = raw.get("metadata") or {}
    return NodeFacts(
        name=name,
        system_uuid=str(((raw.get("status") or {}).get("nodeInfo") or {}).get("systemUUID") or ""),
        provider_id=str((raw.get("spec") or {}).get("providerID") or ""),
        labels=dict(meta.get("labels") or {}),
        resource_version=meta.get("resourceVersion"),
    )


def _transport_errors() -> tuple[type[Exception], ...]:
    import urllib3

    return (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


def get_node(api: Any, name: str) -> NodeFacts | None:
    """The node, or None when it is not registered (404)."""
    from kubernetes.client.exceptions import ApiException

    try:
        response = api.read_node(name, _preload_content=False, _request_timeout=30)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise _error(exc, f"reading node {name!r}") from None
    except _transport_errors() as exc:
        raise _error(exc, f"reading node {name!r}") from None
    return _facts(name, json.loads(response.data))


def patch_node(api: Any, name: str, patch: Patch) -> NodeFacts:
    """Apply ``patch`` as a JSON merge patch; conditional on its resourceVersion when it has one."""
    from kubernetes.client.exceptions import ApiException

    try:
        response = api.patch_node(
            name, patch.body(), _content_type=MERGE_PATCH, _preload_content=False, _request_timeout=30
        )
    except ApiException as exc:
        raise _error(exc, f"patching node {name!r}") from None
    except _transport_errors() as exc:
        raise _error(exc, f"patching node {name!r}") from None
    return _facts(name, json.loads(response.data))
