"""NodeBinding failure paths on vcsim + the emulator: API-server hiccups, endless conflicts, racing deletes.

Guards (tests/support/kube.py) stand for what a real API server answers: each is named
after the rule or the failure it plays.
"""

from __future__ import annotations

from typing import Any

import pytest

from providers.node_binding.plan import REGION_LABEL, ZONE_LABEL, BindingError
from tests.live.test_node_binding import (  # the same world and emulator fixtures as the main live tests
    Binding,
    World,
    k8s,
    props,
    system_uuid_of,
    world,
)
from tests.support.kube import KubeEmulator, provider_id_immutable, resource_version_precondition
from vsphere_k8s.topology.labels import topology_labels

pytestmark = pytest.mark.live
__all__ = ["k8s", "world"]  # fixtures, re-exported for this module


def _answer(status: int, times: int, verb: str) -> Any:
    """A guard answering ``status`` to the first ``times`` requests of ``verb`` on nodes."""
    left = [times]

    def guard(request: Any, _current: dict[str, Any] | None) -> tuple[int, str] | None:
        if str(getattr(request.method, "value", request.method)).upper() != verb or left[0] <= 0:
            return None
        left[0] -= 1
        return status, f"injected HTTP {status}"

    return guard


def test_api_server_hiccups_are_retried(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, "DC0_C0_RP0_VM0"))
    k8s.em.guards["API server restarting (503 on reads)"] = _answer(503, 2, "GET")
    k8s.em.guards["etcd leader change (500 on writes)"] = _answer(500, 1, "PATCH")
    outs = Binding().create(props(world, k8s, "n0")).outs
    assert outs["labels"] == topology_labels("zone-a", "region-1")
    refused = [rule for rule, _, _ in k8s.em.refused]
    assert refused == ["API server restarting (503 on reads)"] * 2 + ["etcd leader change (500 on writes)"]
    labels = k8s.node("n0")["metadata"]["labels"]
    assert (labels[ZONE_LABEL], labels[REGION_LABEL]) == ("zone-a", "region-1")


def test_an_api_server_that_keeps_failing_gives_up_naming_the_node(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, "DC0_C0_RP0_VM0"))
    k8s.em.guards["API server down (503 on writes)"] = _answer(503, 1000, "PATCH")
    with pytest.raises(BindingError) as caught:
        Binding().create(props(world, k8s, "n0"))
    assert "patch node n0" in str(caught.value) and "HTTP 503" in str(caught.value)
    assert ZONE_LABEL not in k8s.node("n0")["metadata"]["labels"]


def test_endless_conflicts_end_within_the_timeout_naming_the_node(world: World, k8s: KubeEmulator) -> None:
    """A writer that always wins (409 on every write) must not keep the binding spinning forever."""
    k8s.register_node("n0", system_uuid_of(world, "DC0_C0_RP0_VM0"))
    k8s.em.guards["someone always writes first (409)"] = _answer(409, 10_000, "PATCH")
    with pytest.raises(BindingError) as caught:
        Binding().create(props(world, k8s, "n0", timeout_seconds=2))
    assert "n0" in str(caught.value) and "409" in str(caught.value)
    assert len(k8s.em.refused) < 10_000


def test_delete_that_races_an_edit_reads_again_and_removes_only_its_labels(world: World, k8s: KubeEmulator) -> None:
    k8s.register_node("n0", system_uuid_of(world, "DC0_C0_RP0_VM0"))
    binding = Binding()
    done = binding.create(props(world, k8s, "n0"))
    k8s.em.guards["resourceVersion precondition"] = resource_version_precondition
    k8s.em.guards["providerID immutable"] = provider_id_immutable
    raced: list[int] = []

    def admin_edits_first(request: Any, _current: dict[str, Any] | None) -> tuple[int, str] | None:
        # Just before our delete-patch lands, an administrator re-labels the region by hand.
        if not raced and str(getattr(request.method, "value", request.method)).upper() == "PATCH":
            raced.append(1)
            key = next(k for k in k8s.em.objects if k[2] == "n0")
            obj = k8s.em.objects[key]
            obj.patch({"metadata": {"labels": {REGION_LABEL: "by-hand"}, "resourceVersion": "999"}})
        return None

    k8s.em.guards = {"admin": admin_edits_first, **k8s.em.guards}
    binding.delete(done.id, done.outs)
    labels = k8s.node("n0")["metadata"]["labels"]
    assert raced == [1]
    assert ZONE_LABEL not in labels  # ours: removed on the second try
    assert labels[REGION_LABEL] == "by-hand"  # no longer ours: kept
    assert k8s.node("n0")["spec"]["providerID"] == done.outs["provider_id"]
