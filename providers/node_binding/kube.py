"""Thin adapter over the kubernetes client: read a node, merge-patch it.

One API client per kubeconfig per process (the kubeconfig is a secret input,
so the provider object never holds it). Answers are read as raw JSON: the
binding needs a handful of fields, not the client's models.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import urllib3
import yaml

from providers.vcenter.retry import RetryPolicy

from .plan import BindingError, NodeView

# 409 is handled by the caller (re-read, re-plan); these are worth the same request again.
_TRANSIENT = frozenset({429, 500, 502, 503, 504})


class ConflictError(BindingError):
    """The node changed since it was read (HTTP 409 on a resourceVersion precondition)."""


class KubeNodes:
    def __init__(self, kubeconfig: str, retry: RetryPolicy | None = None) -> None:
        from kubernetes import client, config

        try:
            loaded = yaml.safe_load(kubeconfig)
            api_client = config.new_client_from_config_dict(loaded)  # type: ignore[no-untyped-call]
        except Exception as exc:  # the loader raises many types; none may echo the secret
            raise BindingError(f"the kubeconfig for the node binding cannot be loaded ({type(exc).__name__})") from None
        self.api = client.CoreV1Api(api_client)
        self.retry = retry or RetryPolicy()
        self.reads = 0
        self.writes = 0

    def get(self, name: str) -> NodeView:
        self.reads += 1
        body = self._call(f"read node {name}", lambda: self.api.read_node(name, _preload_content=False), name)
        return NodeView(name, False) if body is None else node_view(body)

    def patch(self, name: str, patch: dict[str, Any]) -> NodeView:
        self.writes += 1
        body = self._call(
            f"patch node {name}",
            lambda: self.api.patch_node(
                name, patch, _preload_content=False, _content_type="application/merge-patch+json"
            ),
            name,
        )
        if body is None:
            raise BindingError(f"node {name} disappeared while being patched")
        return node_view(body)

    def _call(self, what: str, fn: Any, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        delays = self.retry.delays()
        while True:
            try:
                response = fn()
                return dict(json.loads(response.data))
            except ApiException as exc:
                status = int(exc.status or 0)
                if status == 404:
                    return None
                if status == 409:
                    raise ConflictError(f"{what}: the node changed since it was read (409 Conflict)") from None
                if status not in _TRANSIENT:
                    raise BindingError(f"{what} failed with HTTP {status}: {_reason(exc)}") from None
                failure = f"HTTP {status}"
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                failure = type(exc).__name__
            delay = next(delays, None)
            if delay is None:
                raise BindingError(f"{what} failed after {self.retry.attempts} attempts ({failure})")
            self.retry.sleep(delay)


def _reason(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message", ""))[:300]
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


def node_view(body: dict[str, Any]) -> NodeView:
    meta = body.get("metadata") or {}
    return NodeView(
        name=str(meta.get("name", "")),
        exists=True,
        system_uuid=str(((body.get("status") or {}).get("nodeInfo") or {}).get("systemUUID") or ""),
        provider_id=str((body.get("spec") or {}).get("providerID") or ""),
        labels=dict(meta.get("labels") or {}),
        resource_version=meta.get("resourceVersion"),
    )


_CLIENTS: dict[str, KubeNodes] = {}
_LOCK = threading.Lock()


def nodes_for(kubeconfig: str) -> KubeNodes:
    """The process-wide client for this kubeconfig (keyed by its digest, never by its text)."""
    key = hashlib.sha256(kubeconfig.encode()).hexdigest()
    with _LOCK:
        found = _CLIENTS.get(key)
        if found is None:
            found = _CLIENTS[key] = KubeNodes(kubeconfig)
        return found


def forget_clients() -> None:
    with _LOCK:
        _CLIENTS.clear()
