"""NodeJoin's Kubernetes requests, sent raw (providers.kube_raw): the paths, methods and bodies the
API server sees, what a 404 or 409 means, and that a bad kubeconfig's error carries no secret."""

from __future__ import annotations

import pytest

from providers.kube_raw import RawApi
from providers.node_join import kube
from providers.node_join.plan import TOKEN_NAMESPACE, JoinError, token_secret_name
from tests.support.fake_rest import HOST, FakeRest, faked_client


@pytest.fixture
def rest() -> tuple[RawApi, FakeRest]:
    fake = FakeRest(body={"spec": {"providerID": "vsphere://4201"}})
    client = faked_client(fake)
    return RawApi(client), fake


def test_node_state_reads_the_node_and_its_provider_id(rest: tuple[RawApi, FakeRest]) -> None:
    api, fake = rest
    state = kube.node_state(api, "w-0")
    assert state.registered and state.provider_id == "vsphere://4201"
    (req,) = fake.requests
    assert (req["method"], req["url"]) == ("GET", f"{HOST}/api/v1/nodes/w-0")
    assert req["headers"]["authorization"] == "Bearer t"
    fake.status = 404
    assert not kube.node_state(api, "w-0").registered


def test_token_secret_requests_go_to_kube_system_secrets(rest: tuple[RawApi, FakeRest]) -> None:
    api, fake = rest
    secret = f"{HOST}/api/v1/namespaces/{TOKEN_NAMESPACE}/secrets"
    body = {"metadata": {"name": token_secret_name("abcdef")}, "type": "bootstrap.kubernetes.io/token"}
    assert kube.token_exists(api, "abcdef")
    kube.create_token(api, body)
    kube.delete_token(api, "abcdef")
    read, create, delete = fake.requests
    assert (read["method"], read["url"]) == ("GET", f"{secret}/bootstrap-token-abcdef")
    assert (create["method"], create["url"], create["body"]) == ("POST", secret, body)
    assert create["headers"]["Content-Type"] == "application/json"
    assert (delete["method"], delete["url"]) == ("DELETE", f"{secret}/bootstrap-token-abcdef")


def test_gone_and_already_there_are_not_failures(rest: tuple[RawApi, FakeRest]) -> None:
    api, fake = rest
    fake.status = 404
    assert not kube.token_exists(api, "abcdef")
    kube.delete_token(api, "abcdef")  # expired and cleaned up meanwhile: nothing to do
    fake.status = 409
    kube.create_token(api, {"metadata": {"name": "bootstrap-token-abcdef"}})  # a retried create
    fake.status = 403
    with pytest.raises(JoinError, match="creating bootstrap-token-abcdef failed: HTTP 403"):
        kube.create_token(api, {"metadata": {"name": "bootstrap-token-abcdef"}})


def test_a_kubeconfig_that_does_not_load_names_no_secret() -> None:
    kube._forget_clients()
    with pytest.raises(JoinError) as failed:
        kube.core_for("token: s3cr3t-value\nclusters: [")
    assert "NodeJoin" in str(failed.value) and "s3cr3t" not in str(failed.value)
