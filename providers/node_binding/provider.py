"""NodeBinding's dynamic provider: observe the node and its VM, plan, patch.

The provider object holds nothing (Pulumi pickles it with dill into state):
credentials and the kubeconfig arrive as secret props, and the vCenter
session, the inventory snapshot and the Kubernetes client are looked up per
call from per-process caches.
"""

from __future__ import annotations

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
    KEYS,
    BindingError,
    Inputs,
    NodeView,
    PendingError,
    State,
    desired,
    diff,
    drift,
    parse_inputs,
    parse_state,
    plan,
    removal_patch,
    select_vm,
)

POLL_SECONDS = 1.0
# A write refused with 409 re-reads and re-plans; a node that keeps changing is given up on, bounded.
MAX_CONFLICTS = 8
CONFLICT_PAUSE = 0.05


def _vcenter(inputs: Inputs) -> Any:
    from providers.vcenter.connection import connection_for

    return connection_for(inputs.endpoint())


def _nodes(inputs: Inputs) -> Any:
    from .kube import nodes_for

    return nodes_for(inputs.kubeconfig.get_secret_value())


def _observe(inputs: Inputs, node: NodeView, seen_at: float) -> tuple[Any, Any, Any]:
    """(vm, placement, desired) for the node, from the shared snapshot (refreshed once if the VM is missing)."""
    from . import vcenter

    conn = _vcenter(inputs)
    snap = vcenter.snapshot(conn, inputs.zone_category, inputs.region_category)
    try:
        vm = select_vm(inputs, node, snap.vms_by_uuid(inputs.datacenters))
    except BindingError:
        if snap.taken_at > seen_at:
            raise
        # The VM may be newer than the shared snapshot: read once more before failing.
        snap = vcenter.snapshot(conn, inputs.zone_category, inputs.region_category, newer_than=seen_at)
        vm = select_vm(inputs, node, snap.vms_by_uuid(inputs.datacenters))
    placement = snap.placement(vm.moid, f"node {inputs.node_name} (VM {vm.name})")
    return vm, placement, desired(vm, placement)


def _outs(
    props: dict[str, Any], node: NodeView, seen: tuple[Any, Any], owned: dict[str, str], found: list[str]
) -> dict[str, Any]:
    vm, placement = seen
    from .plan import TOPOLOGY_LABELS

    return {
        **KEYS.inputs_of(props),
        "bound_vm": vm.moid,
        "bound_vm_name": vm.name,
        "provider_id": node.provider_id or None,
        "zone": placement.zone,
        "region": placement.region,
        "labels": {k: v for k, v in node.labels.items() if k in TOPOLOGY_LABELS},
        "owned_labels": owned,
        "drift": found,
    }


def reconcile(
    props: dict[str, Any], owned: dict[str, str] | None = None, *, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Bind the node: wait (bounded) for it and, in verify mode, for the CPI; write what enforce mode owns."""
    inputs = parse_inputs(props)
    kube = _nodes(inputs)
    deadline = time.monotonic() + inputs.timeout_seconds
    owned = dict(owned or {})
    conflicts = 0
    first = True
    while True:
        seen_at = time.monotonic()
        # The first look comes from the run's shared node list; a retry or a wait needs the node as it is now.
        node = kube.listed(inputs.node_name) if first else kube.get(inputs.node_name)
        first = False
        waiting: tuple[str, ...]
        if not node.exists:
            waiting = (f"node {inputs.node_name} has not registered with the API server",)
        else:
            vm, placement, want = _observe(inputs, node, seen_at)
            step = plan(inputs, node, want, placement, owned)
            if step.problems:
                raise BindingError("; ".join(step.problems))
            owned = step.owned_labels
            if step.patch is not None:
                from .kube import ConflictError

                try:
                    node = kube.patch(inputs.node_name, step.patch)
                except ConflictError as conflict:
                    # Someone (the CPI) wrote first: read again and re-plan, within the same deadline.
                    conflicts += 1
                    if time.monotonic() >= deadline or conflicts >= MAX_CONFLICTS:
                        raise BindingError(
                            f"node {inputs.node_name}: gave up after {conflicts} conflicting writes "
                            f"(409, the node keeps changing under us): {conflict}"
                        ) from None
                    sleep(min(CONFLICT_PAUSE * conflicts, max(deadline - time.monotonic(), 0.0)))
                    continue
            if not step.pending:
                return _outs(props, node, (vm, placement), owned, [])
            waiting = step.pending
        if time.monotonic() >= deadline:
            raise PendingError(f"timed out after {inputs.timeout_seconds}s: " + "; ".join(waiting))
        sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))


class NodeBindingProvider(ResourceProvider):
    """Bind a Kubernetes node to its VM: providerID and topology labels, verified or enforced."""

    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load("providers.node_binding.kube", "providers.node_binding.vcenter")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return check_props(news, parse_inputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff(olds, news).result()

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = parse_inputs(props)
        outs = reconcile(props)
        return CreateResult(f"{inputs.server}/{inputs.node_name}", outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = parse_state(props)
        node = _nodes(state).listed(state.node_name)
        if not node.exists:
            return ReadResult(id_, {**props, "drift": [f"node {state.node_name} is gone from the API server"]})
        try:
            vm, placement, want = _observe(state, node, time.monotonic())
        except BindingError as gone:
            # Refresh reports what it finds, never fails on it: a VM deleted or moved out of every
            # zone out of band shows as drift, and the next `up` replaces or repairs the binding.
            return ReadResult(id_, {**props, "drift": [str(gone)]})
        found = drift(node, want, placement, state)
        owned = {k: v for k, v in state.owned_labels.items() if node.labels.get(k) == v}
        outs = _outs(props, node, (vm, placement), owned, found)
        # Keep the zone we bound to: a VM moved since shows as drift until update.
        if state.zone and state.zone != placement.zone:
            outs["zone"], outs["region"] = state.zone, state.region
        return ReadResult(id_, outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        previous: State = parse_state(olds)
        return UpdateResult(reconcile(news, previous.owned_labels))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        state = parse_state(props)
        if not state.owned_labels:
            return
        from .kube import ConflictError

        kube = _nodes(state)
        for attempt in range(1, MAX_CONFLICTS + 1):
            node = kube.get(state.node_name)
            patch = removal_patch(node, state.owned_labels) if node.exists else None
            if patch is None:
                return
            try:
                kube.patch(state.node_name, patch)
                return
            except ConflictError:
                # Edited since our read: read again, so a label someone re-set by hand is left alone.
                if attempt == MAX_CONFLICTS:
                    raise
                time.sleep(CONFLICT_PAUSE * attempt)
