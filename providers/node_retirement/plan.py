"""Pure: which pods a drain evicts, what an eviction's answer means, when etcd may lose a member."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from providers.keys import Keys

KEYS = Keys(
    secret=("kubeconfig", "etcd_client_key"),
    # etcd_member_urls: the node's own member's client URLs, learned at admission; its retirement
    # reaches etcd through them too when the configured endpoints have gone (an earlier roll).
    outputs=("ready_reason", "etcd_member_urls"),
    # Another node is another retirement: the new one is admitted beside the old, which retires last.
    replace=("node_name",),
    delete_before_replace=False,
)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# Where kubeadm's etcd serves its clients on a control-plane node.
ETCD_CLIENT_PORT = 2379
# A member whose applied index trails the leader's by more than this has not caught up.
CAUGHT_UP_ENTRIES = 1000


class RetirementError(RuntimeError):
    pass


class Inputs(BaseModel):
    model_config = ConfigDict(extra="ignore")

    node_name: str = Field(min_length=1)
    role: Literal["control-plane", "worker"]
    kubernetes_version: str = ""
    kubeconfig: SecretStr
    etcd_endpoints: list[str] = Field(default_factory=list)
    etcd_ca_cert: str | None = None
    etcd_client_cert: str | None = None
    etcd_client_key: SecretStr | None = None
    etcd_member_urls: list[str] | None = None
    # A DHCP control-plane node: its member's client URL is this port on the Node's InternalIP,
    # read from the API at run time (an address in the program's inputs would change with a lease).
    etcd_node_client_port: int | None = Field(default=None, ge=1, le=65535)
    ready_timeout_seconds: float = Field(default=900, gt=0)
    drain_timeout_seconds: float = Field(default=600, gt=0)

    @property
    def uses_etcd(self) -> bool:
        return self.role == "control-plane" and bool(self.etcd_endpoints or self.etcd_node_client_port)


def parse_inputs(props: Mapping[str, Any]) -> Inputs:
    return Inputs.model_validate(dict(props))


@dataclass(frozen=True)
class PodView:
    namespace: str
    name: str
    phase: str = "Running"
    owner_kinds: tuple[str, ...] = ()
    annotations: Mapping[str, str] | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def pod_view(raw: Mapping[str, Any]) -> PodView:
    meta = raw.get("metadata") or {}
    return PodView(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        phase=str((raw.get("status") or {}).get("phase", "")),
        owner_kinds=tuple(str(o.get("kind", "")) for o in meta.get("ownerReferences") or []),
        annotations=dict(meta.get("annotations") or {}),
    )


def to_evict(pods: Sequence[PodView]) -> list[PodView]:
    """What `kubectl drain --ignore-daemonsets` evicts: not DaemonSet pods (their controller puts
    them back and tolerates the cordon), not static pods' mirrors, not pods that have finished."""
    return [
        p
        for p in pods
        if "DaemonSet" not in p.owner_kinds
        and MIRROR_ANNOTATION not in (p.annotations or {})
        and p.phase not in ("Succeeded", "Failed")
    ]


class Eviction(Enum):
    DONE = "done"  # evicted, or already gone
    BLOCKED = "blocked"  # a PodDisruptionBudget allows no disruption now: try again
    FAILED = "failed"


def classify_eviction(status: int, body: str = "") -> tuple[Eviction, str]:
    if status in (200, 201, 404):
        return Eviction.DONE, ""
    if status == 429:
        return Eviction.BLOCKED, "a PodDisruptionBudget allows no disruption"
    if status == 500 and "multiple PodDisruptionBudgets" in body:
        return Eviction.FAILED, "more than one PodDisruptionBudget selects it; the API server refuses to evict it"
    if status >= 500:
        return Eviction.BLOCKED, f"HTTP {status}"
    return Eviction.FAILED, f"HTTP {status}: {body[:200]}"


def drain_timeout_message(node: str, blocked: Mapping[str, str], timeout: float) -> str:
    listed = "; ".join(f"{pod} ({why})" for pod, why in sorted(blocked.items()))
    return (
        f"draining node {node} did not finish within {timeout:.0f}s; {len(blocked)} pod(s) still there: {listed}. "
        "Nothing was deleted: scale the workload or relax its PodDisruptionBudget, then run `pulumi up` again"
    )


