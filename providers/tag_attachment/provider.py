"""TagAttachment's dynamic provider: parse props, observe vCenter, plan, apply.

The provider object holds nothing: Pulumi pickles it (with dill) into state,
so the connection is looked up per call from the props' endpoint and cached
per process by :func:`providers.vcenter.connection.connection_for`.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from providers import preload
from providers.checks import check_props

from .plan import (
    KEYS,
    Inputs,
    Observation,
    Plan,
    State,
    diff,
    observed_state,
    parse_inputs,
    parse_state,
    plan,
    plan_delete,
)


def _clients(inputs: Inputs) -> tuple[Any, Any]:
    """(connection, tagging client) for the props' vCenter: one session per process and endpoint."""
    # Imported here: importing this module must not need pyVmomi's network stack.
    from providers.vcenter.connection import connection_for
    from providers.vcenter.tagging import TaggingClient

    conn = connection_for(inputs.endpoint())
    return conn, TaggingClient(conn)


def _observe(inputs: Inputs, resolved: dict[str, str] | None = None) -> tuple[Any, Observation]:
    from providers.vcenter.inventory import read_inventory

    from . import vcenter

    conn, tagging = _clients(inputs)
    if resolved is None:
        resolved = vcenter.resolve(read_inventory(conn, vms=False), inputs.targets)
    types = {key: key.split(":", 1)[0] for key in resolved}
    return tagging, vcenter.observe(tagging, inputs.category_id, inputs.tag_id, resolved, types)


def _after(obs: Observation, done: Plan) -> Observation:
    """The observation once ``done`` has been applied (no second read needed)."""
    tags = {k: set(v) for k, v in obs.category_tags.items()}
    for action in done.actions:
        if action.target in tags:
            if action.verb == "attach":
                tags[action.target].add(action.tag_id)
            else:
                tags[action.target].discard(action.tag_id)
    return Observation(obs.resolved, {k: frozenset(v) for k, v in tags.items()})


def _outs(props: dict[str, Any], inputs: Inputs, obs: Observation, owned: list[str]) -> dict[str, Any]:
    return {**KEYS.inputs_of(props), **observed_state(inputs, obs, owned)}


class TagAttachmentProvider(ResourceProvider):
    """Attach one tag to existing vCenter objects; show and repair drift; detach only what it attached."""

    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load(
            "providers.tag_attachment.vcenter",
            "providers.vcenter.connection",
            "providers.vcenter.inventory",
            "providers.vcenter.tagging",
        )

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return check_props(news, parse_inputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff(olds, news).result()

    def create(self, props: dict[str, Any]) -> CreateResult:
        from . import vcenter

        inputs = parse_inputs(props)
        tagging, obs = _observe(inputs)
        done = plan(inputs, obs)
        vcenter.apply(tagging, done.actions)
        return CreateResult(
            f"{inputs.server}:{inputs.port}/{inputs.tag_id}", _outs(props, inputs, _after(obs, done), list(done.owned))
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from .vcenter import TargetNotFoundError

        state = parse_state(props)
        try:
            _, obs = _observe(state)
        except TargetNotFoundError:
            # A target deleted out of band: read by the morefs recorded at attach time, so refresh
            # shows it as no longer attached (drift) and the next `up` names the missing object.
            try:
                _, obs = _observe(state, dict(state.resolved))
            except LookupError:
                return ReadResult("", {})
        except LookupError:
            # The tag or its category is gone, and every attachment with it: the resource is gone.
            return ReadResult("", {})
        return ReadResult(id_, _outs(props, state, obs, state.owned))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        from . import vcenter

        previous: State = parse_state(olds)
        inputs = parse_inputs(news)
        tagging, obs = _observe(inputs)
        done = plan(inputs, obs, previous)
        vcenter.apply(tagging, done.actions)
        return UpdateResult(_outs(news, inputs, _after(obs, done), list(done.owned)))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from . import vcenter

        state = parse_state(props)
        # By the morefs recorded at attach time: a renamed cluster is still ours to clean.
        owned = {k: v for k, v in state.resolved.items() if k in state.owned}
        if not owned:
            return
        try:
            tagging, obs = _observe(state, owned)
        except LookupError:
            return  # the tag itself is gone: nothing of ours is attached any more
        vcenter.apply(tagging, plan_delete(state, obs))
