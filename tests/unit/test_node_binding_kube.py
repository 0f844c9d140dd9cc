"""The node adapter's LIST: paged with limit/continue, shared, and corrected by what a GET or PATCH saw."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from providers.node_binding.kube import KubeNodes, NodeApi
from tests.support.fake_rest import FakeRest, faked_client

KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
)


def _node(name: str, version: str = "1", provider_id: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "resourceVersion": version, "labels": {}},
        "spec": {"providerID": provider_id} if provider_id else {},
        "status": {"nodeInfo": {"systemUUID": f"uuid-{name}"}},
    }


class FakeApi:
    """list_node pages by limit/continue; read_node answers what is stored (404 otherwise)."""

    def __init__(self, names: list[str]) -> None:
        self.stored = {n: _node(n) for n in names}
        self.calls: list[tuple[str, Any]] = []

    def list_node(self, *, limit: int, _continue: str | None) -> Any:
        self.calls.append(("list", _continue))
        names = sorted(self.stored)
        start = int(_continue or 0)
        page: dict[str, Any] = {"items": [self.stored[n] for n in names[start : start + limit]], "metadata": {}}
        if start + limit < len(names):
            page["metadata"]["continue"] = str(start + limit)
        return SimpleNamespace(data=json.dumps(page).encode())

    def read_node(self, name: str) -> Any:
        self.calls.append(("get", name))
        if name not in self.stored:
            raise ApiException(status=404, reason="Not Found")
        return SimpleNamespace(data=json.dumps(self.stored[name]).encode())


@pytest.fixture
def adapter(monkeypatch: pytest.MonkeyPatch) -> tuple[KubeNodes, FakeApi]:
    monkeypatch.setattr("providers.node_binding.kube.LIST_PAGE", 2)
    kube = KubeNodes(KUBECONFIG)
    api = FakeApi([f"n{i}" for i in range(5)])
    kube.api = api  # type: ignore[assignment]
    return kube, api


def test_the_list_follows_continue_tokens_and_serves_every_node_once(adapter: tuple[KubeNodes, FakeApi]) -> None:
    kube, api = adapter
    views = [kube.listed(f"n{i}") for i in range(5)]
    assert [v.system_uuid for v in views] == [f"uuid-n{i}" for i in range(5)]
    assert api.calls == [("list", None), ("list", "2"), ("list", "4")]  # 5 nodes, pages of 2
    assert kube.reads == 3


def test_a_node_missing_from_the_list_is_read_and_a_gone_one_forgotten(adapter: tuple[KubeNodes, FakeApi]) -> None:
    kube, api = adapter
    kube.listed("n0")
    api.stored["late"] = _node("late")
    assert kube.listed("late").exists and api.calls[-1] == ("get", "late")
    del api.stored["n1"]
    assert not kube.get("n1").exists
    assert not kube.listed("n1").exists and api.calls[-1] == ("get", "n1")  # not served from the old list


def test_what_a_get_saw_replaces_the_listed_node(adapter: tuple[KubeNodes, FakeApi]) -> None:
    kube, api = adapter
    kube.listed("n2")
    api.stored["n2"] = _node("n2", version="7", provider_id="vsphere://x")
    kube.get("n2")
    calls = len(api.calls)
    view = kube.listed("n2")
    assert (view.resource_version, view.provider_id) == ("7", "vsphere://x") and len(api.calls) == calls


def test_an_old_list_is_read_again(adapter: tuple[KubeNodes, FakeApi]) -> None:
    kube, api = adapter
    kube.listed("n0")
    api.stored["n0"] = _node("n0", version="9")
    assert kube.listed("n0", max_age=0.0).resource_version == "9"
    assert [c for c in api.calls if c == ("list", None)] == [("list", None), ("list", None)]


@pytest.fixture
def rest() -> tuple[NodeApi, FakeRest]:
    fake = FakeRest(body={"items": []})
    return NodeApi(faked_client(fake)), fake


def test_node_api_lists_pages_with_limit_and_continue(rest: tuple[NodeApi, FakeRest]) -> None:
    api, fake = rest
    assert json.loads(api.list_node(limit=500, _continue=None).data) == {"items": []}
    api.list_node(limit=500, _continue="eyJ+a/b=")  # a continue token is base64: '+', '/' and '=' survive
    first, second = fake.requests
    assert first["method"] == "GET" and first["url"] == "https://api.example:6443/api/v1/nodes?limit=500"
    assert parse_qs(urlsplit(second["url"]).query) == {"limit": ["500"], "continue": ["eyJ+a/b="]}
    assert first["headers"]["Accept"] == "application/json"
    assert first["headers"]["authorization"] == "Bearer t"


def test_node_api_reads_and_merge_patches_one_node(rest: tuple[NodeApi, FakeRest]) -> None:
    api, fake = rest
    api.read_node("w-0")
    patch = {"metadata": {"labels": {"topology.kubernetes.io/zone": "z1"}}}
    api.patch_node("w-0", patch)
    read, write = fake.requests
    assert (read["method"], read["url"]) == ("GET", "https://api.example:6443/api/v1/nodes/w-0")
    assert (write["method"], write["url"], write["body"]) == ("PATCH", read["url"], patch)
    assert write["headers"]["Content-Type"] == "application/merge-patch+json"


@pytest.mark.parametrize("status", [404, 409, 500])
def test_node_api_raises_the_status_of_a_refused_request(rest: tuple[NodeApi, FakeRest], status: int) -> None:
    api, fake = rest
    fake.status = status
    with pytest.raises(ApiException) as refused:
        api.read_node("w-0")
    assert refused.value.status == status