@dataclass(frozen=True)
class Member:
    id: str  # etcd's uint64 member id, as the JSON gateway writes it (a decimal string)
    name: str
    client_urls: tuple[str, ...]
    is_learner: bool = False


def members_of(raw: Mapping[str, Any]) -> list[Member]:
    return [
        Member(
            id=str(m["ID"]),
            name=str(m.get("name", "")),
            client_urls=tuple(m.get("clientURLs") or ()),
            is_learner=bool(m.get("isLearner", False)),
        )
        for m in raw.get("members") or []
    ]


def quorum(voters: int) -> int:
    return voters // 2 + 1


def removal_refusal(members: Sequence[Member], healthy: set[str], node: str) -> tuple[Member | None, str | None]:
    """The member to remove for ``node`` (None: it has none) or why removing it would lose quorum."""
    mine = [m for m in members if m.name == node]
    if not mine:
        return None, None
    member = mine[0]
    voters = [m for m in members if not m.is_learner and m.id != member.id]
    if member.is_learner:
        return member, None  # a learner holds no vote
    if not voters:
        return member, f"{node} holds the last etcd member; removing it would delete the cluster's data"
    healthy_after = [m for m in voters if m.id in healthy]
    if len(healthy_after) < quorum(len(voters)):
        sick = sorted(m.name or m.id for m in voters if m.id not in healthy)
        return member, (
            f"removing {node}'s etcd member leaves {len(voters)} voting members of which {len(healthy_after)} "
            f"are healthy, below a quorum of {quorum(len(voters))} (unhealthy: {', '.join(sick)}); nothing removed"
        )
    return member, None


def client_urls(addresses: Sequence[str | None], port: int = ETCD_CLIENT_PORT) -> list[str]:
    """kubeadm's etcd client URL on each control-plane address known (in order, once each)."""
    hosts = [f"[{a}]" if ":" in a else a for a in dict.fromkeys(a for a in addresses if a)]
    return [f"https://{h}:{port}" for h in hosts]


def node_client_urls(raw: Mapping[str, Any] | None, port: int) -> list[str]:
    """The etcd client URL on each InternalIP a Node reports (none before it has registered)."""
    addresses = ((raw or {}).get("status") or {}).get("addresses") or []
    return client_urls([str(a.get("address")) for a in addresses if a.get("type") == "InternalIP"], port)


def caught_up(member_index: int, leader_index: int, slack: int = CAUGHT_UP_ENTRIES) -> bool:
    return leader_index - member_index <= slack


def node_ready(raw: Mapping[str, Any]) -> tuple[bool, str]:
    for cond in (raw.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ok = cond.get("status") == "True"
            return ok, "Ready" if ok else f"Ready={cond.get('status')}: {cond.get('message', '')}"[:200]
    return False, "no Ready condition yet"


def kubelet_mismatch(raw: Mapping[str, Any], node: str, want: str) -> str | None:
    """Why a Ready node is not the machine its pool asks for: its kubelet reports another release than
    ``want`` (the template does not carry that version). None when it matches, or when the kubelet
    reports no release (a build's suffix, "+vmware.1" or "-eks-...", is not compared)."""
    reported = str(((raw.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or "")
    found = re.match(r"^v?(\d+\.\d+\.\d+)", reported)
    if not want or found is None or found.group(1) == want:
        return None
    return (
        f"node {node} runs kubelet {reported}, but its pool asks for {want}: the node's template does not carry "
        "that release (see docs/node-templates.md); the roll stops here, before any old node is retired"
    )


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    keys = (
        "node_name",
        "role",
        "kubernetes_version",
        "kubeconfig",
        "etcd_endpoints",
        "etcd_ca_cert",
        "etcd_client_cert",
        "etcd_client_key",
        "etcd_node_client_port",
        "ready_timeout_seconds",
        "drain_timeout_seconds",
    )
    return [k for k in keys if olds.get(k) != news.get(k)]
