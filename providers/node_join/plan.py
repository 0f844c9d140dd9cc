"""Pure rules of NodeJoin: the token Secret, the join window, what to do, what drifted."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from providers.keys import Diff, Keys
from providers.vcenter.props import VCenterProps
from vsphere_k8s.render.kubeadm import BOOTSTRAP_TOKEN, NODE_TOKEN_GROUP
from vsphere_k8s.topology.uuids import PROVIDER_PREFIX

_SECRET = ("username", "password", "kubeconfig", "token")
# Another VM or node (a replaced VM) is another join; another vCenter is another VM.
_REPLACE = ("server", "port", "vm_uuid", "node_name")
KEYS = Keys(
    secret=_SECRET,
    outputs=("joined_at", "token_id", "token_deleted", "scrubbed_keys", "exposed_keys"),
    replace=_REPLACE,
)
TOKEN_KEYS = Keys(
    secret=_SECRET, outputs=("token_id", "expires"), replace=(*_REPLACE, "token")
)  # new token: new Secret
TOKEN_NAMESPACE = "kube-system"  # noqa: S105 - a namespace, not a password


class JoinError(RuntimeError):
    """The node did not join as asked; the message names the node and its VM."""


class TokenInputs(VCenterProps):
    """JoinToken's inputs: the node, its VM (whose age starts the join window) and its token."""

    # Errors never quote an input: the token and the kubeconfig are secrets.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    node_name: str = Field(min_length=1)
    vm_uuid: str = Field(min_length=1)  # BIOS UUID: the providerID the joined node must carry
    kubeconfig: SecretStr
    token: SecretStr  # "<id>.<secret>"
    create_token: bool = True  # False for the init node: kubeadm init creates its token
    token_ttl_minutes: int = Field(default=60, ge=1, le=1440)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not BOOTSTRAP_TOKEN.match(value.get_secret_value()):
            raise ValueError("must look like [a-z0-9]{6}.[a-z0-9]{16}")
        return value

    @property
    def token_id(self) -> str:
        return self.token.get_secret_value().split(".", 1)[0]


class Inputs(TokenInputs):
    """NodeJoin's inputs: also which guestinfo keys go, and how long one `up` waits for the join."""

    scrub_keys: list[str] = Field(min_length=1)
    timeout_seconds: int = Field(default=900, ge=0, le=7200)


class State(Inputs):
    joined_at: str | None = None
    token_deleted: bool = False
    scrubbed_keys: list[str] = Field(default_factory=list)
    exposed_keys: list[str] = Field(default_factory=list)


def parse_inputs(props: Mapping[str, Any]) -> Inputs:
    return Inputs.model_validate(dict(props))


def parse_token_inputs(props: Mapping[str, Any]) -> TokenInputs:
    return TokenInputs.model_validate(dict(props))


def parse_state(props: Mapping[str, Any]) -> State:
    return State.model_validate({k: v for k, v in props.items() if v is not None})


def token_secret_name(token_id: str) -> str:
    return f"bootstrap-token-{token_id}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def token_secret(inputs: TokenInputs, expires: dt.datetime) -> dict[str, Any]:
    """The Secret kubeadm's `token create` would write: usable for joining until ``expires``."""
    token_id, secret = inputs.token.get_secret_value().split(".", 1)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": token_secret_name(token_id), "namespace": TOKEN_NAMESPACE},
        "type": "bootstrap.kubernetes.io/token",
        "data": {
            "token-id": _b64(token_id),
            "token-secret": _b64(secret),
            "description": _b64(f"vsphere-k8s join token of node {inputs.node_name} (managed by Pulumi)"),
            "expiration": _b64(expires.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
            "usage-bootstrap-authentication": _b64("true"),
            "usage-bootstrap-signing": _b64("true"),
            "auth-extra-groups": _b64(NODE_TOKEN_GROUP),
        },
    }


@dataclass(frozen=True)
class VmView:
    """What the VM's configuration holds: which of the watched keys carry a value, and its age."""

    exists: bool
    present_keys: tuple[str, ...] = ()
    created: dt.datetime | None = None


@dataclass(frozen=True)
class NodeState:
    registered: bool
    provider_id: str = ""


