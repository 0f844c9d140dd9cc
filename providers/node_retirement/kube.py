"""The API server side of a retirement: read, cordon and delete the Node, list and evict its pods."""

from __future__ import annotations

import json
from typing import Any

from providers.kube_raw import MERGE_PATCH, RawApi, load_api_client

from .plan import PodView, RetirementError, pod_view


class Kube:
    """Raw requests (providers.kube_raw): no ``CoreV1Api`` import with its validators to build."""

    def __init__(self, kubeconfig: str) -> None:
        self.api = RawApi(
            load_api_client(kubeconfig, lambda why: RetirementError(f"the kubeconfig cannot be loaded ({why})"))
        )
        self.calls = 0

    def node(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        self.calls += 1
        try:
            raw: Any = self.api.send("GET", "/api/v1/nodes/{name}", path_params={"name": name})
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        data: dict[str, Any] = json.loads(raw.data)
        return data

    def cordon(self, name: str) -> None:
        self.calls += 1
        patch = {"spec": {"unschedulable": True}}
        self.api.send("PATCH", "/api/v1/nodes/{name}", path_params={"name": name}, body=patch, content_type=MERGE_PATCH)

    def pods_on(self, name: str) -> list[PodView]:
        self.calls += 1
        raw: Any = self.api.send("GET", "/api/v1/pods", query=[("fieldSelector", f"spec.nodeName={name}")])
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
            path = "/api/v1/namespaces/{namespace}/pods/{name}/eviction"
            self.api.send("POST", path, path_params={"namespace": pod.namespace, "name": pod.name}, body=body)
        except ApiException as e:
            return int(e.status or 0), str(e.body or "")
        return 201, ""

    def delete_node(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        self.calls += 1
        try:
            self.api.send("DELETE", "/api/v1/nodes/{name}", path_params={"name": name})
        except ApiException as e:
            if e.status != 404:
                raise
