"""Pure: what one principal's permission should be, what it is, and what to do about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from providers.keys import Diff, Keys
from providers.vcenter.props import VCenterProps

EntityType = Literal["Folder", "Datacenter", "Datastore"]

KEYS = Keys(
    secret=("username", "password"),
    outputs=("observed_role_id", "observed_propagate"),
    # Another entity or another principal is another permission: replace (revoke, then grant).
    replace=("server", "port", "entity_type", "entity_id", "principal", "is_group"),
)


class Inputs(VCenterProps):
    entity_type: EntityType
    entity_id: str = Field(min_length=1)  # managed object id ("datacenter-2", "group-d1")
    principal: str = Field(min_length=1)  # "DOMAIN\\user" or "user@domain", as vCenter names it
    is_group: bool = False
    role_id: int
    propagate: bool = True


@dataclass(frozen=True)
class Observed:
    """The principal's own permission on the entity (not inherited), or None."""

    role_id: int
    propagate: bool


@dataclass(frozen=True)
class Action:
    verb: Literal["set", "none"]
    reason: str = ""


def parse_inputs(props: Mapping[str, Any]) -> Inputs:
    return Inputs.model_validate(dict(props))


def plan(want: Inputs, have: Observed | None) -> Action:
    if have is None:
        return Action("set", f"{want.principal} has no permission on {want.entity_type} {want.entity_id}")
    if (have.role_id, have.propagate) != (want.role_id, want.propagate):
        return Action(
            "set",
            f"{want.principal} holds role {have.role_id} (propagate {have.propagate}) on {want.entity_id}; "
            f"want role {want.role_id} (propagate {want.propagate})",
        )
    return Action("none")


def observed_outs(have: Observed | None) -> dict[str, Any]:
    return {
        "observed_role_id": have.role_id if have else None,
        "observed_propagate": have.propagate if have else None,
    }


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """Changed keys, and those that replace; drift seen by the last read counts as a change of role."""
    keys = (*KEYS.replace, "username", "password", "insecure", "thumbprint", "ca_cert", "role_id", "propagate")
    changed = [k for k in keys if olds.get(k) != news.get(k)]
    if olds.get("observed_role_id") is not None and (
        olds.get("observed_role_id") != olds.get("role_id") or olds.get("observed_propagate") != olds.get("propagate")
    ):
        changed.append("role_id")
    return KEYS.diff(sorted(set(changed)))
