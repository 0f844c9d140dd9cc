"""Read a `stacks/Pulumi.<stack>.yaml` file without the Pulumi CLI.

Used by the offline preview and the tests. Encrypted (`secure:`) values cannot
be decrypted here; they are reported so the caller can substitute placeholders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT = "vsphere-k8s"


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def read_stack_file(path: Path, project: str = PROJECT) -> tuple[dict[str, Any], set[str]]:
    """(top-level keys of this project without the namespace, keys holding encrypted values)."""
    doc = yaml.safe_load(path.read_text()) or {}
    raw: dict[str, Any] = {}
    encrypted: set[str] = set()
    for full_key, given in (doc.get("config") or {}).items():
        namespace, _, key = str(full_key).partition(":")
        if namespace != project or not key:
            continue
        # the long form `key: {value: ...}`
        value = given["value"] if isinstance(given, dict) and set(given) == {"value"} else given
        if _has_secure(value):
            encrypted.add(key)
        raw[key] = value
    return raw, encrypted
