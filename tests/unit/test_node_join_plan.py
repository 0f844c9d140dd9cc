"""NodeJoin's pure rules, the kubeadm token lifetime, and the stand-in plugin's ignoreChanges."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from providers.keys import Diff
from providers.node_join.plan import (
    NodeState,
    VmView,
    diff,
    exposed,
    join_deadline,
    needs_token,
    parse_inputs,
    plan,
    token_diff,
    token_secret,
    waiting_message,
)
from toolchain.standins.schema import apply_ignore_changes, diff_inputs, parse_path
from toolchain.standins.vsphere.vm_schema import VM
from toolchain.standins.wire import Secret
from vsphere_k8s.render.kubeadm import token_ttl

UUID = "4215a1b2-0c3d-4e5f-8a9b-0123456789ab"
T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
KEYS = ["guestinfo.userdata", "guestinfo.userdata.encoding"]


def props(**kw: Any) -> dict[str, Any]:
    base = {
        "server": "vc.example.com",
        "username": "u",
        "password": "p",
        "node_name": "n1",
        "vm_uuid": UUID,
        "kubeconfig": "apiVersion: v1",
        "token": "abcdef.0123456789abcdef",
        "token_ttl_minutes": 60,
        "scrub_keys": KEYS,
    }
    return {**base, **kw}


VM_WITH_DATA = VmView(True, tuple(KEYS), T0)


def test_a_joined_node_is_scrubbed_whatever_the_clock() -> None:
    node = NodeState(True, f"vsphere://{UUID.upper()}")
    step = plan(parse_inputs(props()), VM_WITH_DATA, node, T0 + dt.timedelta(days=9))
    assert step.verb == "scrub"
    assert not needs_token(parse_inputs(props()), VM_WITH_DATA, node, T0, exists=False)  # joined: no token


def test_registered_as_another_vm_is_not_joined() -> None:
    node = NodeState(True, "vsphere://00000000-0000-0000-0000-000000000000")
    inputs = parse_inputs(props())
    step = plan(inputs, VM_WITH_DATA, node, T0)
    assert step.verb == "wait"
    assert "registered with providerID vsphere://0000" in waiting_message(inputs, node, 30, T0)


def test_a_joiner_gets_its_token_once_and_it_expires_with_the_join_window() -> None:
    inputs = parse_inputs(props())
    assert needs_token(inputs, VM_WITH_DATA, NodeState(False), T0, exists=False)
    assert not needs_token(inputs, VM_WITH_DATA, NodeState(False), T0, exists=True)
    init = parse_inputs(props(create_token=False))
    assert not needs_token(init, VM_WITH_DATA, NodeState(False), T0, exists=False)
    late = T0 + dt.timedelta(minutes=61)  # the window is over: a token would only widen the exposure
    assert not needs_token(inputs, VM_WITH_DATA, NodeState(False), late, exists=False)
    body = token_secret(inputs, join_deadline(inputs, VM_WITH_DATA, T0 + dt.timedelta(minutes=5)))
    data = {k: base64.b64decode(v).decode() for k, v in body["data"].items()}
    assert body["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert body["type"] == "bootstrap.kubernetes.io/token"
    # Anchored on the VM's creation: a re-run `up` does not extend the window.
    assert data["expiration"] == "2026-12-01T11:00:00Z"
    assert data["token-secret"] == "0123456789abcdef" and data["usage-bootstrap-authentication"] == "true"


def test_the_window_ends_and_the_material_goes_with_an_error_naming_the_node() -> None:
    inputs = parse_inputs(props())
    step = plan(inputs, VM_WITH_DATA, NodeState(False), T0 + dt.timedelta(minutes=60))
    assert step.verb == "expire"
    assert "node n1" in step.reason and UUID in step.reason and "--replace" in step.reason
    # No creation date from vCenter: the window starts now.
    assert join_deadline(inputs, VmView(True), T0) == T0 + dt.timedelta(hours=1)


def test_a_missing_vm_is_an_error_naming_it() -> None:
    with pytest.raises(RuntimeError, match=f"node n1: its VM \\(BIOS UUID {UUID}\\) is not in vCenter"):
        plan(parse_inputs(props()), VmView(False), NodeState(True), T0)


def test_a_malformed_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as err:
        parse_inputs(props(token="NOT-A-TOKEN-hunter2"))
    assert "hunter2" not in str(err.value)


def test_keys_back_on_the_vm_are_drift_and_another_vm_replaces() -> None:
    inputs = parse_inputs(props())
    assert exposed(inputs, VmView(True, ("guestinfo.metadata", "guestinfo.userdata"))) == ["guestinfo.userdata"]
    old = {**props(), "exposed_keys": []}
    assert diff(old, props()) == Diff((), ())
    assert diff({**old, "exposed_keys": ["guestinfo.userdata"]}, props()) == Diff(("scrub_keys",), ())
    assert diff(old, props(vm_uuid="4215a1b2-0c3d-4e5f-8a9b-ffffffffffff")) == Diff(("vm_uuid",), ("vm_uuid",))
    # The token's Secret goes once the node has joined: JoinToken diffs its inputs only, a new token replaces.
    assert token_diff({**props(), "expires": "2026-12-01T11:00:00Z"}, props()) == Diff((), ())
    assert token_diff(props(), props(token="zzzzzz.0123456789abcdef")) == Diff(("token",), ("token",))


def test_token_lifetimes_are_go_durations_and_never_zero() -> None:
    assert token_ttl(60) == "1h0m0s" and token_ttl(90) == "1h30m0s" and token_ttl(10) == "0h10m0s"
    with pytest.raises(ValueError, match="positive"):
        token_ttl(0)


def test_the_standin_honours_nested_ignore_changes_as_the_engine_and_the_bridge_do() -> None:
    assert parse_path('extraConfig["guestinfo.userdata"]') == ["extraConfig", "guestinfo.userdata"]
    assert parse_path("disks[0].size") == ["disks", 0, "size"]
    ignore = ('extraConfig["guestinfo.userdata"]', 'extraConfig["guestinfo.userdata.encoding"]')
    program = {"guestinfo.metadata": "m", "guestinfo.userdata": "u", "guestinfo.userdata.encoding": "base64"}
    scrubbed = {"guestinfo.metadata": "m"}  # what a refresh reads once NodeJoin removed the user-data
    base = {"name": "n1", "numCpus": 2, "memory": 2048, "datastoreId": "ds-1", "resourcePoolId": "rp-1"}
    olds = {**base, "extraConfig": Secret(scrubbed)}
    news = {**base, "extraConfig": Secret(program)}
    assert diff_inputs(VM, olds, news).changes  # without ignoreChanges: a diff that would put it back
    assert not diff_inputs(VM, olds, news, ignore).changes
    # The old state lacks the key: it is dropped from the new inputs (the engine's Reset), not copied.
    kept = apply_ignore_changes(olds, news, ignore)["extraConfig"]
    assert isinstance(kept, Secret) and kept.value == scrubbed
    # Anything else in extraConfig still diffs.
    changed = {**news, "extraConfig": Secret({**program, "guestinfo.metadata": "other"})}
    assert diff_inputs(VM, olds, changed, ignore).changes
