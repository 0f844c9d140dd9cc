"""Bootstrap mode's etcd client (under mocks): a client certificate from the etcd CA, wired with
kubeadm's client URLs into every control-plane node's NodeRetirement, the key a secret throughout;
and the retirement's etcd side: a learner is not admitted, a removal goes through another member."""

from __future__ import annotations

import copy
import json
import re
import urllib.error
from email.message import Message
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from offline.program import OfflineRun, offline_config, run_program
from providers.node_retirement.etcd import Etcd
from providers.node_retirement.plan import Inputs, Member, RetirementError, client_urls, node_client_urls
from providers.node_retirement.provider import admit

RETIREMENT = "pulumi-python:dynamic/kubernetes:NodeRetirement"


def _out(run: OfflineRun, name: str) -> dict[str, Any]:
    return run.recording.by_name(name).outputs


def _retirements(run: OfflineRun) -> dict[str, dict[str, Any]]:
    regs = [r for r in run.recording.registrations.values() if "-retire-" in r.name]
    assert regs and all(r.type == RETIREMENT for r in regs)
    return {r.inputs["node_name"]: {"inputs": r.inputs, "secret": r.secret_inputs} for r in regs}


def test_the_pki_issues_an_etcd_client_certificate_from_the_etcd_ca(sim: OfflineRun) -> None:
    ca = x509.load_pem_x509_certificate(_out(sim, "sim-bootstrap-pki-etcd-ca")["certPem"].encode())
    cert = x509.load_pem_x509_certificate(_out(sim, "sim-bootstrap-pki-etcd-client-cert")["certPem"].encode())
    cert.verify_directly_issued_by(ca)  # the etcd CA, not the cluster CA: etcd trusts only its own
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "vsphere-k8s-etcd-client"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    key_reg = sim.recording.by_name("sim-bootstrap-pki-etcd-client-key")
    assert "privateKeyPem" in key_reg.additional_secret_outputs
    key = serialization.load_pem_private_key(key_reg.outputs["privateKeyPem"].encode(), None)
    assert cert.public_key() == key.public_key()
    signed = sim.recording.by_name("sim-bootstrap-pki-etcd-client-cert").inputs
    assert signed["validityPeriodHours"] == 8760 and signed["earlyRenewalHours"] == 720


def test_control_plane_retirements_reach_etcd_with_it_in_bootstrap_mode(sim: OfflineRun) -> None:
    rets = _retirements(sim)
    cp_ips = [n["ip"] for n in sim.exports["nodes"].values() if n["role"] == "control-plane"]
    assert len(cp_ips) == 3 and all(cp_ips)
    ca = _out(sim, "sim-bootstrap-pki-etcd-ca")["certPem"]
    cert = _out(sim, "sim-bootstrap-pki-etcd-client-cert")["certPem"]
    key = _out(sim, "sim-bootstrap-pki-etcd-client-key")["privateKeyPem"]
    for node, ret in rets.items():
        inputs = ret["inputs"]
        if inputs["role"] == "control-plane":
            assert sorted(inputs["etcd_endpoints"]) == sorted(f"https://{ip}:2379" for ip in cp_ips), node
            assert (inputs["etcd_ca_cert"], inputs["etcd_client_cert"]) == (ca, cert), node
            assert inputs["etcd_client_key"] == key and "etcd_client_key" in ret["secret"], node
        else:
            assert not inputs.get("etcd_endpoints") and not inputs.get("etcd_client_key"), node
    # The key is in no registration's plaintext inputs, nor in the stack's outputs.
    for reg in sim.recording.registrations.values():
        plain = {k: v for k, v in reg.inputs.items() if k not in reg.secret_inputs}
        assert key not in json.dumps(plain, default=str), reg.name
    assert key not in json.dumps(sim.exports, default=str)


def test_a_dhcp_control_plane_node_is_reached_at_its_nodes_address_read_at_run_time() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    for zone in raw["topology"]["zones"]:
        zone["network"] = {"name": zone["network"]["name"], "mode": "dhcp", "cidr": "10.10.0.0/24"}
    rets = _retirements(run_program(raw, stack="sim"))
    for ret in rets.values():
        inputs = ret["inputs"]
        if inputs["role"] == "control-plane":
            # No address in the inputs (a lease may change it): the port, on the Node's InternalIP.
            assert inputs["etcd_endpoints"] == [] and inputs["etcd_node_client_port"] == 2379
            assert "etcd_client_key" in ret["secret"]
        else:
            assert not inputs.get("etcd_node_client_port")


