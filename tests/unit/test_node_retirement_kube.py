"""NodeRetirement's Kubernetes requests, sent raw (providers.kube_raw): the paths, methods and bodies
the API server sees for a read, a cordon, a pod listing, an eviction and a Node delete."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes.client.exceptions import ApiException

from providers.kube_raw import RawApi
from providers.node_retirement.kube import Kube
from providers.node_retirement.plan import PodView, RetirementError
from tests.support.fake_rest import HOST, FakeRest, faked_client


@pytest.fixture
def rest() -> tuple[Kube, FakeRest]:
    fake = FakeRest(body={"items": [], "metadata": {"name": "w-0"}})
    client = faked_client(fake)
    kube = Kube.__new__(Kube)  # the kubeconfig loading is tested below
    kube.api, kube.calls = RawApi(client), 0
    return kube, fake


def test_read_cordon_list_delete(rest: tuple[Kube, FakeRest]) -> None:
    kube, fake = rest
    assert kube.node("w-0") == {"items": [], "metadata": {"name": "w-0"}}
    kube.cordon("w-0")
    assert kube.pods_on("w-0") == []
    kube.delete_node("w-0")
    read, cordon, pods, delete = fake.requests
    assert (read["method"], read["url"]) == ("GET", f"{HOST}/api/v1/nodes/w-0")
    assert (cordon["method"], cordon["url"], cordon["body"]) == (
        "PATCH",
        read["url"],
        {"spec": {"unschedulable": True}},
    )
    assert cordon["headers"]["Content-Type"] == "application/merge-patch+json"
    assert pods["method"] == "GET" and urlsplit(pods["url"]).path == "/api/v1/pods"
    assert parse_qs(urlsplit(pods["url"]).query) == {"fieldSelector": ["spec.nodeName=w-0"]}
    assert (delete["method"], delete["url"]) == ("DELETE", read["url"])
    assert kube.calls == 4


def test_an_eviction_posts_policy_v1_and_returns_what_the_pdb_said(rest: tuple[Kube, FakeRest]) -> None:
    kube, fake = rest
    pod = PodView(name="app-1", namespace="team")
    assert kube.evict(pod) == (201, "")
    fake.status, fake.body = 429, {"message": "Cannot evict pod as it would violate the pod's disruption budget."}
    status, body = kube.evict(pod)
    assert status == 429 and "disruption budget" in body
    (first, _second) = fake.requests
    assert (first["method"], first["url"]) == ("POST", f"{HOST}/api/v1/namespaces/team/pods/app-1/eviction")
    assert first["body"] == {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "app-1", "namespace": "team"},
    }


def test_gone_is_not_an_error_but_refused_is(rest: tuple[Kube, FakeRest]) -> None:
    kube, fake = rest
    fake.status = 404
    assert kube.node("w-0") is None
    kube.delete_node("w-0")  # deleted meanwhile: done
    fake.status = 403
    with pytest.raises(ApiException):
        kube.delete_node("w-0")


def test_a_kubeconfig_that_does_not_load_names_no_secret() -> None:
    with pytest.raises(RetirementError) as failed:
        Kube("token: s3cr3t-value\nclusters: [")
    assert "kubeconfig" in str(failed.value) and "s3cr3t" not in str(failed.value)
