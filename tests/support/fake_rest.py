"""The kubernetes client's REST layer, faked: the providers' raw requests (providers.kube_raw) are
checked as the API server would receive them (method, URL, headers, body), with a chosen answer."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

HOST = "https://api.example:6443"


class FakeRest:
    """The ApiClient's REST layer: records each request, answers with a stored status and body."""

    def __init__(self, status: int = 200, body: dict[str, Any] | None = None) -> None:
        self.status, self.body = status, body or {}
        self.requests: list[dict[str, Any]] = []

    def request(self, method: str, url: str, headers: Any = None, body: Any = None, **_: Any) -> Any:
        from kubernetes.client.rest import RESTResponse

        self.requests.append({"method": method, "url": url, "headers": dict(headers or {}), "body": body})
        raw = SimpleNamespace(
            status=self.status, reason="R", data=json.dumps(self.body).encode(), headers={}, getheaders=dict
        )
        return RESTResponse(raw)


def faked_client(fake: FakeRest) -> Any:
    """An ``ApiClient`` with a bearer token whose requests go to ``fake``."""
    from kubernetes.client import ApiClient, Configuration

    config = Configuration(host=HOST, api_key={"BearerToken": "t"})
    config.api_key_prefix["BearerToken"] = "Bearer"
    client = ApiClient(config)
    client.rest_client = fake  # type: ignore[assignment]  # the REST layer, faked
    return client
