"""The NodeRetirement provider: create admits a node (waits Ready), delete retires it (drains first).

``admit`` and ``retire`` take their adapters and clock as arguments, so the unit tests run them
on fakes and the provider on the real API server and etcd.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
)

from providers import preload
from providers.checks import check_props, has_unknowns
from vsphere_k8s.plan.skew import step_issues

from .etcd import Etcd
from .plan import (
    KEYS,
    Eviction,
    Inputs,
    Member,
    PodView,
    RetirementError,
    caught_up,
    classify_eviction,
    diff,
    drain_timeout_message,
    kubelet_mismatch,
    node_client_urls,
    node_ready,
    parse_inputs,
    removal_refusal,
    to_evict,
)

POLL_SECONDS = 1.0


class KubeSide(Protocol):
    def node(self, name: str) -> dict[str, Any] | None: ...
    def cordon(self, name: str) -> None: ...
    def pods_on(self, name: str) -> list[PodView]: ...
    def evict(self, pod: PodView) -> tuple[int, str]: ...
    def delete_node(self, name: str) -> None: ...


class EtcdSide(Protocol):
    def members(self) -> list[Member]: ...
    def status(self, member: Member) -> dict[str, Any] | None: ...
    def remove(self, member: Member) -> None: ...


Log = Callable[[str], None]


def _index(status: dict[str, Any] | None) -> int:
    return int((status or {}).get("raftIndex", 0))


def _member_admitted(name: str, etcd: EtcdSide) -> tuple[bool, str]:
    """The node's etcd member is a started voter caught up with the leader."""
    members = etcd.members()
    mine = next((m for m in members if m.name == name), None)
    if mine is None:
        return False, "no etcd member of this name yet"
    if mine.is_learner:  # kubeadm's learner mode: a voter only once promoted (caught up)
        return False, "its etcd member is still a learner"
    status = etcd.status(mine)
    if status is None:
        return False, "its etcd member does not answer yet"
    leader_id = str(status.get("leader", ""))
    leader = next((m for m in members if m.id == leader_id), None)
    leader_status = etcd.status(leader) if leader else None
    if leader_status is None or not caught_up(_index(status), _index(leader_status)):
        return False, f"etcd member at raft index {_index(status)}, leader at {_index(leader_status)}"
    return True, f"Ready; etcd member {mine.id} caught up (raft index {_index(status)})"


def admit(
    inputs: Inputs,
    kube: KubeSide,
    etcd: EtcdSide | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Wait until the node is Ready and, on the control plane, its etcd member is started and caught up."""
    name = inputs.node_name
    deadline = clock() + inputs.ready_timeout_seconds
    while True:
        raw = kube.node(name)
        ok, why = node_ready(raw) if raw is not None else (False, "not registered yet")
        if ok and raw is not None and (wrong := kubelet_mismatch(raw, name, inputs.kubernetes_version)):
            raise RetirementError(wrong)  # waiting does not change a machine's kubelet
        if ok and etcd is not None:
            try:
                ok, why = _member_admitted(name, etcd)
            except RetirementError as e:  # e.g. the node's own member not serving yet: try again
                ok, why = False, str(e)
        if ok:
            return why
        if clock() > deadline:
            raise RetirementError(
                f"node {name} not ready within {inputs.ready_timeout_seconds:.0f}s ({why}); the roll stops here, "
                "before any old node is retired"
            )
        sleep(POLL_SECONDS)


def retire(
    inputs: Inputs,
    kube: KubeSide,
    etcd: EtcdSide | None,
    *,
    log: Log = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Cordon, drain (PDB-honouring evictions, bounded), remove the etcd member if quorum allows, delete the Node."""
    name = inputs.node_name
    raw = kube.node(name)
    if raw is not None:
        if not (raw.get("spec") or {}).get("unschedulable"):
            kube.cordon(name)
            log(f"cordon {name}")
        deadline = clock() + inputs.drain_timeout_seconds
        blocked: dict[str, str] = {}
        while True:
            pods = to_evict(kube.pods_on(name))
            if not pods:
                break
            for pod in pods:
                verdict, why = classify_eviction(*kube.evict(pod))
                if verdict is Eviction.FAILED:
                    raise RetirementError(f"draining node {name}: evicting {pod.ref}: {why}; nothing was deleted")
                if verdict is Eviction.BLOCKED:
                    blocked[pod.ref] = why
                else:
                    blocked.pop(pod.ref, None)
                    log(f"evict {pod.ref} from {name}")
            if clock() > deadline:
                still = {p.ref: blocked.get(p.ref, "terminating") for p in pods}
                raise RetirementError(drain_timeout_message(name, still, inputs.drain_timeout_seconds))
            sleep(POLL_SECONDS)
        log(f"drained {name}")
    if etcd is not None:
        members = etcd.members()
        healthy = {m.id for m in members if etcd.status(m) is not None}
        member, refusal = removal_refusal(members, healthy, name)
        if refusal:
            raise RetirementError(refusal)
        if member is not None:
            etcd.remove(member)
            log(f"remove etcd member {member.id} ({name})")
    if raw is not None:
        kube.delete_node(name)
        log(f"delete node {name}")


def _adapters(inputs: Inputs) -> tuple[KubeSide, Etcd | None]:
    from .kube import Kube

    kube = Kube(inputs.kubeconfig.get_secret_value())
    if not inputs.uses_etcd:
        return kube, None
    port = inputs.etcd_node_client_port
    discover = (lambda: node_client_urls(kube.node(inputs.node_name), port)) if port else None
    return kube, Etcd(inputs, discover)


def _calls(what: str, kube: KubeSide, etcd: EtcdSide | None) -> str:
    """What a step cost, in the engine's log (the e2e tier counts a roll's calls from it)."""
    line = f"{what}: {getattr(kube, 'calls', 0)} API calls"
    return line + (f", {getattr(etcd, 'calls', 0)} etcd calls" if etcd is not None else "")


class NodeRetirementProvider(ResourceProvider):
    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load("providers.node_retirement.kube")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = check_props(news, parse_inputs)
        old_v, new_v = (olds or {}).get("kubernetes_version"), news.get("kubernetes_version")
        if result.failures or not old_v or not new_v or has_unknowns([old_v, new_v]):
            return result
        # The version this slot runs now comes from state: a skipped minor or a downgrade stops the preview.
        what = f"node slot of {olds.get('node_name')}"
        failures = [CheckFailure("kubernetes_version", i.message) for i in step_issues("", what, old_v, new_v)]
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = parse_inputs(props)
        kube, etcd = _adapters(inputs)
        reason = admit(inputs, kube, etcd)
        print(_calls(f"admitted {inputs.node_name}", kube, etcd), flush=True)
        urls = etcd.urls_of(inputs.node_name) if etcd is not None else []
        return CreateResult(
            inputs.node_name, {**KEYS.inputs_of(props), "ready_reason": reason, "etcd_member_urls": urls}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return KEYS.diff(diff(olds, news)).result()

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> Any:
        from pulumi.dynamic import UpdateResult

        return UpdateResult({**KEYS.inputs_of(news), **{k: _olds.get(k) for k in KEYS.outputs}})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, dict(props))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        inputs = parse_inputs(props)
        kube, etcd = _adapters(inputs)
        retire(inputs, kube, etcd, log=lambda line: print(line, flush=True))  # the engine's log of the step
        print(_calls(f"retired {inputs.node_name}", kube, etcd), flush=True)
