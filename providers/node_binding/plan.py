"""Pure rules of NodeBinding: which VM a node is, what its providerID and topology labels must be,
what to write, what drifted, and which changes need a replacement.

Nothing here talks to vCenter or Kubernetes: the provider observes, calls these
functions, and applies the resulting patch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, SecretStr

from providers.keys import Diff, Keys
from providers.vcenter.props import VCenterProps
from vsphere_k8s.topology import (
    Placement,
    bios_uuid_candidates,
    labels,
    normalize_uuid,
    provider_id,
    uuid_from_provider_id,
)

ZONE_LABEL, REGION_LABEL = labels.ZONE, labels.REGION
TOPOLOGY_LABELS = labels.TOPOLOGY_LABELS
Mode = Literal["verify", "enforce"]


class BindingError(RuntimeError):
    """The node cannot be bound as asked; the message names the node and what is wrong."""


class PendingError(BindingError):
    """Not there yet (node not registered, CPI not done): worth waiting for."""


class Inputs(VCenterProps):
    node_name: str = Field(min_length=1)
    kubeconfig: SecretStr
    zone_category: str = Field(min_length=1)
    region_category: str = Field(min_length=1)
    vm_uuid: str | None = None  # BIOS UUID of the VM the stack created for this node
    vm_moid: str | None = None
    expected_zone: str | None = None
    expected_region: str | None = None
    # The vCenter's configured datacenters (vsphere.conf ``datacenters``): the CPI finds VMs only there.
    datacenters: list[str] = Field(default_factory=list)
    mode: Mode = "verify"
    timeout_seconds: int = Field(default=600, ge=0, le=7200)


class State(Inputs):
    """Inputs plus what the last create/update/read saw and owns."""

    bound_vm: str | None = None  # moid of the VM the node was bound to
    bound_vm_name: str | None = None
    provider_id: str | None = None
    zone: str | None = None
    region: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    owned_labels: dict[str, str] = Field(default_factory=dict)  # label -> the value this binding wrote
    drift: list[str] = Field(default_factory=list)


KEYS = Keys(
    secret=("username", "password", "kubeconfig"),
    outputs=tuple(k for k in State.model_fields if k not in Inputs.model_fields),  # declared once: State
    # A different node or vCenter is a different binding: replace, never re-point in place. A
    # changed account or password updates in place (the same node, read with new credentials).
    replace=("node_name", "server", "port"),
)


def parse_inputs(props: Mapping[str, Any]) -> Inputs:
    return Inputs.model_validate(dict(props))


def parse_state(props: Mapping[str, Any]) -> State:
    return State.model_validate({k: v for k, v in props.items() if v is not None})


@dataclass(frozen=True)
class NodeView:
    """What the API server says about the node (``exists`` False when it has not registered)."""

    name: str
    exists: bool
    system_uuid: str = ""
    provider_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    resource_version: str | None = None


@dataclass(frozen=True)
class VmView:
    moid: str
    name: str
    bios_uuid: str
    datacenter: str = ""


def select_vm(inputs: Inputs, node: NodeView, vms_by_uuid: Mapping[str, VmView]) -> VmView:
    """The node's VM, found as the CPI finds it: by its providerID, else by its systemUUID (byte-swapped
    first, then as reported), else the VM the stack made; only in the configured datacenters.

    When two of these are known they must agree, so a node never binds to someone else's VM.
    """
    who = f"node {inputs.node_name}"
    where = f"vCenter {inputs.server}" + (
        f" (datacenters {', '.join(inputs.datacenters)})" if inputs.datacenters else ""
    )
    stack_vm: VmView | None = None
    if inputs.vm_uuid:
        stack_vm = vms_by_uuid.get(normalize_uuid(inputs.vm_uuid, what=f"{who}: vm_uuid"))
        if stack_vm is None:
            raise BindingError(f"{who}: the stack's VM (BIOS UUID {inputs.vm_uuid}) is not in {where}")
    by_node: VmView | None = None
    source = ""
    if node.provider_id:
        uuid = uuid_from_provider_id(node.provider_id)
        by_node = vms_by_uuid.get(uuid)
        source = f"providerID {node.provider_id}"
        if by_node is None:
            raise BindingError(f"{who}: its {source} names no VM in {where}")
    elif node.system_uuid:
        # The CPI's order: the first candidate that names a VM wins (a later one is never searched).
        by_node = next((vms_by_uuid[c] for c in bios_uuid_candidates(node.system_uuid) if c in vms_by_uuid), None)
        source = f"systemUUID {node.system_uuid}"
    if by_node is not None and stack_vm is not None and by_node.moid != stack_vm.moid:
        raise BindingError(
            f"{who}: its {source} names VM {by_node.name} ({by_node.moid}), "
            f"but the stack created VM {stack_vm.name} ({stack_vm.moid}) for it"
        )
    chosen = by_node or stack_vm
    if chosen is None:
        if node.system_uuid:
            raise BindingError(f"{who}: no VM in {where} has a BIOS UUID for systemUUID {node.system_uuid}")
        raise PendingError(f"{who}: no providerID or systemUUID reported yet and no VM UUID given")
    if inputs.vm_moid and chosen.moid != inputs.vm_moid:
        raise BindingError(f"{who}: found VM {chosen.name} ({chosen.moid}), not the stack's VM {inputs.vm_moid}")
    return chosen


@dataclass(frozen=True)
class Desired:
    provider_id: str
    labels: Mapping[str, str]


def desired(vm: VmView, placement: Placement) -> Desired:
    # Both label pairs: the CPI rewrites a GA label that differs from its beta twin.
    return Desired(provider_id(vm.bios_uuid), labels.topology_labels(placement.zone, placement.region))


@dataclass(frozen=True)
class Plan:
    patch: dict[str, Any] | None  # JSON merge patch for the node, None when nothing to write
    owned_labels: dict[str, str]  # label -> value this binding wrote and still answers for
    problems: tuple[str, ...] = ()  # wrong values: fail, do not wait
    pending: tuple[str, ...] = ()  # values not there yet (verify mode waits for the CPI)


def plan(
    inputs: Inputs, node: NodeView, want: Desired, placement: Placement, owned: Mapping[str, str] | None = None
) -> Plan:
    """What to write so the node carries ``want``; in verify mode, what is missing or wrong instead."""
    who = f"node {inputs.node_name}"
    problems: list[str] = []
    pending: list[str] = []
    if not node.exists:
        return Plan(None, dict(owned or {}), (), (f"{who} has not registered with the API server",))
    for kind, expected in (("zone", inputs.expected_zone), ("region", inputs.expected_region)):
        actual = placement.zone if kind == "zone" else placement.region
        source = placement.zone_from if kind == "zone" else placement.region_from
        if expected is not None and actual != expected:
            problems.append(f"{who}: its VM is in {kind} {actual!r} (tag on {source}), planned {kind} {expected!r}")
    spec: dict[str, Any] = {}
    if node.provider_id and node.provider_id.lower() != want.provider_id:
        problems.append(
            f"{who}: spec.providerID is {node.provider_id}, but its VM is {want.provider_id} "
            "(providerID cannot change once set)"
        )
    elif not node.provider_id:
        if inputs.mode == "enforce":
            spec["providerID"] = want.provider_id
        else:
            pending.append(f"{who}: spec.providerID not set yet (want {want.provider_id})")
    to_write: dict[str, str] = {}
    # A label stays ours while it still holds the value we wrote.
    still_owned = {k: v for k, v in (owned or {}).items() if node.labels.get(k) == v}
    for key, value in want.labels.items():
        current = node.labels.get(key)
        if current == value:
            continue
        if inputs.mode == "enforce":
            to_write[key] = still_owned[key] = value
        elif current is None:
            pending.append(f"{who}: label {key} not set yet (want {value!r})")
        else:
            problems.append(f"{who}: label {key} is {current!r}, its VM is in {value!r}")
    patch: dict[str, Any] = {}
    if to_write:
        patch["metadata"] = {"labels": to_write}
    if spec:
        patch["spec"] = spec
        # Set providerID only over the version we read: a CPI that got there first makes this a 409.
        if node.resource_version:
            patch.setdefault("metadata", {})["resourceVersion"] = node.resource_version
    return Plan(patch or None, dict(sorted(still_owned.items())), tuple(problems), tuple(pending))


def removal_patch(node: NodeView, owned: Mapping[str, str]) -> dict[str, Any] | None:
    """Remove the labels this binding set, only where they still hold the value it set.

    Conditional on the version read, when known: a label re-set by hand in between makes the
    API server answer 409, and the caller reads again instead of removing someone else's value.
    """
    gone: dict[str, Any] = {k: None for k, v in owned.items() if node.labels.get(k) == v}
    if not gone:
        return None
    meta: dict[str, Any] = {"labels": gone}
    if node.resource_version:
        meta["resourceVersion"] = node.resource_version
    return {"metadata": meta}


def drift(node: NodeView, want: Desired, placement: Placement, previous: State | None) -> list[str]:
    """Human-readable differences between what the node carries and what its VM's placement says."""
    out: list[str] = []
    who = f"node {node.name}"
    if not node.exists:
        return [f"{who} is gone from the API server"]
    if node.provider_id and node.provider_id.lower() != want.provider_id:
        out.append(f"{who}: providerID {node.provider_id} != {want.provider_id}")
    elif not node.provider_id:
        out.append(f"{who}: providerID not set")
    for key, value in want.labels.items():
        current = node.labels.get(key)
        if current is None:
            out.append(f"{who}: label {key} removed (want {value!r})")
        elif current != value:
            out.append(f"{who}: label {key} is {current!r}, want {value!r}")
    if previous is not None and previous.zone and previous.zone != placement.zone:
        out.append(f"{who}: VM moved from zone {previous.zone!r} to {placement.zone!r} ({placement.zone_from})")
    return out


_IGNORED = frozenset(KEYS.outputs) | {"__provider"}


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """Changed input properties, plus ``labels``/``zone`` when the last read found drift (update repairs)."""
    keys = sorted((set(olds) | set(news)) - _IGNORED)
    changed = [k for k in keys if _norm(olds.get(k)) != _norm(news.get(k))]
    if olds.get("drift"):
        changed += ["drift", "labels"]
    return KEYS.diff(changed)


def _norm(value: Any) -> Any:
    return None if value in ("", None) else value
