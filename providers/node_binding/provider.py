"""NodeBinding's dynamic provider: parse props, observe vCenter and the node, plan, apply.

The provider object holds nothing (Pulumi pickles it with dill into state): the vCenter
session, the inventory snapshot and the Kubernetes client are looked up per call from
the props and cached per process by the adapters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import ValidationError

from .plan import (
    OUTPUT_KEYS,
    BindingError,
    Inputs,
    NodeFacts,
    NodeNotRegisteredError,
    Patch,
    State,
    VmFacts,
    applied,
    diff,
    observed,
    parse_inputs,
    parse_state,
    plan,
    plan_delete,
    resolve_vm_uuid,
    wait_until,
)

# Bounded retries of one write: a 409 re-reads and re-plans, a transient error waits and resends.
WRITE_ATTEMPTS = 5
BACKOFF = (0.2, 0.5, 1.0, 2.0)


class _Clock:
    """Time as the provider sees it; tests replace nothing, they pass short timeouts."""

    now: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)


def _categories(inputs: Inputs) -> tuple[str, ...]:
    return (inputs.zone_category, inputs.region_category)


def _vm(inputs: Inputs, node: NodeFacts) -> VmFacts:
    """The node's VM and its placement, from the process's snapshot (refreshed once on a miss)."""
    from . import vcenter

    endpoint = vcenter.endpoint_of(inputs)
    started = _Clock.now()
    snap = vcenter.snapshot(endpoint, _categories(inputs))
    try:
        uuid = resolve_vm_uuid(node, inputs.vm_uuid, snap.vm_names)
    except BindingError:
        if snap.taken_at >= started:
            raise
        # A VM created (or moved) after the snapshot: look once more, in a fresh one.
        snap = vcenter.snapshot(endpoint, _categories(inputs), fresher_than=started)
        uuid = resolve_vm_uuid(node, inputs.vm_uuid, snap.vm_names)
    return snap.facts(uuid, inputs.zone_category, inputs.region_category)


def _api(inputs: Inputs) -> Any:
    from . import kube

    return kube.client_for(inputs.kubeconfig.get_secret_value())


def _get(api: Any, name: str) -> NodeFacts | None:
    """Read the node, retrying transient failures (bounded)."""
    from . import kube

    for delay in (*BACKOFF, None):
        try:
            return kube.get_node(api, name)
        except kube.TransientKubeError:
            if delay is None:
                raise
            _Clock.sleep(delay)
    raise AssertionError("unreachable")


def _write(api: Any, name: str, make: Callable[[NodeFacts | None], Patch]) -> tuple[NodeFacts | None, Patch]:
    """Read, plan (``make``), patch; a 409 re-reads and re-plans. Returns the node as written and the patch."""
    from . import kube

    last: Exception | None = None
    for attempt in range(WRITE_ATTEMPTS):
        node = _get(api, name)
        patch = make(node)
        if node is None or patch.empty:
            return node, patch
        try:
            return kube.patch_node(api, name, patch), patch
        except kube.ConflictError as exc:  # someone wrote in between: read again
            last = exc
        except kube.TransientKubeError as exc:
            last = exc
            _Clock.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
        except kube.KubeError as exc:
            if exc.status == 422:
                raise BindingError(f"the API server refused the change: {exc}") from None
            raise
    raise BindingError(f"node {name!r}: gave up after {WRITE_ATTEMPTS} attempts: {last}")


def _registered(inputs: Inputs, api: Any, deadline: float) -> NodeFacts:
    def attempt() -> tuple[bool, NodeFacts | None, str]:
        node = _get(api, inputs.node_name)
        if node is None:
            return False, None, "it is not registered in the API server"
        if not (node.system_uuid or node.provider_id or inputs.vm_uuid):
            return False, node, "it reports no systemUUID yet"
        return True, node, ""

    try:
        found = wait_until(
            f"node {inputs.node_name!r}",
            attempt,
            timeout=max(deadline - _Clock.now(), 0.0),
            poll=inputs.poll_seconds,
            clock=_Clock.now,
            sleep=_Clock.sleep,
        )
    except TimeoutError as error:
        raise NodeNotRegisteredError(str(error)) from None
    assert found.value is not None
    return found.value


def _bind(inputs: Inputs, owned_before: list[str]) -> dict[str, Any]:
    """Create/update: wait for the node, find its VM, then enforce or verify. Returns the outputs."""
    deadline = _Clock.now() + inputs.timeout_seconds
    api = _api(inputs)
    node = _registered(inputs, api, deadline)
    vm = _vm(inputs, node)
    if inputs.mode == "enforce":
        owned: list[str] = list(owned_before)

        def make(current: NodeFacts | None) -> Patch:
            if current is None:
                raise NodeNotRegisteredError(f"node {inputs.node_name!r} disappeared while being bound")
            outcome = plan("enforce", current, vm, owned_before)
            owned[:] = outcome.owned_labels
            return outcome.patch

        before, patch = _write(api, inputs.node_name, make)
        assert before is not None
        after = before if patch.empty else applied(before, patch)
        return observed(after, vm, inputs.mode, owned)

    def attempt() -> tuple[bool, tuple[NodeFacts | None, tuple[str, ...]], str]:
        current = _get(api, inputs.node_name)
        if current is None:
            return False, (None, ()), "it is no longer registered"
        outcome = plan("verify", current, vm, owned_before)
        if outcome.status == "mismatch":
            raise BindingError(
                f"node {inputs.node_name!r} does not match its VM {vm.name!r}: " + "; ".join(outcome.problems)
            )
        return outcome.status == "bound", (current, outcome.owned_labels), "; ".join(outcome.problems)

    try:
        result = wait_until(
            f"node {inputs.node_name!r} to be initialized by the CPI",
            attempt,
            timeout=max(deadline - _Clock.now(), 0.0),
            poll=inputs.poll_seconds,
            clock=_Clock.now,
            sleep=_Clock.sleep,
        )
    except TimeoutError as error:
        raise BindingError(str(error)) from None
    current, owned_now = result.value
    return observed(current, vm, inputs.mode, owned_now)


def _outs(props: dict[str, Any], observed_outs: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in props.items() if k not in OUTPUT_KEYS}, **observed_outs}


class NodeBindingProvider(ResourceProvider):
    """Bind a Kubernetes node to its vSphere VM: providerID and topology labels, drift shown and repaired."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        try:
            parse_inputs(news)
        except ValidationError as error:
            failures = [CheckFailure(".".join(str(p) for p in e["loc"]) or "props", e["msg"]) for e in error.errors()]
            return CheckResult(news, failures)
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = diff(olds, news)
        return DiffResult(
            changes=bool(result.changes), replaces=list(result.replaces), stables=[], delete_before_replace=True
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = parse_inputs(props)
        return CreateResult(inputs.node_name, _outs(props, _bind(inputs, [])))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        previous = parse_state(olds)
        inputs = parse_inputs(news)
        owned = previous.owned_labels if previous.node_name == inputs.node_name else []
        return UpdateResult(_outs(news, _bind(inputs, owned)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Observe once (no waiting): the node's labels and providerID against where its VM is now."""
        state = parse_state(props)
        node = _get(_api(state), state.node_name)
        vm: VmFacts | None = None
        outs: dict[str, Any]
        if node is not None:
            try:
                vm = _vm(state, node)
            except BindingError as error:
                outs = observed(node, None, state.mode, state.owned_labels)
                outs["drift"] = [f"VM not found: {error}"]
                return ReadResult(id_, _outs(props, {**_kept(state), **outs, **_kept_vm(state)}))
        outs = observed(node, vm, state.mode, state.owned_labels)
        if vm is None:
            outs.update(_kept_vm(state))
        return ReadResult(id_, _outs(props, outs))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Remove only the labels this resource wrote, where they still hold its value; never providerID."""
        state = parse_state(props)
        if not state.owned_labels:
            return
        _write(_api(state), state.node_name, lambda node: plan_delete(state, node))


def _kept(state: State) -> dict[str, Any]:
    return {"owned_labels": list(state.owned_labels)}


def _kept_vm(state: State) -> dict[str, Any]:
    """What the last successful observation said of the VM (when it cannot be looked up now)."""
    keys = ("vm", "vm_moid", "bios_uuid", "provider_id", "zone", "region", "zone_source", "region_source")
    return {k: getattr(state, k) for k in keys}