def join_deadline(inputs: TokenInputs, vm: VmView, now: dt.datetime) -> dt.datetime:
    """The end of the node's join window: the token's lifetime counted from the VM's creation
    (a re-run `up` does not extend it); from now when vCenter does not say when it was created."""
    start = vm.created or now
    return start + dt.timedelta(minutes=inputs.token_ttl_minutes)


def joined(inputs: TokenInputs, node: NodeState) -> bool:
    """Registered, and bound to this VM (its providerID names the VM's BIOS UUID)."""
    return node.registered and node.provider_id.lower() == PROVIDER_PREFIX + inputs.vm_uuid.lower()


Verb = Literal["scrub", "wait", "expire"]


@dataclass(frozen=True)
class Step:
    verb: Verb  # scrub: joined, remove the material; wait: not yet; expire: window over, remove it and fail
    reason: str = ""


def plan(inputs: Inputs, vm: VmView, node: NodeState, now: dt.datetime) -> Step:
    if not vm.exists:
        raise JoinError(f"node {inputs.node_name}: its VM (BIOS UUID {inputs.vm_uuid}) is not in vCenter")
    if joined(inputs, node):
        return Step("scrub", reason=f"node {inputs.node_name} has joined as VM {inputs.vm_uuid}")
    deadline = join_deadline(inputs, vm, now)
    if now >= deadline:
        return Step(
            "expire",
            reason=(
                f"node {inputs.node_name} (VM {inputs.vm_uuid}) did not join within its "
                f"{inputs.token_ttl_minutes}-minute join window (ended {deadline:%Y-%m-%dT%H:%M:%SZ}); its "
                "join material was removed from the VM and its token deleted: replace the VM to try again "
                "(pulumi up --replace <its VirtualMachine URN>)"
            ),
        )
    return Step("wait")


def needs_token(inputs: TokenInputs, vm: VmView, node: NodeState, now: dt.datetime, exists: bool) -> bool:
    """JoinToken creates the joiner's token only while it can still be of use: not yet joined, in its window."""
    if not inputs.create_token or exists or not vm.exists or joined(inputs, node):
        return False
    return now < join_deadline(inputs, vm, now)


def waiting_message(inputs: Inputs, node: NodeState, waited: float, deadline: dt.datetime) -> str:
    what = (
        f"registered with providerID {node.provider_id or '(none)'}, not {PROVIDER_PREFIX}{inputs.vm_uuid}"
        if node.registered
        else "has not registered with the API server"
    )
    return (
        f"node {inputs.node_name} (VM {inputs.vm_uuid}) {what} after {waited:.0f}s; its user-data stays in the "
        f"VM's guestinfo for a retry (`pulumi up`) until {deadline:%Y-%m-%dT%H:%M:%SZ}, then it is removed"
    )


def exposed(inputs: Inputs, vm: VmView) -> list[str]:
    """The watched keys the VM still (or again) carries."""
    return sorted(set(inputs.scrub_keys) & set(vm.present_keys))


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """Changed keys (and which replace); keys found on the VM again by a refresh count as a change."""
    keys = (*KEYS.replace, *KEYS.secret, "insecure", "thumbprint", "ca_cert", "scrub_keys", "timeout_seconds")
    changed = {k for k in keys if olds.get(k) != news.get(k)}
    if olds.get("exposed_keys"):
        changed.add("scrub_keys")
    return KEYS.diff(sorted(changed))


def token_diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """JoinToken: its Secret's later deletion (after the join) is expected, never drift; inputs alone diff."""
    keys = (*TOKEN_KEYS.replace, "username", "password", "kubeconfig", "insecure", "thumbprint", "ca_cert",
            "create_token", "token_ttl_minutes")  # fmt: skip
    return TOKEN_KEYS.diff(sorted(k for k in keys if olds.get(k) != news.get(k)))


def outs(
    props: Mapping[str, Any], joined_at: str | None, token_deleted: bool, scrubbed: Sequence[str], still: Sequence[str]
) -> dict[str, Any]:
    inputs = parse_inputs(props)
    return {
        **{k: v for k, v in props.items() if k not in KEYS.outputs},
        "joined_at": joined_at,
        "token_id": inputs.token_id,  # the public half: names the Secret, proves nothing
        "token_deleted": token_deleted,
        "scrubbed_keys": sorted(scrubbed),
        "exposed_keys": sorted(still),
    }
