"""`check` and `diff` with the unknowns a first preview sends (as the dynamic-provider host hands them over)."""

from __future__ import annotations

from typing import Any

from pulumi.output import Unknown

from providers.checks import unknown_paths
from providers.node_binding.provider import NodeBindingProvider
from providers.readiness.provider import ApiServerReadyProvider
from providers.tag_attachment.provider import TagAttachmentProvider
from tests.unit import test_node_binding_plan as nb
from tests.unit import test_tag_attachment_plan as ta


def test_unknown_paths_finds_nested_unknowns() -> None:
    assert unknown_paths({"a": 1, "b": [2, Unknown()], "c": {"d": Unknown()}, "e": Unknown()}) == [
        ("b", 1),
        ("c", "d"),
        ("e",),
    ]


def test_node_binding_check_lets_unknown_vm_and_kubeconfig_through_and_still_rejects_a_bad_port() -> None:
    provider = NodeBindingProvider()
    first_preview: dict[str, Any] = nb.props(vm_uuid=Unknown(), vm_moid=Unknown(), kubeconfig=Unknown())
    assert provider.check({}, first_preview).failures == []
    failures = provider.check({}, {**first_preview, "port": 0}).failures
    assert [f.property for f in failures] == ["port"]


def test_node_binding_diff_says_an_unknown_uuid_may_replace() -> None:
    provider = NodeBindingProvider()
    olds = nb.props(vm_uuid="4216e5c9-8c5a-4e38-a9b4-0a4b1c2d3e4f")
    result = provider.diff("id", olds, {**olds, "vm_uuid": Unknown()})
    assert result.changes is True


def test_tag_attachment_check_and_diff_with_unknown_ids() -> None:
    provider = TagAttachmentProvider()
    news: dict[str, Any] = ta.props(tag_id=Unknown(), category_id=Unknown(), targets=Unknown())
    assert provider.check({}, news).failures == []
    assert provider.check({}, {**news, "port": "not-a-port"}).failures != []
    result = provider.diff("id", ta.props(), news)
    assert result.changes is True
    assert result.replaces == []  # another tag is detach + attach, in place
    moved = provider.diff("id", ta.props(), {**ta.props(), "server": Unknown()})
    assert moved.replaces == ["server"]  # another vCenter may be named: that replaces


def test_readiness_check_with_an_unknown_server() -> None:
    provider = ApiServerReadyProvider()
    assert provider.check({}, {"server": Unknown(), "caCertPem": Unknown(), "timeoutSeconds": 600}).failures == []
