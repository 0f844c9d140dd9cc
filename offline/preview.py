"""Turn an offline run's recording into what a reviewer reads: a resource tree and rendered files.

Pure with respect to Pulumi: it only reads a :class:`Recording`. Writing files is the
one side effect, kept in :func:`write_files`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vsphere_k8s.facts import VM_TYPE

from .recording import Recording, Registration

STACK_TYPE = "pulumi:pulumi:Stack"
SECRET_MARK = "[secret]"  # noqa: S105 - a mask, not a password


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the output folder
    content: str


def _short(type_token: str) -> str:
    """`vsphere:index/virtualMachine:VirtualMachine` -> `vsphere:VirtualMachine`."""
    if type_token.startswith("pulumi:providers:"):
        return f"provider:{type_token.rsplit(':', 1)[1]}"
    package, _, rest = type_token.partition(":")
    return f"{package}:{rest.rpartition(':')[2]}" if rest else type_token


def tree_lines(recording: Recording) -> list[str]:
    """The resource tree, parents before children, siblings in registration order."""
    regs = list(recording.registrations.values())
    known = {r.urn for r in regs}
    children: dict[str, list[Registration]] = {}
    for reg in regs:
        parent = reg.parent if reg.parent in known else ""
        children.setdefault(parent, []).append(reg)

    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for reg in children.get(parent, []):
            marker = "" if reg.custom else " (component)"
            lines.append(f"{'  ' * depth}{_short(reg.type)}  {reg.name}{marker}")
            walk(reg.urn, depth + 1)

    walk("", 0)
    return lines


def type_counts(recording: Recording) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reg in recording.registrations.values():
        counts[reg.type] = counts.get(reg.type, 0) + 1
    return dict(sorted(counts.items()))


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    return _SAFE.sub("_", name).strip("_") or "_"


def _decode_guestinfo(extra: Mapping[str, Any], key: str) -> str | None:
    value = extra.get(f"guestinfo.{key}")
    if not isinstance(value, str):
        return None
    encoding = extra.get(f"guestinfo.{key}.encoding")
    if encoding in ("base64", "b64"):
        try:
            return base64.b64decode(value).decode()
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


def _decoded(value: Any) -> str | None:
    try:
        return base64.b64decode(str(value)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _manifest(reg: Registration) -> dict[str, Any] | None:
    """The Kubernetes object a pulumi-kubernetes registration stands for."""
    if not reg.type.startswith("kubernetes:") or not reg.custom or reg.type.startswith("pulumi:providers"):
        return None
    group_version, _, kind = reg.type.removeprefix("kubernetes:").partition(":")
    group, _, version = group_version.partition("/")
    api_version = version if group == "core" else f"{group}/{version}"
    if kind.endswith("List") or kind in ("ConfigFile", "ConfigGroup", "Chart"):
        return None
    body = {k: v for k, v in reg.inputs.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": api_version, "kind": kind, **body}


def rendered_files(recording: Recording) -> Iterator[RenderedFile]:
    """Every rendered config and manifest the program registered."""
    for reg in recording.registrations.values():
        if reg.type == VM_TYPE:
            extra = reg.inputs.get("extraConfig") or {}
            vm = _safe(str(reg.inputs.get("name") or reg.name))
            for key, filename in (("userdata", "user-data"), ("metadata", "meta-data"), ("vendordata", "vendor-data")):
                text = _decode_guestinfo(extra, key)
                if text is not None:
                    yield RenderedFile(f"cloud-init/{vm}/{filename}", text)
            continue
        manifest = _manifest(reg)
        if manifest is None:
            continue
        meta = manifest.get("metadata") or {}
        ns = _safe(str(meta.get("namespace") or "_cluster"))
        name = _safe(str(meta.get("name") or reg.name))
        yield RenderedFile(
            f"manifests/{ns}/{manifest['kind'].lower()}-{name}.yaml",
            yaml.safe_dump(integral(manifest), sort_keys=False, width=120),
        )
        # The config files inside Secrets and ConfigMaps, as the pods will see them.
        for field in ("stringData", "data"):
            for key, value in (manifest.get(field) or {}).items():
                text = _decoded(value) if field == "data" and manifest["kind"] == "Secret" else value
                if isinstance(text, str):
                    yield RenderedFile(f"config/{ns}/{name}/{_safe(key)}", text)


def integral(value: Any) -> Any:
    """Whole numbers as ints: the engine's wire format (protobuf Struct) carries every number as a
    double, so the recording holds ``1.0`` where the program sent ``1``; rendered files show ``1``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def resources_json(recording: Recording) -> str:
    """A machine-readable list of registrations; secret inputs are masked."""
    items = []
    for reg in recording.registrations.values():
        inputs = {k: (SECRET_MARK if k in reg.secret_inputs else integral(v)) for k, v in reg.inputs.items()}
        items.append(
            {
                "type": reg.type,
                "name": reg.name,
                "urn": reg.urn,
                "parent": reg.parent,
                "custom": reg.custom,
                "provider": reg.provider,
                "dependencies": reg.dependencies,
                "secretInputs": sorted(reg.secret_inputs),
                "inputs": inputs,
            }
        )
    return json.dumps(items, indent=2, sort_keys=False, default=str)


def write_files(out: Path, files: list[RenderedFile]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for item in files:
        target = out / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.content)
