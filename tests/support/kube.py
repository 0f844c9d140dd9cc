"""kmock's KubernetesEmulator on a loopback port, for the synchronous kubernetes client.

The emulator is asynchronous (aiohttp); it runs in its own event loop on a
background thread. It merges JSON simply, so rules of the real API server are
added as named *guards*: a guard sees a request before the emulator stores it
and may answer with an error instead (the request then changes nothing).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import kmock
import requests
from aiohttp import web

T = TypeVar("T")
# (request) -> (status, message) to refuse it, or None to let it through.
Guard = Callable[[Any, dict[str, Any] | None], tuple[int, str] | None]


class GuardedEmulator(kmock.KubernetesEmulator):
    """The emulator plus guards that stand for API-server rules (each named in the error it returns)."""

    guards: dict[str, Guard]
    writes: list[tuple[str, str, dict[str, Any]]]  # (verb, name, body) of every accepted write
    refused: list[tuple[str, str, dict[str, Any]]]  # (rule, name, body) of every refused request

    async def _handle(self, request: Any) -> web.StreamResponse:
        for name, guard in list(self.guards.items()):
            refusal = guard(request, self._current(request))  # read again: an earlier guard may have raced
            if refusal is not None:
                status, message = refusal
                self.refused.append((name, str(request.name), dict(request.data or {})))
                body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status}
                body["message"] = f"{message} [rule: {name}]"
                return web.json_response(body, status=status)
        if _verb(request) in ("PATCH", "PUT", "POST", "DELETE") and request.name:
            self.writes.append((_verb(request), str(request.name), dict(request.data or {})))
        return await super()._handle(request)

    def _current(self, request: Any) -> dict[str, Any] | None:
        if request.resource is None or request.name is None:
            return None
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        return dict(self.objects[key].raw)


def _verb(request: Any) -> str:
    return str(getattr(request.method, "value", request.method)).upper()


def provider_id_immutable(request: Any, current: dict[str, Any] | None) -> tuple[int, str] | None:
    """API server rule: spec.providerID may change only from empty to a value (422 Invalid)."""
    if _verb(request) != "PATCH" or current is None:
        return None
    new = ((request.data or {}).get("spec") or {}).get("providerID")
    old = (current.get("spec") or {}).get("providerID")
    if new is not None and old and new != old:
        why = 'node updates may not change providerID except from "" to valid'
        return 422, f'Node "{request.name}" is invalid: spec.providerID: Forbidden: {why}'
    return None


def resource_version_precondition(request: Any, current: dict[str, Any] | None) -> tuple[int, str] | None:
    """API server rule: a write carrying metadata.resourceVersion must match the stored one (409 Conflict)."""
    if _verb(request) not in ("PATCH", "PUT") or current is None:
        return None
    sent = ((request.data or {}).get("metadata") or {}).get("resourceVersion")
    stored = (current.get("metadata") or {}).get("resourceVersion")
    if sent is not None and sent != stored:
        return 409, f'Operation cannot be fulfilled on nodes "{request.name}": the object has been modified'
    return None


@dataclass
class KubeEmulator:
    """One emulator on 127.0.0.1:<free port>, driven from synchronous tests."""

    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    # A subclass may serve the same API faster (the benchmarks index objects by name).
    emulator_class: type[GuardedEmulator] = field(default_factory=lambda: GuardedEmulator)
    emulator: GuardedEmulator | None = None
    server: kmock.Server | None = None
    _thread: threading.Thread | None = None
    _version: int = 0

    def start(self) -> KubeEmulator:
        self._thread = threading.Thread(target=self.loop.run_forever, name="kmock", daemon=True)
        self._thread.start()

        async def enter() -> tuple[GuardedEmulator, kmock.Server]:
            emulator = self.emulator_class()
            emulator.guards = {}
            emulator.writes = []
            emulator.refused = []
            await emulator.__aenter__()
            server = kmock.Server(emulator)
            await server.__aenter__()
            return emulator, server

        self.emulator, self.server = self._run(enter())
        return self

    def stop(self) -> None:
        async def leave() -> None:
            if self.server is not None:
                await self.server.__aexit__(None, None, None)
            if self.emulator is not None:
                await self.emulator.__aexit__(None, None, None)

        self._run(leave())
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.url).rstrip("/")

    @property
    def em(self) -> GuardedEmulator:
        assert self.emulator is not None
        return self.emulator

    def kubeconfig(self) -> str:
        """A kubeconfig for the emulator (plain HTTP on loopback, no credentials)."""
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emu", "cluster": {"server": self.url}}],
                "users": [{"name": "emu", "user": {}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "emu"}}],
                "current-context": "emu",
            }
        )

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def register_node(self, name: str, system_uuid: str, labels: dict[str, str] | None = None) -> None:
        """What a kubelet does at start: create its Node with its systemUUID (cloud-provider external)."""
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": dict(labels or {}), "resourceVersion": self._next_version()},
            "spec": {
                "taints": [
                    {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}
                ]
            },
            "status": {"nodeInfo": {"systemUUID": system_uuid}},
        }
        response = requests.post(f"{self.url}/api/v1/nodes", json=body, timeout=10)
        response.raise_for_status()

    def edit_node(self, name: str, patch: dict[str, Any]) -> None:
        """A change by someone else (an admin, the CPI): merge-patched with a new resourceVersion."""
        patch = {**patch, "metadata": {**(patch.get("metadata") or {}), "resourceVersion": self._next_version()}}
        guards, self.em.guards = self.em.guards, {}
        try:
            response = requests.patch(
                f"{self.url}/api/v1/nodes/{name}",
                json=patch,
                headers={"Content-Type": "application/merge-patch+json"},
                timeout=10,
            )
        finally:
            self.em.guards = guards
        response.raise_for_status()

    def node(self, name: str) -> dict[str, Any]:
        response = requests.get(f"{self.url}/api/v1/nodes/{name}", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def writes_to(self, name: str) -> list[dict[str, Any]]:
        return [body for method, node, body in self.em.writes if node == name and method == "PATCH"]


class RealCluster:
    """A real API server (KUBECONFIG_LIVE) behind the same methods the tests use on the emulator.

    Test nodes are Node objects the test creates (as a kubelet would) and deletes afterwards.
    """

    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config

        self._kubeconfig = kubeconfig
        self.api: Any = client.CoreV1Api(config.new_client_from_config_dict(yaml_load(kubeconfig)))
        self.created: list[str] = []

    def kubeconfig(self) -> str:
        return self._kubeconfig

    def register_node(self, name: str, system_uuid: str, labels: dict[str, str] | None = None) -> None:
        taint = {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": dict(labels or {})}}
        self.api.create_node({**body, "spec": {"taints": [taint]}})
        self.created.append(name)
        self.api.patch_node_status(name, {"status": {"nodeInfo": {"systemUUID": system_uuid}}})

    def edit_node(self, name: str, patch: dict[str, Any]) -> None:
        self.api.patch_node(name, patch, _content_type="application/merge-patch+json")

    def node(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.api.read_node(name, _preload_content=False).data))

    def cleanup(self) -> None:
        for name in self.created:
            self.api.delete_node(name)
        self.created.clear()


def yaml_load(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def real_cluster_from_env() -> RealCluster | None:
    """The cluster KUBECONFIG_LIVE names (a kubeconfig file), if set."""
    import os
    from pathlib import Path

    path = os.environ.get("KUBECONFIG_LIVE")
    return RealCluster(Path(path).read_text()) if path else None
