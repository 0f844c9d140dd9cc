"""NodeBinding, the pure part: its properties, how a node finds its VM, and what to write.

Nothing here talks to vCenter or the API server. The provider observes both through
its adapters (:mod:`.vcenter`, :mod:`.kube`) and hands plain facts to these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from vsphere_k8s.topology import InvalidUuidError, normalize_uuid, provider_id, uuid_candidates, uuid_from_provider_id

T = TypeVar("T")

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
TOPOLOGY_LABELS = (ZONE_LABEL, REGION_LABEL)
Mode = Literal["verify", "enforce"]

# Another node name binds another node: the labels of this one must go first.
REPLACE_ON = ("node_name",)


class BindingError(RuntimeError):
    """A binding that cannot hold: wrong VM, no VM, a providerID naming another VM, a mismatch."""


class NodeNotRegisteredError(BindingError):
    """The node never appeared in the API server within the timeout."""


class Inputs(BaseModel):
    """What the program passes (snake_case keys, as stored in state)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    node_name: str = Field(min_length=1)
    server: str = Field(min_length=1)
    port: int = Field(default=443, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr
    insecure: bool = False
    thumbprint: str | None = None
    ca_cert: str | None = None
    kubeconfig: SecretStr
    zone_category: str = Field(min_length=1)
    region_category: str = Field(min_length=1)
    vm_uuid: str | None = None  # BIOS UUID of the VM the stack created for this node
    # Where the stack placed the VM (informational: the labels follow vCenter's tags, as the CPI's do).
    expected_zone: str | None = None
    expected_region: str | None = None
    mode: Mode = "verify"
    timeout_seconds: float = Field(default=600, gt=0)
    poll_seconds: float = Field(default=5, gt=0)


class State(Inputs):
    """Inputs plus what the provider observed and did (the resource's outputs)."""

    vm: str | None = None  # VM name
    vm_moid: str | None = None
    bios_uuid: str | None = None
    provider_id: str | None = None  # vsphere://<bios uuid>
    zone: str | None = None  # as vCenter's tags say now
    region: str | None = None
    zone_source: str | None = None  # the ancestor carrying the zone tag ("ClusterComputeResource:domain-c7")
    region_source: str | None = None
    observed_provider_id: str | None = None  # on the node, as last read
    observed_labels: dict[str, str] = Field(default_factory=dict)  # topology labels on the node, as last read
    owned_labels: list[str] = Field(default_factory=list)  # label keys this resource wrote
    drift: list[str] = Field(default_factory=list)  # what differs, in words (as last read)


OUTPUT_KEYS = tuple(k for k in State.model_fields if k not in Inputs.model_fields)


def parse_inputs(props: Mapping[str, Any]) -> Inputs:
    return Inputs.model_validate(dict(props))


def parse_state(props: Mapping[str, Any]) -> State:
    return State.model_validate({k: v for k, v in props.items() if v is not None})


# --------------------------------------------------------------------------- observed facts


@dataclass(frozen=True)
class NodeFacts:
    name: str
    system_uuid: str  # status.nodeInfo.systemUUID ("" before the kubelet reports it)
    provider_id: str  # spec.providerID ("" when unset)
    labels: Mapping[str, str]
    resource_version: str | None = None

    @property
    def topology(self) -> dict[str, str]:
        return {k: self.labels[k] for k in TOPOLOGY_LABELS if k in self.labels}


@dataclass(frozen=True)
class VmFacts:
    name: str
    moid: str
    bios_uuid: str
    zone: str
    region: str
    zone_source: str
    region_source: str

    @property
    def provider_id(self) -> str:
        return provider_id(self.bios_uuid)

    @property
    def labels(self) -> dict[str, str]:
        return {ZONE_LABEL: self.zone, REGION_LABEL: self.region}


# --------------------------------------------------------------------------- which VM


def resolve_vm_uuid(node: NodeFacts, stack_uuid: str | None, vm_names: Mapping[str, str]) -> str:
    """The BIOS UUID of the node's VM.

    ``vm_names`` maps the BIOS UUIDs in the inventory to VM names. In order of
    authority: a providerID already on the node (immutable once set), then the
    VM the stack created for it, then the node's systemUUID as reported or
    byte-swapped the way the CPI converts it.
    """
    wanted = normalize_uuid(stack_uuid) if stack_uuid else None
    try:
        named = uuid_from_provider_id(node.provider_id)
    except InvalidUuidError as error:
        raise BindingError(f"node {node.name!r}: {error}") from None
    if named is not None:
        if wanted is not None and named != wanted:
            other = vm_names.get(named)
            where = f"VM {other!r}" if other else "a VM not in the inventory"
            raise BindingError(
                f"node {node.name!r}: spec.providerID {node.provider_id!r} names {where} ({named}), "
                f"not the stack's VM {vm_names.get(wanted, '?')!r} ({wanted}); providerID cannot change once set: "
                "delete the Node object (or fix the VM assignment) and let it re-register"
            )
        if named not in vm_names:
            raise BindingError(f"node {node.name!r}: spec.providerID {node.provider_id!r} names no VM in the inventory")
        return named
    candidates: tuple[str, ...] = ()
    if node.system_uuid:
        try:
            candidates = uuid_candidates(node.system_uuid)
        except InvalidUuidError as error:
            raise BindingError(f"node {node.name!r}: systemUUID {error}") from None
    if wanted is not None:
        if candidates and wanted not in candidates:
            raise BindingError(
                f"node {node.name!r} reports systemUUID {node.system_uuid} (BIOS UUID {' or '.join(candidates)}), "
                f"which is not the stack's VM {vm_names.get(wanted, '?')!r} ({wanted})"
            )
        if wanted not in vm_names:
            raise BindingError(f"node {node.name!r}: the stack's VM ({wanted}) is not in the inventory")
        return wanted
    if not candidates:
        raise BindingError(f"node {node.name!r} reports no systemUUID and no providerID: cannot find its VM")
    found = [c for c in candidates if c in vm_names]
    if not found:
        raise BindingError(
            f"node {node.name!r}: no VM has BIOS UUID {' or '.join(candidates)} (systemUUID {node.system_uuid})"
        )
    if len(found) > 1:
        names = ", ".join(f"{vm_names[c]!r} ({c})" for c in found)
        raise BindingError(f"node {node.name!r}: systemUUID {node.system_uuid} matches two VMs: {names}")
    return found[0]


# --------------------------------------------------------------------------- what to write


@dataclass(frozen=True)
class Patch:
    """A JSON merge patch (RFC 7386) of one node; ``resource_version`` makes it conditional."""

    provider_id: str | None = None
    set_labels: Mapping[str, str] = field(default_factory=dict)
    remove_labels: tuple[str, ...] = ()
    resource_version: str | None = None

    @property
    def empty(self) -> bool:
        return self.provider_id is None and not self.set_labels and not self.remove_labels

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        labels: dict[str, str | None] = {**dict(self.set_labels), **dict.fromkeys(self.remove_labels)}
        if labels or self.resource_version:
            body["metadata"] = {}
            if labels:
                body["metadata"]["labels"] = labels
            if self.resource_version:
                body["metadata"]["resourceVersion"] = self.resource_version
        if self.provider_id is not None:
            body["spec"] = {"providerID": self.provider_id}
        return body


@dataclass(frozen=True)
class Outcome:
    status: Literal["bound", "waiting", "mismatch"]
    patch: Patch
    owned_labels: tuple[str, ...]
    problems: tuple[str, ...] = ()  # verify: what is missing (waiting) or wrong (mismatch)


def plan(mode: Mode, node: NodeFacts, vm: VmFacts, owned_before: Iterable[str] = ()) -> Outcome:
    """What makes the node carry ``vm``'s providerID and topology labels.

    enforce: write providerID (only when empty) and each label that differs; a label
    becomes owned once this resource wrote it. verify: write nothing; report what the
    CPI has not done yet (waiting) or did differently (mismatch, final).
    """
    owned = set(owned_before)
    if node.provider_id and uuid_from_provider_id(node.provider_id) != vm.bios_uuid:
        raise BindingError(
            f"node {node.name!r}: spec.providerID {node.provider_id!r} names another VM than {vm.name!r} "
            f"({vm.provider_id}); providerID cannot change once set"
        )
    current = node.topology
    desired = vm.labels
    if mode == "enforce":
        set_labels = {k: v for k, v in desired.items() if current.get(k) != v}
        owned |= set(set_labels)
        patch = Patch(
            provider_id=None if node.provider_id else vm.provider_id,
            set_labels=set_labels,
            resource_version=node.resource_version,
        )
        return Outcome("bound", patch if not patch.empty else Patch(), tuple(sorted(owned)))
    missing: list[str] = []
    wrong: list[str] = []
    if not node.provider_id:
        missing.append(f"spec.providerID is not set yet (expected {vm.provider_id})")
    for key, value in desired.items():
        if key not in current:
            missing.append(f"label {key} is not set yet (expected {value!r})")
        elif current[key] != value:
            source = vm.zone_source if key == ZONE_LABEL else vm.region_source
            wrong.append(f"label {key} is {current[key]!r}, but VM {vm.name!r} is in {value!r} (tag on {source})")
    owned_now = tuple(sorted(k for k in owned if current.get(k) == desired.get(k)))
    if wrong and node.provider_id:
        return Outcome("mismatch", Patch(), owned_now, tuple(wrong + missing))
    if missing or wrong:
        return Outcome("waiting", Patch(), owned_now, tuple(missing + wrong))
    return Outcome("bound", Patch(), owned_now)


def plan_delete(state: State, node: NodeFacts | None) -> Patch:
    """Remove the labels this resource wrote, where they still hold the value it wrote. Never providerID."""
    if node is None:
        return Patch()
    ours = {ZONE_LABEL: state.zone, REGION_LABEL: state.region}
    remove = tuple(k for k in sorted(state.owned_labels) if k in node.labels and node.labels[k] == ours.get(k))
    return Patch(remove_labels=remove, resource_version=node.resource_version if remove else None)


# --------------------------------------------------------------------------- outputs, drift, diff


def drift_of(node: NodeFacts | None, vm: VmFacts | None, mode: Mode) -> list[str]:
    """Differences between the node and its VM's placement, in words (empty when bound)."""
    if node is None:
        return ["node is not registered"]
    if vm is None:
        return ["VM not found"]
    out: list[str] = []
    if not node.provider_id:
        out.append(f"spec.providerID is empty (expected {vm.provider_id})")
    current = node.topology
    for key, value in vm.labels.items():
        source = vm.zone_source if key == ZONE_LABEL else vm.region_source
        if key not in current:
            out.append(f"label {key} is missing (VM {vm.name!r} is in {value!r}, tag on {source})")
        elif current[key] != value:
            out.append(f"label {key} is {current[key]!r}, but VM {vm.name!r} is in {value!r} (tag on {source})")
    return out


def observed(
    node: NodeFacts | None, vm: VmFacts | None, mode: Mode, owned: Iterable[str], node_after: NodeFacts | None = None
) -> dict[str, Any]:
    """The outputs describing the node and VM (``node_after``: the node once a patch was applied)."""
    seen = node_after or node
    return {
        "vm": vm.name if vm else None,
        "vm_moid": vm.moid if vm else None,
        "bios_uuid": vm.bios_uuid if vm else None,
        "provider_id": vm.provider_id if vm else None,
        "zone": vm.zone if vm else None,
        "region": vm.region if vm else None,
        "zone_source": vm.zone_source if vm else None,
        "region_source": vm.region_source if vm else None,
        "observed_provider_id": (seen.provider_id or None) if seen else None,
        "observed_labels": dict(seen.topology) if seen else {},
        "owned_labels": sorted(set(owned)),
        "drift": drift_of(seen, vm, mode),
    }


def applied(node: NodeFacts, patch: Patch) -> NodeFacts:
    """The node as it is once ``patch`` is applied (no second read needed)."""
    labels = {k: v for k, v in node.labels.items() if k not in patch.remove_labels}
    labels.update(patch.set_labels)
    return NodeFacts(node.name, node.system_uuid, patch.provider_id or node.provider_id, labels, None)


@dataclass(frozen=True)
class Diff:
    changes: tuple[str, ...]
    replaces: tuple[str, ...]


_COMPARED = (
    "node_name",
    "server",
    "port",
    "username",
    "insecure",
    "thumbprint",
    "ca_cert",
    "zone_category",
    "region_category",
    "vm_uuid",
    "mode",
    "timeout_seconds",
    "poll_seconds",
)
_SECRETS = ("password", "kubeconfig")


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """Which properties differ between state (as last read) and the program's inputs.

    Drift recorded by the last read shows as ``observed_labels`` (a label removed,
    edited, or made stale by a VM moved into another zone) or ``observed_provider_id``.
    """
    changes = [k for k in _COMPARED if olds.get(k) != news.get(k) and not (k == "mode" and news.get(k) is None)]
    changes += [k for k in _SECRETS if olds.get(k) != news.get(k)]
    expected = {ZONE_LABEL: olds.get("zone"), REGION_LABEL: olds.get("region")}
    if olds.get("zone") is not None and dict(olds.get("observed_labels") or {}) != expected:
        changes.append("observed_labels")
    if olds.get("provider_id") is not None and olds.get("observed_provider_id") != olds.get("provider_id"):
        changes.append("observed_provider_id")
    replaces = [k for k in REPLACE_ON if k in changes]
    return Diff(tuple(changes), tuple(replaces))


# --------------------------------------------------------------------------- bounded waiting


@dataclass(frozen=True)
class WaitResult(Generic[T]):
    value: T
    attempts: int


def wait_until(
    what: str,
    attempt: Callable[[], tuple[bool, T, str]],
    *,
    timeout: float,
    poll: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> WaitResult[T]:
    """Call ``attempt`` until it reports done, at most ``timeout`` seconds; the last reason names what is missing.

    ``attempt`` returns (done, value, reason). Raises :class:`TimeoutError` naming ``what``.
    """
    deadline = clock() + timeout
    attempts = 0
    while True:
        attempts += 1
        done, value, reason = attempt()
        if done:
            return WaitResult(value, attempts)
        remaining = deadline - clock()
        if remaining <= 0:
            raise TimeoutError(f"{what}: not done after {round(timeout, 1):g}s ({attempts} checks): {reason}")
        sleep(min(poll, remaining))
