"""Small builders shared by the manifest modules: metadata, RBAC rules, secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Manifest = dict[str, Any]

PART_OF = {"app.kubernetes.io/part-of": "vsphere-k8s", "app.kubernetes.io/managed-by": "pulumi"}


def metadata(
    name: str,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**PART_OF, **(labels or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def rule(groups: Sequence[str], resources: Sequence[str], verbs: Sequence[str]) -> dict[str, list[str]]:
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


def service_account(name: str, namespace: str, labels: Mapping[str, str] | None = None) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(name, namespace, labels)}


def sa_subject(name: str, namespace: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def cluster_role_binding(name: str, role: str, subjects: Sequence[Mapping[str, str]]) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [dict(s) for s in subjects],
    }


def secret(
    name: str, namespace: str, string_data: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> Manifest:
    """A Secret manifest; its stringData is plaintext here and must become a Pulumi secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, labels),
        "type": "Opaque",
        "stringData": dict(string_data),
    }


def identity(manifest: Mapping[str, Any]) -> str:
    """kind/namespace/name: unique per cluster object, stable across runs."""
    meta = manifest["metadata"]
    ns = meta.get("namespace")
    return f"{manifest['kind']}/{ns}/{meta['name']}" if ns else f"{manifest['kind']}/{meta['name']}"
