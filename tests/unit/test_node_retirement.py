"""NodeRetirement: drain with PDB-honouring evictions, quorum-safe etcd member removal, admission waits."""

from __future__ import annotations

from typing import Any

import pytest

from providers.node_retirement.plan import (
    Eviction,
    Member,
    PodView,
    RetirementError,
    classify_eviction,
    members_of,
    parse_inputs,
    removal_refusal,
    to_evict,
)
from providers.node_retirement.provider import NodeRetirementProvider, admit, retire

READY = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}, "spec": {}}


class FakeKube:
    def __init__(self, pods: list[PodView], blocked_for: dict[str, int] | None = None) -> None:
        self.nodes: dict[str, dict[str, Any]] = {"n1": {**READY, "spec": {}}}
        self.pods = {p.ref: p for p in pods}
        self.blocked_for = dict(blocked_for or {})  # pod -> evictions answered 429 before one succeeds
        self.log: list[str] = []

    def node(self, name: str) -> dict[str, Any] | None:
        return self.nodes.get(name)

    def cordon(self, name: str) -> None:
        self.nodes[name]["spec"]["unschedulable"] = True
        self.log.append("cordon")

    def pods_on(self, _name: str) -> list[PodView]:
        return list(self.pods.values())

    def evict(self, pod: PodView) -> tuple[int, str]:
        assert self.nodes["n1"]["spec"].get("unschedulable"), "evicted before the cordon"
        if self.blocked_for.get(pod.ref, 0) > 0:
            self.blocked_for[pod.ref] -= 1
            return 429, "Cannot evict pod as it would violate the pod's disruption budget."
        self.pods.pop(pod.ref, None)
        self.log.append(f"evict {pod.ref}")
        return 201, ""

    def delete_node(self, name: str) -> None:
        assert not to_evict(list(self.pods.values())), "node deleted undrained"
        self.nodes.pop(name)
        self.log.append("delete node")


class FakeEtcd:
    def __init__(self, members: list[Member], down: set[str] | None = None) -> None:
        self.list = members
        self.down = down or set()
        self.removed: list[str] = []

    def members(self) -> list[Member]:
        return list(self.list)

    def status(self, member: Member) -> dict[str, Any] | None:
        return None if member.id in self.down else {"raftIndex": "100", "leader": self.list[0].id}

    def remove(self, member: Member) -> None:
        self.list = [m for m in self.list if m.id != member.id]
        self.removed.append(member.name)


