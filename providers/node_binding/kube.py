"""Thin adapter over the kubernetes client: list the nodes, read a node, merge-patch it.

One API client per kubeconfig per process (the kubeconfig is a secret input,
so the provider object never holds it). Answers are read as raw JSON: the
binding needs a handful of fields, not the client's models.

Bindings in one provider process (one ``pulumi up``) take their first look at
their node from one shared LIST, as the vCenter side shares one snapshot: N
bindings cost one paged LIST instead of N GETs. Anything that needs the node as
it is now (a retry after a 409, waiting for the node or the CPI, a delete)
reads it with a GET; what this process wrote replaces what the list said.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import urllib3

from providers.kube_raw import MERGE_PATCH, ClientCache, RawApi, load_api_client
from providers.retry import RetryPolicy

from .plan import BindingError, NodeView

# 409 is handled by the caller (re-read, re-plan); these are worth the same request again.
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
# How long one LIST serves first looks (the vCenter snapshot's age, see vcenter.SNAPSHOT_MAX_AGE).
LIST_MAX_AGE = 30.0
LIST_PAGE = 500  # nodes per LIST page (limit/continue), so a big cluster is not one huge answer


class ConflictError(BindingError):
    """The node changed since it was read (HTTP 409 on a resourceVersion precondition)."""


class NodeApi(RawApi):
    """The three node requests the binding makes (list, read, merge-patch); see providers.kube_raw
    for why they are sent raw and not through ``CoreV1Api``."""

    def list_node(self, *, limit: int, _continue: str | None) -> Any:
        query: list[tuple[str, Any]] = [("limit", limit)] + ([("continue", _continue)] if _continue else [])
        return self.send("GET", "/api/v1/nodes", query=query)

    def read_node(self, name: str) -> Any:
        return self.send("GET", "/api/v1/nodes/{name}", path_params={"name": name})

    def patch_node(self, name: str, patch: dict[str, Any]) -> Any:
        return self.send(
            "PATCH", "/api/v1/nodes/{name}", path_params={"name": name}, body=patch, content_type=MERGE_PATCH
        )


class KubeNodes:
    def __init__(self, kubeconfig: str, retry: RetryPolicy | None = None) -> None:
        api_client = load_api_client(
            kubeconfig, lambda why: BindingError(f"the kubeconfig for the node binding cannot be loaded ({why})")
        )
        self.api = NodeApi(api_client)
        self.retry = retry or RetryPolicy()
        self.reads = 0  # requests that read: GETs and LIST pages
        self.writes = 0
        self._listed: dict[str, NodeView] | None = None
        self._listed_at = 0.0
        self._list_lock = threading.Lock()

    def get(self, name: str) -> NodeView:
        """The node as the API server has it now."""
        self.reads += 1
        body = self._call(f"read node {name}", lambda: self.api.read_node(name), name)
        view = NodeView(name, False) if body is None else node_view(body)
        self._remember(view)
        return view

    def listed(self, name: str, *, max_age: float = LIST_MAX_AGE) -> NodeView:
        """The node from this process's shared LIST of all nodes (read again when older than ``max_age``).

        A node the list does not have (registered since, or gone) is read with a GET.
        """
        with self._list_lock:  # concurrent bindings wait for one LIST instead of each doing their own
            if self._listed is None or time.monotonic() - self._listed_at > max_age:
                self._listed = self._list_all()
                self._listed_at = time.monotonic()
            found = self._listed.get(name)
        return found if found is not None else self.get(name)

    def _list_all(self) -> dict[str, NodeView]:
        nodes: dict[str, NodeView] = {}
        token: str | None = None
        while True:
            self.reads += 1
            page = self._call(
                "list nodes",
                lambda after=token: self.api.list_node(limit=LIST_PAGE, _continue=after),
                "",
            )
            if page is None:  # 404: nothing of the kind stored yet (kmock answers so); each node is then read
                return nodes
            for item in page.get("items") or []:
                view = node_view(item)
                nodes[view.name] = view
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return nodes

    def _remember(self, view: NodeView) -> None:
        """What a GET or our own PATCH saw is newer than the list: later first looks get it."""
        with self._list_lock:
            if self._listed is not None:
                if view.exists:
                    self._listed[view.name] = view
                else:
                    self._listed.pop(view.name, None)

    def patch(self, name: str, patch: dict[str, Any]) -> NodeView:
        self.writes += 1
        body = self._call(
            f"patch node {name}",
            lambda: self.api.patch_node(name, patch),
            name,
        )
        if body is None:
            raise BindingError(f"node {name} disappeared while being patched")
        view = node_view(body)
        self._remember(view)
        return view

    def _call(self, what: str, fn: Any, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        retries = self.retry.start(
            lambda failure: BindingError(f"{what} failed after {self.retry.attempts} attempts ({failure})")
        )
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
            retries.pause(failure)


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


_CLIENTS = ClientCache()


def nodes_for(kubeconfig: str) -> KubeNodes:
    """The process-wide client for this kubeconfig."""
    found: KubeNodes = _CLIENTS.get(kubeconfig, KubeNodes)
    return found


def _forget_clients() -> None:
    """Drop every cached client (through :func:`providers.caches.reset_caches`)."""
    _CLIENTS.clear()
