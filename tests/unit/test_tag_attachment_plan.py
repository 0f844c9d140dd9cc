"""TagAttachment's pure plan: drift, repair, ownership, diff."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from providers.tag_attachment.plan import (
    Action,
    Observation,
    diff,
    observed_state,
    parse_inputs,
    parse_state,
    plan,
    plan_delete,
)

CLUSTER = {"type": "ClusterComputeResource", "datacenter": "DC0", "name": "DC0_C0"}
HOST = {"type": "HostSystem", "datacenter": "DC0", "cluster": "DC0_C1", "name": "h1"}
C_KEY = "ClusterComputeResource:DC0/DC0_C0"
H_KEY = "HostSystem:DC0/DC0_C1/h1"


def props(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "server": "vc.example.com",
        "port": 443,
        "username": "u",
        "password": "p",
        "insecure": False,
        "thumbprint": None,
        "ca_cert": None,
        "tag_id": "tag-a",
        "category_id": "cat-zone",
        "targets": [CLUSTER, HOST],
    }
    base.update(over)
    return base


def obs(**tags: set[str]) -> Observation:
    resolved = {C_KEY: "domain-c1", H_KEY: "host-7"}
    keyed = {C_KEY: tags.get("cluster", set()), H_KEY: tags.get("host", set())}
    return Observation(resolved, {k: frozenset(v) for k, v in keyed.items()})


def test_target_keys_are_readable_and_stable() -> None:
    inputs = parse_inputs(props())
    assert list(inputs.desired()) == [C_KEY, H_KEY]
    assert (
        "Datacenter:DC0"
        in parse_inputs(props(targets=[{"type": "Datacenter", "datacenter": "DC0", "name": "DC0"}])).desired()
    )


def test_fresh_objects_are_attached_and_owned() -> None:
    result = plan(parse_inputs(props()), obs())
    assert result.actions == (
        Action("attach", "tag-a", C_KEY, "domain-c1", "ClusterComputeResource"),
        Action("attach", "tag-a", H_KEY, "host-7", "HostSystem"),
    )
    assert result.owned == (C_KEY, H_KEY)


def test_already_tagged_object_is_adopted_not_owned() -> None:
    result = plan(parse_inputs(props()), obs(cluster={"tag-a"}))
    assert [a.target for a in result.actions] == [H_KEY]
    assert result.owned == (H_KEY,)  # delete will leave the admin's own attachment alone


def test_nothing_to_do_when_in_sync() -> None:
    previous = parse_state({**props(), "resolved": obs().resolved, "owned": [C_KEY, H_KEY]})
    result = plan(parse_inputs(props()), obs(cluster={"tag-a"}, host={"tag-a"}), previous)
    assert result.actions == ()
    assert result.owned == (C_KEY, H_KEY)


def test_hand_made_replacement_is_detached_before_reattaching() -> None:
    previous = parse_state({**props(), "resolved": obs().resolved, "owned": [C_KEY, H_KEY]})
    result = plan(parse_inputs(props()), obs(cluster={"tag-b"}, host={"tag-a"}), previous)
    assert result.actions == (
        Action("detach", "tag-b", C_KEY, "domain-c1", "ClusterComputeResource"),
        Action("attach", "tag-a", C_KEY, "domain-c1", "ClusterComputeResource"),
    )


def test_dropped_target_is_detached_only_if_owned() -> None:
    owned = parse_state({**props(), "resolved": obs().resolved, "owned": [H_KEY]})
    result = plan(parse_inputs(props(targets=[CLUSTER])), obs(cluster={"tag-a"}, host={"tag-a"}), owned)
    assert result.actions == (Action("detach", "tag-a", H_KEY, "host-7", "HostSystem"),)
    adopted = parse_state({**props(), "resolved": obs().resolved, "owned": []})
    assert plan(parse_inputs(props(targets=[CLUSTER])), obs(cluster={"tag-a"}, host={"tag-a"}), adopted).actions == ()


def test_tag_change_in_another_category_detaches_the_old_tag_from_owned_objects() -> None:
    previous = parse_state({**props(), "resolved": obs().resolved, "owned": [C_KEY]})
    result = plan(parse_inputs(props(tag_id="tag-z", category_id="cat-other")), obs(), previous)
    assert Action("detach", "tag-a", C_KEY, "domain-c1", "ClusterComputeResource") in result.actions
    assert Action("detach", "tag-a", H_KEY, "host-7", "HostSystem") not in result.actions  # never owned
    assert sum(a.verb == "attach" for a in result.actions) == 2


def test_delete_detaches_only_owned_and_still_attached() -> None:
    state = parse_state({**props(), "resolved": obs().resolved, "owned": [C_KEY]})
    assert plan_delete(state, obs(cluster={"tag-a"}, host={"tag-a"})) == (
        Action("detach", "tag-a", C_KEY, "domain-c1", "ClusterComputeResource"),
    )
    assert plan_delete(state, obs(host={"tag-a"})) == ()  # already removed by hand


def test_observed_state_reports_drift() -> None:
    out = observed_state(parse_inputs(props()), obs(cluster={"tag-b"}, host={"tag-a"}), [C_KEY, H_KEY])
    assert out["attached"] == [H_KEY]
    assert out["conflicts"] == {C_KEY: ["tag-b"]}
    assert out["owned"] == [C_KEY, H_KEY]
    assert "password" not in out


def _state(**over: Any) -> dict[str, Any]:
    return {**props(), "attached": [C_KEY, H_KEY], "conflicts": {}, **over}


def test_diff_in_sync_is_empty() -> None:
    result = diff(_state(), props())
    assert result.changes == ()
    assert result.replaces == ()


@pytest.mark.parametrize(
    ("state", "news", "changes", "replaces"),
    [
        (_state(attached=[H_KEY]), props(), ("targets",), ()),  # tag removed by hand
        (_state(conflicts={C_KEY: ["tag-b"]}), props(), ("targets",), ()),  # replaced by hand
        (_state(), props(targets=[CLUSTER]), ("targets",), ()),
        (_state(), props(tag_id="tag-b"), ("tag_id",), ()),
        (_state(), props(password="rotated"), ("password",), ()),
        (_state(), props(server="other.example.com"), ("server",), ("server",)),
        (_state(), props(port=8443), ("port",), ("port",)),
    ],
)
def test_diff_names_exactly_what_changed(
    state: dict[str, Any], news: dict[str, Any], changes: tuple[str, ...], replaces: tuple[str, ...]
) -> None:
    result = diff(state, news)
    assert result.changes == changes
    assert result.replaces == replaces


def test_bad_props_name_the_field() -> None:
    with pytest.raises(ValidationError, match="targets"):
        parse_inputs(props(targets=[]))
    with pytest.raises(ValidationError, match="type"):
        parse_inputs(props(targets=[{"type": "Datastore", "datacenter": "DC0", "name": "x"}]))
