"""The API server side of a retirement: read, cordon and delete the Node, list and evict its pods."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .plan import PodView, RetirementError, pod_view


class Kube:
    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config

        try:
            api_client = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))  # type: ignore[no-untyped-call]
        except Exception as exc:  # the loader raises many types; none may echo the secret
            raise RetirementError(f"the kubeconfig cannot be loaded ({type(exc).__name__})") from None
        self.core = client.CoreV1Api(api_client)
        self.calls = 0

    def node(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        self.calls += 1
        try:
            raw: Any = self.core.read_node(name, _preload_content=False)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        data: dict[str, Any] = json.loads(raw.data)
        return data

    def cordon(self, name: str) -> None:
        self.calls += 1
        self.core.patch_node(name, {"spec": {"unschedulable": True}})

    def pods_on(self, name: str) -> list[PodView]:
        self.calls += 1
        raw: Any = self.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}", _preload_content=False)
        return [pod_view(p) for p in json.loads(raw.data).get("items") or []]

    def evict(self, pod: PodView) -> tuple[int, str]:
        """POST the pod's eviction subresource (policy/v1): the API server checks its PDBs."""
        from kubernetes.client.exceptions import ApiException

        self.calls += 1
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod.name, "namespace": pod.namespace},
        }
        try:
            self.core.create_namespaced_pod_eviction(pod.name, pod.namespace, body)  # type: ignore[arg-type]
        except ApiException as e:
            return int(e.status or 0), str(e.body or "")
        return 201, ""

    def delete_node(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        self.calls += 1
        try:
            self.core.delete_node(name)
        except ApiException as e:
            if e.status != 404:
                raise
