"""A Kubernetes API for live tests: kmock's KubernetesEmulator on a loopback port, in its own thread.

The provider under test is synchronous (the kubernetes client), so the emulator runs
its event loop in a background thread; helpers here seed and read Node objects on that
loop. The emulator merges JSON naively: the rules of a real API server the binding
relies on are programmed as kmock reactions by :meth:`Emulator.enforce_node_rules`,
each named after the rule it stands for.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import kmock

T = TypeVar("T")
NODES = kmock.resource("", "v1", "nodes")


Labels = dict[str, str] | None
UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"


def node_object(name: str, system_uuid: str, provider_id: str = "", labels: Labels = None) -> dict[str, Any]:
    """A Node as a kubelet registers it (with the uninitialized taint of an external cloud provider)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "resourceVersion": "1",
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})},
        },
        "spec": {
            **({"providerID": provider_id} if provider_id else {}),
            "taints": [{"key": UNINITIALIZED, "value": "true", "effect": "NoSchedule"}],
        },
        "status": {"nodeInfo": {"systemUUID": system_uuid.upper(), "kubeletVersion": "v1.31.4"}},
    }


class RuleViolation(kmock.KubernetesError):  # type: ignore[misc]
    pass


class Emulator:
    """One KubernetesEmulator served on 127.0.0.1:<free port> from a background event loop."""

    def __init__(self) -> None:
        self.handler = kmock.KubernetesEmulator()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kmock", daemon=True)
        self._server: kmock.Server | None = None
        self._faults: dict[str, list[int | None]] = {"get": [], "patch": []}
        self._after_get: list[Callable[[], None] | None] = []
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> Emulator:
        self._thread.start()

        async def enter() -> str:
            await self.handler.__aenter__()
            self._server = kmock.Server(self.handler)
            await self._server.__aenter__()
            return str(self._server.url).rstrip("/")

        self.url = self.run(enter())
        self.handler.resources["v1/nodes"] = kmock.ResourceInfo(kind="Node", namespaced=False)
        return self

    def stop(self) -> None:
        async def leave() -> None:
            if self._server is not None:
                await self._server.__aexit__(None, None, None)
            await self.handler.__aexit__(None, None, None)

        try:
            self.run(leave())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=30)

    def on_loop(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self.run(call())

    def kubeconfig(self, token: str = "emulator-token") -> str:
        return (
            "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
            f"clusters:\n- name: emulator\n  cluster:\n    server: {self.url}\n"
            "contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: tester\n"
            f"users:\n- name: tester\n  user:\n    token: {token}\n"
        )

    # --- nodes ----------------------------------------------------------------------------
    def add_node(self, name: str, system_uuid: str, provider_id: str = "", labels: Labels = None) -> None:
        obj = node_object(name, system_uuid, provider_id, labels)
        self.on_loop(lambda: self.handler.objects.__setitem__((NODES, None, name), obj))

    def node(self, name: str) -> dict[str, Any]:
        return self.on_loop(lambda: copy.deepcopy(self.handler.objects[NODES, None, name].raw))

    def patch_node(self, name: str, changes: dict[str, Any]) -> None:
        """A write by someone else (a person, the CPI): bumps resourceVersion as the API server does."""

        def change() -> None:
            obj = self.handler.objects[NODES, None, name]
            obj.patch(changes)
            _bump(obj)

        self.on_loop(change)

    def labels(self, name: str) -> dict[str, str]:
        return dict(self.node(name)["metadata"].get("labels") or {})

    def count(self, method: str) -> int:
        """Requests of ``method`` on nodes served so far."""
        return self.on_loop(lambda: len(self.handler[method.lower(), NODES]))

    # --- rules of a real API server, as reactions -------------------------------------------
    def enforce_node_rules(self) -> None:
        """Program what a real API server does on node requests and the emulator lacks.

        - "Node.spec.providerID is immutable once set" (ValidateNodeUpdate): a change of a
          non-empty providerID answers 422 Unprocessable Entity and stores nothing.
        - "Optimistic concurrency": a patch carrying metadata.resourceVersion that is not
          the stored one answers 409 Conflict and stores nothing; every accepted write
          increments resourceVersion.
        - A failed request stores nothing (the emulator merges before reactions run: undone here).

        One reaction per verb serves every node request, so that injected faults
        (:meth:`fail_next`) and concurrent writers (:meth:`after_get`) apply in order.
        """

        def get(request: Any) -> Any:
            status = self._faults["get"].pop(0) if self._faults["get"] else None
            if status is not None:
                raise RuleViolation(status=status, reason="Injected", message=f"injected HTTP {status}")
            key = (NODES, None, request.name)
            if key not in self.handler.objects or self.handler.objects[key].deleted:
                raise kmock.KubernetesObjectNotFoundError()
            raw = copy.deepcopy(self.handler.objects[key].raw)
            then = self._after_get.pop(0) if self._after_get else None
            if then is not None:
                then()  # someone else writes right after this read
            return raw

        def patch(request: Any) -> Any:
            obj = self.handler.objects[NODES, None, request.name]
            history = obj.history
            before = copy.deepcopy(history[-2].raw) if len(history) > 1 and history[-2] is not None else {}
            status = self._faults["patch"].pop(0) if self._faults["patch"] else None
            if status is not None:
                history.append(before)
                raise RuleViolation(status=status, reason="Injected", message=f"injected HTTP {status}")
            sent = request.data or {}
            old_pid = (before.get("spec") or {}).get("providerID") or ""
            new_pid = (sent.get("spec") or {}).get("providerID")
            sent_rv = (sent.get("metadata") or {}).get("resourceVersion")
            stored_rv = (before.get("metadata") or {}).get("resourceVersion")
            if sent_rv is not None and sent_rv != stored_rv:
                history.append(before)
                raise RuleViolation(
                    status=409,
                    reason="Conflict",
                    message=f'Operation cannot be fulfilled on nodes "{request.name}": the object has been modified; '
                    "please apply your changes to the latest version and try again",
                )
            if new_pid is not None and old_pid and new_pid != old_pid:
                history.append(before)
                raise RuleViolation(
                    status=422,
                    reason="Invalid",
                    message=f'Node "{request.name}" is invalid: spec.providerID: Forbidden: node updates may not '
                    'change providerID except from "" to valid',
                )
            _bump(obj)
            return obj.raw

        self.handler["get", NODES] << get
        self.handler["patch", NODES] << patch

    def fail_next(self, method: str, statuses: list[int | None]) -> None:
        """The next node requests of ``method`` answer these statuses (None: answered normally), storing nothing."""
        self.on_loop(lambda: self._faults[method.lower()].extend(statuses))

    def after_get(self, write: Callable[[], None], *, skip: int = 0) -> None:
        """Run ``write`` (on the emulator's loop) right after a node read: the next one after ``skip`` reads."""
        self.on_loop(lambda: self._after_get.extend([None] * skip + [write]))

    def write_now(self, name: str, changes: dict[str, Any]) -> None:
        """Like :meth:`patch_node`, but for use from the emulator's own loop (inside a reaction)."""
        obj = self.handler.objects[NODES, None, name]
        obj.patch(changes)
        _bump(obj)


def _bump(obj: Any) -> None:
    meta = obj.last.raw.setdefault("metadata", {})
    meta["resourceVersion"] = str(int(meta.get("resourceVersion") or 0) + 1)


class RealCluster:
    """A real API server (KUBECONFIG_LIVE): test nodes are Node objects created and deleted by the test."""

    def __init__(self, kubeconfig: str) -> None:
        import yaml
        from kubernetes import client, config

        self._kubeconfig = kubeconfig
        self.api: Any = client.CoreV1Api(config.new_client_from_config_dict(yaml.safe_load(kubeconfig)))
        self.created: list[str] = []

    def kubeconfig(self) -> str:
        return self._kubeconfig

    def add_node(self, name: str, system_uuid: str, provider_id: str = "", labels: Labels = None) -> None:
        body = node_object(name, system_uuid, provider_id, labels)
        del body["metadata"]["resourceVersion"]
        status = body.pop("status")
        self.api.create_node(body)
        self.created.append(name)
        self.api.patch_node_status(name, {"status": status})

    def node(self, name: str) -> dict[str, Any]:
        import json

        response: Any = self.api.read_node(name, _preload_content=False)
        return dict(json.loads(response.data))

    def labels(self, name: str) -> dict[str, str]:
        return dict(self.node(name)["metadata"].get("labels") or {})

    def patch_node(self, name: str, changes: dict[str, Any]) -> None:
        self.api.patch_node(name, changes, _content_type="application/merge-patch+json")

    def cleanup(self) -> None:
        for name in self.created:
            self.api.delete_node(name)
        self.created.clear()


def real_cluster_from_env() -> RealCluster | None:
    """A real cluster when KUBECONFIG_LIVE names a kubeconfig file."""
    import os
    from pathlib import Path

    path = os.environ.get("KUBECONFIG_LIVE")
    return RealCluster(Path(path).read_text()) if path else None
