"""Turn raw stack configuration into a :class:`StackConfig`, or every problem at once."""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .config import StackConfig
from .config_rules import check, check_partial
from .errors import ConfigError, ConfigIssue

# The stack's top-level config keys (`<project>:<key>`), as the model names them.
TOP_LEVEL_KEYS = tuple(field.alias or name for name, field in StackConfig.model_fields.items())
SECRET_KEYS = ("credentials",)
# Keys inside an otherwise plain section that carry a credential; setting one with
# `--secret --path` makes Pulumi treat the whole section as secret.
NESTED_SECRETS: dict[str, tuple[str, ...]] = {"kubernetes": ("kubeconfig", "clusterCa")}


def secret_keys(raw: Mapping[str, Any]) -> set[str]:
    """The top-level keys that must be (and, set as documented, are) secret in this configuration."""
    keys = set(SECRET_KEYS) & set(raw)
    for key, leaves in NESTED_SECRETS.items():
        section = raw.get(key)
        if isinstance(section, Mapping) and any(leaf in section for leaf in leaves):
            keys.add(key)
    return keys


_PLAIN = re.compile(r"^[A-Za-z0-9_.:/-]+$")


def _segment(raw: Any, key: str | int) -> tuple[str, Any]:
    """One path segment; list items are named by their `name` when they have one."""
    if isinstance(key, int):
        item = raw[key] if isinstance(raw, list) and key < len(raw) else None
        label = item.get("name") if isinstance(item, Mapping) else None
        return (f"[{label}]" if isinstance(label, str) and _PLAIN.match(label) else f"[{key}]"), item
    child = raw.get(key) if isinstance(raw, Mapping) else None
    # A key a user could not have meant (spaces, newlines) is quoted so the path stays one line.
    return (f".{key}" if _PLAIN.match(str(key)) else f"[{json.dumps(str(key))}]"), child


def key_path(raw: Any, loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    node = raw
    for key in loc:
        text, node = _segment(node, key)
        parts.append(text)
    return "".join(parts).lstrip(".") or "(top level)"


def _message(err: Mapping[str, Any]) -> str:
    kind, msg = err["type"], str(err["msg"])
    if kind == "missing":
        return "required but not set"
    if kind == "extra_forbidden":
        return "unknown key (check its spelling and nesting)"
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        shown = err.get("input")
        if isinstance(shown, (str, int, float, bool)):
            msg = f"{msg}, got {shown!r}"
    return msg


def _issues_from(exc: ValidationError, raw: Mapping[str, Any]) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = key_path(raw, loc)
        message = _message(err)
        # Never echo a credential back: secrets' inputs are dropped from messages.
        if loc and loc[0] == "credentials":
            message = message.split(", got ")[0]
        issues.append(ConfigIssue(path, message))
    return issues


def _resolve_files(raw: dict[str, Any], read_file: Callable[[str], str], issues: list[ConfigIssue]) -> None:
    """Read `tls.caCertFile` into `tls.caCert`, so the model holds the PEM itself."""
    vcenters = raw.get("vcenters")
    if not isinstance(vcenters, list):
        return  # the model reports the wrong type
    for i, vc in enumerate(vcenters):
        tls = vc.get("tls") if isinstance(vc, dict) else None
        if isinstance(tls, dict) and isinstance(tls.get("caCertFile"), str):
            name = vc.get("name", i)
            try:
                tls["caCert"] = read_file(tls.pop("caCertFile"))
            except OSError as exc:
                issues.append(ConfigIssue(f"vcenters[{name}].tls.caCertFile", f"cannot be read: {exc.strerror}"))


def _section(path: str) -> str:
    """The top-level key a key path starts with: `topology.zones[a].datastore` -> `topology`."""
    return path.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]


def _partial_model(data: Mapping[str, Any]) -> StackConfig:
    """A StackConfig of only the top-level sections that validate on their own."""
    fields: dict[str, Any] = {}
    for name, field in StackConfig.model_fields.items():
        key = field.alias or name
        if key in data and field.annotation is not None:
            try:
                fields[name] = TypeAdapter(field.annotation).validate_python(data[key])
            except ValidationError:
                continue
        elif not field.is_required():
            fields[name] = field.get_default(call_default_factory=True)
    return StackConfig.model_construct(**fields)


def load(
    raw: Mapping[str, Any],
    *,
    stack: str | None = None,
    read_file: Callable[[str], str] = lambda p: Path(p).read_text(),
) -> StackConfig:
    """Validate ``raw`` (top-level keys as in the stack file) into a StackConfig.

    Raises :class:`ConfigError` listing every problem with its key path.
    """
    data = copy.deepcopy(dict(raw))
    issues: list[ConfigIssue] = []
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    for key in unknown:
        near = difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1, cutoff=0.6) or [
            k for k in TOP_LEVEL_KEYS if k.lower() == key.lower()
        ]
        hint = f"did you mean {near[0]}? " if near else ""
        issues.append(ConfigIssue(key, f"unknown key; {hint}expected one of {', '.join(TOP_LEVEL_KEYS)}"))
        del data[key]
    _resolve_files(data, read_file, issues)
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        structural = _issues_from(exc, data)
        broken = {_section(i.path) for i in structural}
        partial = [i for i in check_partial(_partial_model(data)) if _section(i.path) not in broken]
        raise ConfigError(issues + structural + partial, stack) from None
    issues += check(cfg)
    if issues:
        raise ConfigError(issues, stack)
    return cfg