def test_the_node_address_is_asked_for_until_the_node_reports_one(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[dict[str, Any] | None] = [None, {"status": {"addresses": [{"type": "Hostname", "address": "n"}]}}]
    reported.append({"status": {"addresses": [{"type": "InternalIP", "address": "10.1.2.3"}]}})
    asked: list[int] = []

    def discover() -> list[str]:
        asked.append(1)
        return node_client_urls(reported[len(asked) - 1], 2379)

    etcd = Etcd(_inputs(etcd_endpoints=[], etcd_node_client_port=2379), discover)
    urls: list[str] = []

    def post(url: str, path: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        urls.append(url)
        return {"members": [{"ID": "1", "name": "new", "clientURLs": [url]}]}

    monkeypatch.setattr(etcd, "_post", post)
    for _ in range(2):
        with pytest.raises(RetirementError, match="no etcd endpoint answered"):
            etcd.members()
    assert [m.name for m in etcd.members()] == ["new"] and urls == ["https://10.1.2.3:2379"]
    etcd.members()
    assert len(asked) == 3  # found once: not asked again


def test_client_urls_are_kubeadms_port_on_each_address_once() -> None:
    assert client_urls(["10.0.0.1", None, "10.0.0.1", "fd00::5", ""]) == [
        "https://10.0.0.1:2379",
        "https://[fd00::5]:2379",
    ]


class _Etcd:
    """An etcd whose new member is a learner for the first ``learner_polls`` member lists."""

    def __init__(self, learner_polls: int, fail_first: int = 0) -> None:
        self.learner_polls, self.fail_first, self.lists = learner_polls, fail_first, 0

    def members(self) -> list[Member]:
        self.lists += 1
        if self.lists <= self.fail_first:
            raise RetirementError("no etcd endpoint answered /v3/cluster/member/list: connection refused")
        learner = self.lists <= self.fail_first + self.learner_polls
        return [Member("1", "old", ("https://o:2379",)), Member("2", "new", ("https://n:2379",), is_learner=learner)]

    def status(self, member: Member) -> dict[str, Any] | None:
        return {"leader": "1", "raftIndex": "100"}

    def remove(self, member: Member) -> None:
        raise AssertionError("admission removes nothing")


class _Kube:
    def node(self, name: str) -> dict[str, Any] | None:
        return {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def _inputs(**extra: Any) -> Inputs:
    fields: dict[str, Any] = {"etcd_endpoints": ["http://127.0.0.1:2379"], "ready_timeout_seconds": 60, **extra}
    return Inputs(node_name="new", role="control-plane", kubeconfig=SecretStr("k"), **fields)


def test_admission_waits_for_the_learner_to_be_promoted_and_for_etcd_to_answer() -> None:
    etcd = _Etcd(learner_polls=2, fail_first=1)
    slept: list[float] = []
    reason = admit(_inputs(), _Kube(), etcd, sleep=slept.append)  # type: ignore[arg-type]
    assert etcd.lists == 4 and len(slept) == 3  # refused, learner, learner, voter
    assert reason.startswith("Ready; etcd member 2 caught up")


def test_a_learner_that_never_promotes_fails_the_admission_naming_it() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    with pytest.raises(
        RetirementError, match=re.escape("node new not ready within 60s (its etcd member is still a learner")
    ):
        admit(_inputs(), _Kube(), _Etcd(learner_polls=10**6), clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]


def test_a_member_is_removed_through_another_member_first(monkeypatch: pytest.MonkeyPatch) -> None:
    etcd = Etcd(_inputs(etcd_endpoints=["http://a:2379", "http://b:2379"]))
    asked: list[tuple[str, str]] = []
    listing = {
        "members": [
            {"ID": "1", "name": "a", "clientURLs": ["http://a:2379"]},
            {"ID": "2", "name": "b", "clientURLs": ["http://b:2379"]},
            {"ID": "3", "name": "c", "clientURLs": ["http://c:2379"], "isLearner": True},
        ]
    }

    def post(url: str, path: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        asked.append((url, path))
        return listing if path.endswith("list") else {}

    monkeypatch.setattr(etcd, "_post", post)
    members = etcd.members()
    etcd.remove(members[0])  # a's member: asked of b (a voter), not of a itself, nor the learner c
    assert asked == [("http://a:2379", "/v3/cluster/member/list"), ("http://b:2379", "/v3/cluster/member/remove")]


def test_a_retirement_reaches_etcd_through_its_own_member_when_the_configured_endpoints_are_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Admitted with endpoints of members a later roll removed: its own member's URL, kept at admission, answers.
    etcd = Etcd(_inputs(etcd_endpoints=["http://gone:2379"], etcd_member_urls=["http://own:2379"]))
    asked: list[str] = []

    def post(url: str, path: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        asked.append(url)
        if url == "http://gone:2379":
            raise OSError("connection refused")
        return {"members": [{"ID": "7", "name": "new", "clientURLs": ["http://own:2379"]}]}

    monkeypatch.setattr(etcd, "_post", post)
    assert [m.name for m in etcd.members()] == ["new"] and asked == ["http://gone:2379", "http://own:2379"]
    assert etcd.urls_of("new") == ["http://own:2379"] and etcd.urls_of("other") == []


@pytest.mark.parametrize("happened", [True, False])
def test_a_removal_whose_answer_is_lost_is_checked_against_the_member_list(
    monkeypatch: pytest.MonkeyPatch, happened: bool
) -> None:
    # Removing the leader: the answer waits for the next election and may not come in time.
    etcd = Etcd(_inputs(etcd_endpoints=["http://a:2379"]))
    members = [{"ID": "1", "name": "a", "clientURLs": ["http://a:2379"]}, {"ID": "2", "name": "b", "clientURLs": []}]
    bodies: list[tuple[str, dict[str, Any], float]] = []

    def post(url: str, path: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        bodies.append((path, body, timeout))
        if path.endswith("remove"):
            if happened:
                members.pop()
            raise TimeoutError("The read operation timed out")
        return {"members": members}

    monkeypatch.setattr(etcd, "_post", post)
    b = etcd.members()[1]
    if happened:
        etcd.remove(b)
    else:
        with pytest.raises(RetirementError, match="no etcd endpoint answered /v3/cluster/member/remove"):
            etcd.remove(b)
    assert bodies[0] == ("/v3/cluster/member/list", {"linearizable": True}, 5.0)
    assert bodies[1] == ("/v3/cluster/member/remove", {"ID": "2"}, 20.0)
    assert [p for p, _, _ in bodies[2:]] == ["/v3/cluster/member/list"]


def test_etcd_member_removal_off_gives_no_retirement_etcd_access() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    raw["kubernetes"]["etcdMemberRemoval"] = False
    for ret in _retirements(run_program(raw, stack="sim")).values():
        inputs = ret["inputs"]
        assert not inputs.get("etcd_endpoints") and not inputs.get("etcd_node_client_port"), inputs["node_name"]
        assert not inputs.get("etcd_client_key")


def test_an_unavailable_etcd_is_asked_again_a_refused_endpoint_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    # 503 (etcd electing a leader after the last one was removed) passes; a refused connection is a member down.
    etcd = Etcd(_inputs(etcd_endpoints=["http://a:2379", "http://gone:2379"]))
    slept: list[float] = []
    etcd.sleep = slept.append
    answers = iter([503, 503, 200])

    def post(url: str, path: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        if url == "http://gone:2379":
            raise OSError("connection refused")
        if next(answers) == 503:
            raise urllib.error.HTTPError(url, 503, "Service Unavailable", Message(), None)
        return {"members": [{"ID": "1", "name": "a", "clientURLs": [url]}]}

    monkeypatch.setattr(etcd, "_post", post)
    assert [m.name for m in etcd.members()] == ["a"] and slept == [1.0, 2.0]
    refused = Etcd(_inputs(etcd_endpoints=["http://gone:2379"]))
    refused.sleep = slept.append
    monkeypatch.setattr(refused, "_post", post)
    with pytest.raises(RetirementError, match="connection refused"):
        refused.members()
    assert slept == [1.0, 2.0]


def test_existing_mode_reaches_stacked_members_at_the_nodes_address_when_asked() -> None:
    raw = copy.deepcopy(offline_config("sim"))
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://10.10.0.10:6443', "
        "insecure-skip-tls-verify: true}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\nusers: [{name: u, user: {token: not-a-real-token}}]\n"
    )
    etcd = {"endpoints": ["http://10.10.0.11:2379"]}
    raw["kubernetes"] = {"version": raw["kubernetes"]["version"], "mode": "existing", "kubeconfig": kubeconfig}
    for port, want in ((None, None), (2379, 2379)):
        raw["kubernetes"]["etcd"] = {**etcd, **({"nodeClientPort": port} if port else {})}
        for ret in _retirements(run_program(raw, stack="sim")).values():
            inputs = ret["inputs"]
            if inputs["role"] == "control-plane":
                assert inputs["etcd_endpoints"] == etcd["endpoints"]
                assert inputs.get("etcd_node_client_port") == want
    raw["kubernetes"]["etcd"] = {**etcd, "nodeClientPort": 0}
    with pytest.raises(Exception, match=r"kubernetes\.etcd\.nodeClientPort"):
        run_program(raw, stack="sim")
