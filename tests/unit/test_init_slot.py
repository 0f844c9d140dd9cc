"""Which node runs `kubeadm init`: one of a new cluster, the same VM while it stays, none after it goes."""

from __future__ import annotations

from typing import Any

from vsphere_k8s.plan.nodes import init_slot

CP = [("cp-a-0", "c-cp-a-0", "g1"), ("cp-b-0", "c-cp-b-0", "g1"), ("cp-c-0", "c-cp-c-0", "g1")]


def _record(gen: str = "g1", init: str | None = "cp-a-0", names: dict[str, str] | None = None) -> dict[str, Any]:
    names = names or {}
    return {
        k: {"name": names.get(k, base), "generation": gen, **({"init": True} if k == init else {})}
        for k, base, _g in CP
    }


def test_a_new_cluster_inits_on_its_first_control_plane_slot() -> None:
    assert init_slot(CP, {}) == "cp-a-0"
    assert init_slot([], {}) is None


def test_the_marked_vm_stays_the_init_node_while_it_is_not_replaced() -> None:
    assert init_slot(CP, _record(init="cp-b-0")) == "cp-b-0"  # marked, not merely first
    # Its generation moved: the replacement joins, and so does every other new node.
    moved = [(k, b, "g2") for k, b, _g in CP]
    assert init_slot(moved, _record()) is None


def test_after_a_roll_no_node_inits_again() -> None:
    rolled = _record(gen="g2", init=None, names={k: f"{b}-g2" for k, b, _g in CP})
    assert init_slot([(k, b, "g2") for k, b, _g in CP], rolled) is None


def test_the_marked_slot_removed_means_no_init() -> None:
    assert init_slot(CP[1:], _record()) is None


def test_a_record_from_before_the_marker_takes_its_first_never_rolled_slot() -> None:
    legacy = _record(init=None)
    assert init_slot(CP, legacy) == "cp-a-0"
    # A zone added in front: its new slot has no record, so it joins; the old first slot still inits.
    front = [("cp-0-0", "c-cp-0-0", "g1"), *CP]
    assert init_slot(front, legacy) == "cp-a-0"
    # Its first slot rolled before the marker existed: that VM joined, and so did the others.
    renamed = _record(init=None, names={"cp-a-0": "c-cp-a-0-g0"})
    assert init_slot(CP, renamed) is None
