"""NodeJoin's dynamic provider: observe the VM and the node, plan, then create, delete or remove.

The provider object holds nothing (Pulumi pickles it into state): credentials, the
kubeconfig and the token arrive as secret props; sessions come from per-process caches.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
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
    TOKEN_KEYS,
    JoinError,
    TokenInputs,
    diff,
    exposed,
    join_deadline,
    needs_token,
    outs,
    parse_inputs,
    parse_state,
    parse_token_inputs,
    plan,
    token_diff,
    token_secret,
    waiting_message,
)

POLL_SECONDS = 2.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sessions(inputs: TokenInputs) -> tuple[Any, Any]:
    from providers.vcenter.connection import connection_for

    from .kube import core_for

    return connection_for(inputs.endpoint()), core_for(inputs.kubeconfig.get_secret_value())


def ensure_token(props: dict[str, Any], *, now: Callable[[], dt.datetime] = _now) -> dict[str, Any]:
    """JoinToken: the joiner's token Secret, expiring with its join window; returns at once (never waits)."""
    from . import kube, vcenter

    inputs = parse_token_inputs(props)
    conn, api = _sessions(inputs)
    _vm, view = vcenter.read(conn, inputs.vm_uuid, ())
    node = kube.node_state(api, inputs.node_name)
    expires = join_deadline(inputs, view, now())
    if needs_token(inputs, view, node, now(), kube.token_exists(api, inputs.token_id)):
        kube.create_token(api, token_secret(inputs, expires))
    return {
        **{k: v for k, v in props.items() if k not in TOKEN_KEYS.outputs},
        "token_id": inputs.token_id,
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ") if inputs.create_token else None,
    }


def reconcile(
    props: dict[str, Any],
    prior: dict[str, Any] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], dt.datetime] = _now,
) -> dict[str, Any]:
    """Wait (bounded) until the node has joined as its VM, then delete its token and remove the material."""
    from . import kube, vcenter

    inputs = parse_inputs(props)
    before = parse_state(prior) if prior else None
    conn, api = _sessions(inputs)
    what = f"node {inputs.node_name} (VM {inputs.vm_uuid})"
    started = time.monotonic()
    while True:
        vm, view = vcenter.read(conn, inputs.vm_uuid, inputs.scrub_keys)
        node = kube.node_state(api, inputs.node_name)
        step = plan(inputs, view, node, now())
        if step.verb in ("scrub", "expire"):
            kube.delete_token(api, inputs.token_id)
            found = exposed(inputs, view)
            vcenter.remove_keys(conn, vm, found, what)
            if step.verb == "expire":
                raise JoinError(step.reason)
            joined_at = (before.joined_at if before else None) or now().strftime("%Y-%m-%dT%H:%M:%SZ")
            scrubbed = sorted({*(before.scrubbed_keys if before else []), *found})
            return outs(props, joined_at, True, scrubbed, [])
        waited = time.monotonic() - started
        if waited >= inputs.timeout_seconds:
            raise JoinError(waiting_message(inputs, node, waited, join_deadline(inputs, view, now())))
        sleep(min(POLL_SECONDS, max(inputs.timeout_seconds - waited, 0.0)))


class JoinTokenProvider(ResourceProvider):
    """A joiner's bootstrap token in the API, created for the `up` that adds the node (NodeJoin deletes it)."""

    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load("providers.node_join.kube", "providers.node_join.vcenter")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return check_props(news, parse_token_inputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return token_diff(olds, news).result()

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = parse_token_inputs(props)
        return CreateResult(f"{inputs.node_name}/{inputs.token_id}", ensure_token(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(ensure_token(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)  # the Secret is meant to go once the node has joined: nothing to refresh

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from .kube import core_for, delete_token

        inputs = parse_token_inputs(props)
        delete_token(core_for(inputs.kubeconfig.get_secret_value()), inputs.token_id)


class NodeJoinProvider(ResourceProvider):
    """Short-lived join material for one node VM: a bounded token, guestinfo emptied after the join."""

    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load("providers.node_join.kube", "providers.node_join.vcenter")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return check_props(news, parse_inputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff(olds, news).result()

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = parse_inputs(props)
        return CreateResult(f"{inputs.server}/{inputs.node_name}/{inputs.vm_uuid}", reconcile(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(reconcile(news, olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from providers.vcenter.connection import connection_for

        from . import vcenter

        state = parse_state(props)
        _vm, view = vcenter.read(connection_for(state.endpoint()), state.vm_uuid, state.scrub_keys)
        if not view.exists:
            return ReadResult("", {})  # the VM is gone: so is its join
        # Keys back on the VM (put there by hand or by another tool) show as drift; update removes them.
        return ReadResult(
            id_, outs(props, state.joined_at, state.token_deleted, state.scrubbed_keys, exposed(state, view))
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        state = parse_state(props)
        if state.token_deleted:
            return
        from .kube import core_for, delete_token

        delete_token(core_for(state.kubeconfig.get_secret_value()), state.token_id)
