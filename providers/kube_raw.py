"""The Kubernetes requests the dynamic providers make, sent raw through the client's ``ApiClient``.

Not ``CoreV1Api`` / ``PolicyV1Api``: in kubernetes 37 those modules build a pydantic validator for
each of their hundreds of methods when first imported (2 s of CPU on an idle core, 5 s while the
dynamic-provider host's four workers start at once), and the providers need a handful of paths.
Answers are raw JSON (``.data``); a non-2xx status raises ``ApiException`` with that status.

A kubeconfig is a secret input: the loader's errors are reduced to their type, never echoed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import yaml

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


class RawApi:
    """One API client: ``send`` a request to a path, with the kubeconfig's authentication."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    def send(
        self,
        method: str,
        path: str,
        *,
        path_params: dict[str, str] | None = None,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": JSON}
        if body is not None:
            headers["Content-Type"] = content_type
        request = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            path_params=path_params,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(*request)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response


def load_api_client(kubeconfig: str, fail: Callable[[str], Exception]) -> Any:
    """The kubernetes ``ApiClient`` for a kubeconfig's text; ``fail`` builds the error (no secret in it)."""
    from kubernetes import config

    try:
        return config.new_client_from_config_dict(yaml.safe_load(kubeconfig))  # type: ignore[no-untyped-call]
    except Exception as exc:  # the loader raises many types; none may echo the secret
        raise fail(type(exc).__name__) from None


class ClientCache:
    """One client per kubeconfig per process, keyed by the kubeconfig's digest, never by its text."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, kubeconfig: str, make: Callable[[str], Any]) -> Any:
        key = hashlib.sha256(kubeconfig.encode()).hexdigest()
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self._clients[key] = make(kubeconfig)
            return found

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()
