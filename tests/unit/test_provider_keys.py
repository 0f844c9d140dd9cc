"""Every dynamic provider declares its key sets one way, and answers the engine's diff one way."""

from __future__ import annotations

from dataclasses import MISSING, fields

import pytest

from offline.program import OfflineRun
from providers.keys import Keys
from providers.node_binding.plan import KEYS as NODE_BINDING
from providers.node_binding.plan import Inputs
from providers.node_binding.resource import NodeBinding, NodeBindingArgs
from providers.node_retirement.plan import KEYS as NODE_RETIREMENT
from providers.permission.plan import KEYS as PERMISSION
from providers.readiness.plan import KEYS as READINESS
from providers.readiness.provider import ApiServerReadyProvider
from providers.tag_attachment.plan import KEYS as TAG_ATTACHMENT


@pytest.mark.parametrize("keys", [NODE_BINDING, NODE_RETIREMENT, PERMISSION, READINESS, TAG_ATTACHMENT])
def test_an_output_is_never_a_secret_input_or_a_replacing_one(keys: Keys) -> None:
    assert not set(keys.outputs) & set(keys.replace)
    assert not set(keys.outputs) & set(keys.secret)


def test_credentials_stay_secret_in_state_wherever_a_provider_holds_them() -> None:
    for keys in (NODE_BINDING, PERMISSION, TAG_ATTACHMENT):
        assert {"username", "password"} <= set(keys.secret)
    assert "kubeconfig" in NODE_BINDING.secret


def test_diff_lists_the_replacing_changes_in_change_order_and_answers_the_engine() -> None:
    keys = Keys(outputs=("seen",), replace=("server", "port"))
    diff = keys.diff(["port", "mode", "server"])
    assert (diff.changes, diff.replaces) == (("port", "mode", "server"), ("port", "server"))
    result = diff.result()
    assert (result.changes, result.replaces, result.delete_before_replace) == (True, ["port", "server"], True)
    assert keys.diff([]).result().changes is False
    assert keys.inputs_of({"server": "vc", "seen": 1}) == {"server": "vc"}


def test_readiness_replaces_beside_the_old_wait_and_updates_a_new_timeout_in_place() -> None:
    olds = {"server": "https://a:6443", "caCertPem": None, "insecure": False, "timeoutSeconds": 60.0}
    provider = ApiServerReadyProvider()
    moved = provider.diff("id", olds, {**olds, "server": "https://b:6443"})
    assert (moved.changes, moved.replaces, moved.delete_before_replace) == (True, ["server"], False)
    longer = provider.diff("id", olds, {**olds, "timeoutSeconds": 120.0, "attempts": 3})
    assert (longer.changes, longer.replaces) == (True, [])


def test_node_binding_args_are_the_plan_inputs_field_for_field() -> None:
    declared = {f.name: f for f in fields(NodeBindingArgs)}
    assert set(declared) == set(Inputs.model_fields)
    for name, spec in Inputs.model_fields.items():
        arg = declared[name]
        given = arg.default_factory() if arg.default_factory is not MISSING else arg.default
        assert (given is MISSING) == spec.is_required(), name
        if not spec.is_required():
            assert given == spec.get_default(call_default_factory=True), name
    # The resource's typed outputs are the plan's outputs, which State declares.
    assert tuple(k for k in NodeBinding.__annotations__ if k not in declared) == NODE_BINDING.outputs


def test_a_node_binding_registers_exactly_its_args_with_the_secrets_marked(sim: OfflineRun) -> None:
    binding = sim.recording.of_type("pulumi-python:dynamic/vsphere:NodeBinding")[0]
    sent = set(binding.inputs) - {"__provider"}  # the SDK leaves out what is None (the outputs, unset TLS)
    required = {k for k, spec in Inputs.model_fields.items() if spec.is_required()}
    assert required <= sent <= {f.name for f in fields(NodeBindingArgs)}
    assert set(NODE_BINDING.secret) <= set(binding.secret_inputs)