def _inputs(role: str = "worker", **extra: Any) -> Any:
    return parse_inputs(
        {"node_name": "n1", "role": role, "kubeconfig": "x", "drain_timeout_seconds": 30, **extra}
        | ({"etcd_endpoints": ["http://127.0.0.1:2379"]} if role == "control-plane" else {})
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _members(n: int) -> list[Member]:
    return [Member(str(10 + i), f"n{i + 1}", (f"http://127.0.0.1:{2379 + i}",)) for i in range(n)]


def test_drain_skips_daemonset_mirror_and_finished_pods() -> None:
    pods = [
        PodView("a", "web"),
        PodView("kube-system", "ds", owner_kinds=("DaemonSet",)),
        PodView("kube-system", "static", annotations={"kubernetes.io/config.mirror": "x"}),
        PodView("a", "job", phase="Succeeded"),
    ]
    assert [p.ref for p in to_evict(pods)] == ["a/web"]


def test_eviction_answers() -> None:
    assert classify_eviction(201)[0] is Eviction.DONE
    assert classify_eviction(404)[0] is Eviction.DONE
    assert classify_eviction(429)[0] is Eviction.BLOCKED
    assert classify_eviction(403, "forbidden")[0] is Eviction.FAILED


def test_retire_cordons_drains_through_pdb_retries_then_deletes() -> None:
    kube = FakeKube([PodView("a", "web-1"), PodView("a", "web-2")], blocked_for={"a/web-2": 3})
    clock = Clock()
    retire(_inputs(), kube, None, clock=clock, sleep=clock.sleep)
    assert kube.log == ["cordon", "evict a/web-1", "evict a/web-2", "delete node"]


def test_a_drain_blocked_past_its_timeout_names_the_pods_and_deletes_nothing() -> None:
    kube = FakeKube([PodView("a", "web-1")], blocked_for={"a/web-1": 10_000})
    clock = Clock()
    with pytest.raises(RetirementError, match=r"a/web-1 \(a PodDisruptionBudget allows no disruption\)"):
        retire(_inputs(), kube, None, clock=clock, sleep=clock.sleep)
    assert "n1" in kube.nodes and "delete node" not in kube.log


def test_a_control_plane_node_leaves_etcd_before_its_node_is_deleted() -> None:
    kube, etcd = FakeKube([]), FakeEtcd(_members(4))
    retire(_inputs("control-plane"), kube, etcd)
    assert etcd.removed == ["n1"] and kube.log[-1] == "delete node"


def test_no_member_is_removed_when_the_rest_would_lack_a_healthy_quorum() -> None:
    etcd = FakeEtcd(_members(3), down={"11"})  # n2 down: removing n1 leaves n2 (down) and n3 of 2 voters
    kube = FakeKube([])
    with pytest.raises(RetirementError, match=r"below a quorum of 2 \(unhealthy: n2\)"):
        retire(_inputs("control-plane"), kube, etcd)
    assert etcd.removed == [] and "n1" in kube.nodes


def test_quorum_arithmetic() -> None:
    members = _members(5)
    assert removal_refusal(members, {m.id for m in members}, "n1")[1] is None
    assert removal_refusal(members, {"11", "12"}, "n1")[1] is not None  # 2 healthy of 4 < 3
    assert removal_refusal(members[:1], {"10"}, "n1")[1] is not None  # the last member
    assert removal_refusal(members, set(), "other") == (None, None)
    parsed = members_of({"members": [{"ID": "123", "name": "a", "clientURLs": ["https://x:2379"]}]})
    assert parsed == [Member("123", "a", ("https://x:2379",))]


def test_admit_waits_for_ready_and_times_out_naming_why() -> None:
    kube = FakeKube([])
    assert admit(_inputs(), kube, None) == "Ready"
    kube.nodes.clear()
    clock = Clock()
    with pytest.raises(RetirementError, match="not registered yet"):
        admit(_inputs(ready_timeout_seconds=5), kube, None, clock=clock, sleep=clock.sleep)
    kube = FakeKube([])
    reason = admit(_inputs("control-plane"), kube, FakeEtcd(_members(3)))
    assert "etcd member 10 caught up" in reason


def test_admit_refuses_a_node_whose_kubelet_is_not_its_pools_release() -> None:
    kube = FakeKube([])
    kube.nodes["n1"]["status"] = {**READY["status"], "nodeInfo": {"kubeletVersion": "v1.35.2"}}
    with pytest.raises(RetirementError, match=r"node n1 runs kubelet v1\.35\.2, but its pool asks for 1\.36\.3"):
        admit(_inputs(kubernetes_version="1.36.3"), kube, None)
    assert admit(_inputs(kubernetes_version="1.35.2"), kube, None) == "Ready"
    kube.nodes["n1"]["status"]["nodeInfo"] = {"kubeletVersion": "v1.36.3+vmware.1"}  # a vendor's build
    assert admit(_inputs(kubernetes_version="1.36.3"), kube, None) == "Ready"
    kube.nodes["n1"]["status"]["nodeInfo"] = {"kubeletVersion": ""}  # reports none: not judged
    assert admit(_inputs(kubernetes_version="1.36.3"), kube, None) == "Ready"


def test_check_refuses_a_skipped_minor_from_the_slots_state() -> None:
    news = {"node_name": "n1-b", "role": "worker", "kubeconfig": "x", "kubernetes_version": "1.36.0"}
    olds = {**news, "node_name": "n1-a", "kubernetes_version": "1.34.2"}
    (failure,) = NodeRetirementProvider().check(olds, news).failures
    assert failure.property == "kubernetes_version" and "one minor at a time" in failure.reason
    assert NodeRetirementProvider().check({**olds, "kubernetes_version": "1.35.9"}, news).failures == []
