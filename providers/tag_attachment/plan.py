"""TagAttachment, the pure part: its properties, drift and the actions that repair it.

Nothing here talks to vCenter. The provider parses props into these models,
observes vCenter through its adapters, and hands both to :func:`plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from providers.checks import has_unknowns
from providers.keys import Diff, Keys
from providers.vcenter.props import VCenterProps

ObjectType = Literal["Datacenter", "ClusterComputeResource", "HostSystem"]

KEYS = Keys(
    # The credential fields: secret in, and kept secret in state (delete needs them).
    secret=("username", "password"),
    outputs=("resolved", "attached", "owned", "conflicts"),
    # Changing these points the resource at another vCenter: what it attached there must be
    # detached first, so they replace (delete before create: the same object cannot hold two
    # tags of a single-cardinality category).
    replace=("server", "port"),
)


class TargetSpec(BaseModel):
    """An object the stack does not own, named as in config (resolved to a moref by the provider)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ObjectType
    datacenter: str = Field(min_length=1)
    name: str = Field(min_length=1)
    cluster: str | None = None

    @property
    def key(self) -> str:
        parts = [self.datacenter] + ([self.cluster] if self.cluster else [])
        if self.type != "Datacenter":
            parts.append(self.name)
        return f"{self.type}:{'/'.join(parts)}"


class Inputs(VCenterProps):
    """What the program passes (snake_case keys, as stored in state)."""

    tag_id: str = Field(min_length=1)
    category_id: str = Field(min_length=1)
    targets: list[TargetSpec] = Field(min_length=1)

    def desired(self) -> dict[str, TargetSpec]:
        return {t.key: t for t in self.targets}


class State(Inputs):
    """Inputs plus what the provider observed and did (the resource's outputs)."""

    resolved: dict[str, str] = Field(default_factory=dict)  # target key -> moref value
    attached: list[str] = Field(default_factory=list)  # target keys carrying tag_id
    owned: list[str] = Field(default_factory=list)  # target keys this resource attached itself
    conflicts: dict[str, list[str]] = Field(default_factory=dict)  # target key -> other tags of the category


def parse_inputs(props: Mapping[str, Any]) -> Inputs:
    return Inputs.model_validate(dict(props))


def parse_state(props: Mapping[str, Any]) -> State:
    return State.model_validate(dict(props))


@dataclass(frozen=True)
class Observation:
    """vCenter as seen now: for each resolved target, the tags of the category it carries."""

    resolved: Mapping[str, str]  # target key -> moref value
    category_tags: Mapping[str, frozenset[str]]  # target key -> tag ids of the category attached


@dataclass(frozen=True)
class Action:
    verb: Literal["attach", "detach"]
    tag_id: str
    target: str  # target key
    moref: str
    type: str


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    owned: tuple[str, ...]  # owned target keys once the actions are done


def observed_state(inputs: Inputs, obs: Observation, owned: list[str]) -> dict[str, Any]:
    """The outputs that describe vCenter as observed (what ``read`` reports)."""
    attached = sorted(k for k, tags in obs.category_tags.items() if inputs.tag_id in tags)
    conflicts = {
        k: sorted(tags - {inputs.tag_id}) for k, tags in sorted(obs.category_tags.items()) if tags - {inputs.tag_id}
    }
    return {
        "resolved": dict(sorted(obs.resolved.items())),
        "attached": attached,
        "owned": sorted(owned),
        "conflicts": conflicts,
    }


def plan(inputs: Inputs, obs: Observation, previous: State | None = None) -> Plan:
    """Actions that make vCenter match ``inputs``, given what it holds now.

    - a desired object without the tag gets it, and is then owned;
    - another tag of the same category on a desired object is detached (a zone
      category has single cardinality: the hand-made replacement is the drift);
    - an object dropped from the targets is detached only if this resource attached it;
    - on a tag change, the old tag leaves the objects this resource had attached.
    """
    desired = inputs.desired()
    prev_owned = set(previous.owned) if previous else set()
    actions: list[Action] = []
    owned: set[str] = set()
    for key in sorted(desired):
        moref = obs.resolved[key]
        kind = desired[key].type
        tags = obs.category_tags.get(key, frozenset())
        for other in sorted(tags - {inputs.tag_id}):
            actions.append(Action("detach", other, key, moref, kind))
        if inputs.tag_id not in tags:
            actions.append(Action("attach", inputs.tag_id, key, moref, kind))
            owned.add(key)
        elif key in prev_owned:
            owned.add(key)
    if previous is not None:
        old_targets = previous.desired()
        for key in sorted(prev_owned):
            old_moref = previous.resolved.get(key)
            if old_moref is None or (key in desired and previous.tag_id == inputs.tag_id):
                continue
            old_kind = old_targets[key].type if key in old_targets else key.split(":", 1)[0]
            action = Action("detach", previous.tag_id, key, old_moref, old_kind)
            if action not in actions:  # a same-category old tag is already a conflict above
                actions.append(action)
    return Plan(tuple(actions), tuple(sorted(owned)))


def plan_delete(state: State, obs: Observation) -> tuple[Action, ...]:
    """Detach the tag from what this resource attached, where it still is."""
    return tuple(
        Action("detach", state.tag_id, key, state.resolved[key], key.split(":", 1)[0])
        for key in sorted(state.owned)
        if key in state.resolved and state.tag_id in obs.category_tags.get(key, frozenset())
    )


_COMPARED = ("server", "port", "username", "insecure", "thumbprint", "ca_cert", "tag_id", "category_id")


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """Which properties differ between state (as last read) and the program's inputs.

    ``targets`` also changes when the state shows drift: a desired object that
    no longer carries the tag, or carries another tag of the category.
    """
    changes = [k for k in _COMPARED if olds.get(k) != news.get(k)]
    if olds.get("password") != news.get("password"):
        changes.append("password")  # a rotated password updates in place, never replaces
    if has_unknowns(news.get("targets")):
        changes.append("targets")  # not known until the objects are looked up: may change
    else:
        new_keys = sorted(TargetSpec.model_validate(t).key for t in news.get("targets") or [])
        old_keys = sorted(TargetSpec.model_validate(t).key for t in olds.get("targets") or [])
        attached = set(olds.get("attached") or [])
        drifted = any(k not in attached for k in new_keys) or any(k in new_keys for k in olds.get("conflicts") or {})
        if new_keys != old_keys or drifted:
            changes.append("targets")
    return KEYS.diff(changes)
