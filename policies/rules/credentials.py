"""Credentials: only in Kubernetes Secrets and Pulumi secrets, found by key name or by content."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import facts
from ..facts import CONFIG_MAP, WORKLOADS
from ..view import ResourceView

_CREDENTIAL_KEY = re.compile(
    r"(^|[._-])(password|passwd|passphrase|token|secret|private[._-]?key|client[._-]key[._-]data|"
    r"access[._-]?key|secret[._-]?key)$",
    re.IGNORECASE,
)
_CREDENTIAL_TEXT = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"^\s*password\s*[=:]\s*\S", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^\s*(client-key-data|token)\s*:\s*\S", re.MULTILINE),
    re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b"),  # kubeadm bootstrap token
)


def _camel_words(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key)


def credential_paths(value: Any, path: str = "") -> list[str]:
    """Paths under ``value`` that hold a credential, by key name or by content."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, inner in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(inner, str) and inner and _CREDENTIAL_KEY.search(_camel_words(str(key))):
                found.append(sub)
            else:
                found.extend(credential_paths(inner, sub))
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            found.extend(credential_paths(inner, f"{path}[{i}]"))
    elif isinstance(value, str) and any(p.search(value) for p in _CREDENTIAL_TEXT):
        found.append(path)
    return found


_NOT_CREDENTIALS = frozenset({"__provider"})  # the dynamic provider's pickle, secret by the SDK


def credentials_in_secrets(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """Credentials live in Kubernetes Secrets and Pulumi secrets only."""
    problems = []
    if resource.type == CONFIG_MAP:
        for key, value in facts.config_entries(resource).items():
            if _CREDENTIAL_KEY.search(key) or (isinstance(value, str) and credential_paths(value)):
                problems.append(f"ConfigMap entry {key!r} holds a credential; move it into a Secret")
    if resource.type in WORKLOADS:
        for container in facts.containers(resource):
            for env in container.get("env") or []:
                if isinstance(env, Mapping) and "value" in env and _CREDENTIAL_KEY.search(str(env.get("name", ""))):
                    problems.append(
                        f"container {container.get('name')!r} sets {env.get('name')} as a literal; "
                        "use valueFrom.secretKeyRef"
                    )
    if resource.secret_props is not None:  # the source told us which props are Pulumi secrets
        for key, value in resource.props.items():
            if key in resource.secret_props or key in _NOT_CREDENTIALS:
                continue
            paths = [key] if _CREDENTIAL_KEY.search(_camel_words(key)) and isinstance(value, str) and value else []
            paths = paths or credential_paths(value, key)
            what = "output" if not resource.custom else "input"
            problems.extend(
                f"{what} {p} holds a credential in plaintext; wrap it in pulumi.Output.secret" for p in paths
            )
    return problems
