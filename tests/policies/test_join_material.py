"""guestinfo-join-material-short-lived: user-data with long-lived secrets is flagged, in the pack and offline."""

from __future__ import annotations

from typing import Any

import yaml

from offline.policy_views import views
from offline.program import OfflineRun
from policies import rules
from policies.rules.join_material import NODE_JOIN, join_material_short_lived, secrets_in
from policies.view import UNKNOWN
from tests.policies.builders import view, vm

TOKEN = "abcdef.0123456789abcdef"
KEY = "-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----\n"


def cloud_config(ttl: str | None = "1h0m0s", *, with_key: bool = False) -> str:
    token: dict[str, Any] = {"token": TOKEN, "groups": ["system:bootstrappers:kubeadm:default-node-token"]}
    if ttl is not None:
        token["ttl"] = ttl
    docs = yaml.safe_dump_all([{"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
                                "bootstrapTokens": [token]}])  # fmt: skip
    files = [{"path": "/etc/kubernetes/kubeadm/kubeadm.yaml", "content": docs}]
    if with_key:
        files.append({"path": "/var/lib/vsphere-k8s/pki/ca.key", "content": KEY})
    return "#cloud-config\n" + yaml.safe_dump({"write_files": files})


def join(node: str, keys: Any = ("guestinfo.userdata", "guestinfo.userdata.encoding")) -> Any:
    props = {"node_name": node, "scrub_keys": keys if keys is UNKNOWN else list(keys)}
    return view(NODE_JOIN, f"join-{node}", props=props)


def messages(resources: list[Any], **config: Any) -> list[str]:
    return [v.message for v in join_material_short_lived(resources, config)]


def test_secrets_are_named_by_kind_never_by_value() -> None:
    assert secrets_in(cloud_config(with_key=True)) == ["a private key", "a bootstrap token"]
    assert secrets_in("#cloud-config\nhostname: n1\n") == []
    assert all(TOKEN not in m for m in messages([vm("n1", user_data=cloud_config())]))


def test_user_data_with_secrets_and_no_join_that_removes_it_is_flagged() -> None:
    found = messages([vm("n1", user_data=cloud_config(with_key=True))])
    assert len(found) == 1
    assert "VM n1" in found[0] and "a private key, a bootstrap token" in found[0] and "no NodeJoin" in found[0]


def test_a_token_that_never_expires_is_flagged_even_when_removed_after_the_join() -> None:
    found = messages([vm("n1", user_data=cloud_config("0s")), join("n1")])
    assert found == ["VM n1: its user-data has a bootstrap token with ttl 0s (it never expires)"]
    assert messages([vm("n1", user_data=cloud_config("48h0m0s")), join("n1")]) == [
        "VM n1: its user-data has a bootstrap token that lives over 24h"
    ]
    assert messages([vm("n1", user_data=cloud_config("48h0m0s")), join("n1")], maxTokenTtlHours=72) == []


def test_bounded_tokens_removed_after_the_join_pass() -> None:
    assert messages([vm("n1", user_data=cloud_config(with_key=True)), join("n1")]) == []
    assert messages([vm("n1", user_data=cloud_config(None)), join("n1", UNKNOWN)]) == []  # kubeadm's 24h default


def test_a_join_that_keeps_the_user_data_or_names_another_vm_does_not_count() -> None:
    assert len(messages([vm("n1", user_data=cloud_config()), join("n1", ["guestinfo.metadata"])])) == 1
    assert len(messages([vm("n1", user_data=cloud_config()), join("n2")])) == 1


def test_hostname_only_and_unknown_user_data_pass() -> None:
    assert messages([vm("n1", user_data="#cloud-config\nhostname: n1\n")]) == []
    unknown = vm("n1")
    assert messages([unknown]) == []


def test_the_program_passes_and_is_registered_as_mandatory(sim: OfflineRun) -> None:
    policy = rules.policy("guestinfo-join-material-short-lived")
    assert policy.level == rules.Level.MANDATORY
    resources = views(sim.recording)
    vms = [r for r in resources if r.type == "vsphere:index/virtualMachine:VirtualMachine"]
    assert len(vms) == 6
    assert join_material_short_lived(resources, policy.defaults()) == []
    # Without its NodeJoins, the same program's user-data (keys, tokens) is flagged for every VM.
    bare = [r for r in resources if r.type != NODE_JOIN]
    assert len(join_material_short_lived(bare, policy.defaults())) == 6
