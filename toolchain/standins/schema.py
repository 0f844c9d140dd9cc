"""Declarative resource schemas and the generic Check/Diff rules of the stand-in plugins.

A stand-in is only as useful as its plan: the engine decides update or replace
from what Diff says, so each resource declares its fields the way the real
(Terraform-bridged) provider does: required, default, computed, ForceNew,
sensitive. The rules below then behave like the bridge over a Terraform SDKv2
schema: an unset optional field equals its zero value, a computed field left out
of the program keeps its state, a set compares without order, and a change to a
ForceNew field replaces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .wire import UNKNOWN, Secret, contains_unknown, reveal

Kind = Literal["str", "int", "float", "bool", "list", "set", "map", "object"]
_ZERO: Final[dict[str, Any]] = {"str": "", "int": 0, "float": 0.0, "bool": False}


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()


@dataclass(frozen=True)
class Field:
    """One property as the real provider's schema has it (names are the SDK's camelCase)."""

    kind: Kind
    required: bool = False
    default: Any = NO_DEFAULT
    computed: bool = False  # the provider fills it when the program does not (Optional+Computed)
    output: bool = False  # computed only: never an input
    force_new: bool = False  # a change replaces the resource
    secret: bool = False  # Sensitive in the real schema: always a secret output
    choices: tuple[str, ...] = ()
    elem: Mapping[str, Field] | None = None  # fields of each element (list/set of objects, object)
    elem_kind: Kind = "str"  # the element kind of a list/set/map of scalars


Schema = Mapping[str, Field]


@dataclass(frozen=True)
class Failure:
    property: str
    reason: str


@dataclass
class DiffResult:
    """What Diff answers: the changed paths with their kind, and which of them replace."""

    changes: dict[str, str] = field(default_factory=dict)  # path -> ADD/UPDATE/DELETE(_REPLACE)
    delete_before_replace: bool = False

    @property
    def replaces(self) -> list[str]:
        return sorted({p.split(".")[0].split("[")[0] for p, k in self.changes.items() if k.endswith("_REPLACE")})

    def add(self, path: str, kind: str, replace: bool) -> None:
        self.changes[path] = f"{kind}_REPLACE" if replace else kind


# --- Check -------------------------------------------------------------------------------------


def autoname(name: str, seed: bytes, max_len: int = 255) -> str:
    """``<resource name>-<7 hex>`` from the engine's random seed, as the bridge's autonaming makes it."""
    digest = hashlib.sha256(seed or name.encode()).hexdigest()[:7]
    return f"{name}-{digest}"[:max_len]


def _check_value(path: str, spec: Field, value: Any, failures: list[Failure]) -> Any:
    """Validate one known value and fill the defaults of nested objects."""
    if contains_unknown(value) and not isinstance(value, dict | list):
        return value
    plain = reveal(value)
    if spec.kind == "str" and not isinstance(plain, str):
        failures.append(Failure(path, f"expected a string, got {type(plain).__name__}"))
    elif spec.kind in ("int", "float") and (isinstance(plain, bool) or not isinstance(plain, int | float)):
        failures.append(Failure(path, f"expected a number, got {type(plain).__name__}"))
    elif spec.kind == "bool" and not isinstance(plain, bool):
        failures.append(Failure(path, f"expected a boolean, got {type(plain).__name__}"))
    elif spec.kind in ("list", "set") and not isinstance(plain, list):
        failures.append(Failure(path, f"expected a list, got {type(plain).__name__}"))
    elif spec.kind in ("map", "object") and not isinstance(plain, dict):
        failures.append(Failure(path, f"expected an object, got {type(plain).__name__}"))
    elif spec.choices and plain not in spec.choices:
        failures.append(Failure(path, f"expected {path} to be one of {list(spec.choices)}, got {plain}"))
    elif spec.elem is not None and spec.kind in ("list", "set") and isinstance(value, list):
        return [
            check_inputs(spec.elem, v, failures, f"{path}[{i}].") if isinstance(v, dict) else v
            for i, v in enumerate(value)
        ]
    elif spec.elem is not None and spec.kind == "object" and isinstance(value, dict):
        return check_inputs(spec.elem, value, failures, f"{path}.")
    return value


def check_inputs(schema: Schema, news: Mapping[str, Any], failures: list[Failure], prefix: str = "") -> dict[str, Any]:
    """Validated inputs with defaults filled in; unknowns pass through untouched."""
    checked: dict[str, Any] = {}
    for key, value in news.items():
        spec = schema.get(key)
        if spec is None or spec.output:
            # The real provider rejects unknown and computed-only arguments.
            if not key.startswith("__"):
                failures.append(Failure(f"{prefix}{key}", f"{prefix}{key} is not an argument of this resource"))
            continue
        if value is None:
            continue
        checked[key] = value if value is UNKNOWN else _check_value(f"{prefix}{key}", spec, value, failures)
    for key, spec in schema.items():
        if spec.output or key in checked:
            continue
        if spec.required:
            failures.append(Failure(f"{prefix}{key}", f"Missing required argument: {prefix}{key}"))
        elif spec.default is not NO_DEFAULT:
            checked[key] = spec.default
    return checked


# --- Diff --------------------------------------------------------------------------------------


def _zero(spec: Field) -> Any:
    if spec.kind in ("list", "set"):
        return []
    if spec.kind in ("map", "object"):
        return {}
    return _ZERO[spec.kind]


def _norm(spec: Field, value: Any) -> Any:
    """A comparable form: unset equals the zero value; sets sort; numbers compare as numbers."""
    value = reveal(value)
    if value is None:
        value = spec.default if spec.default is not NO_DEFAULT else _zero(spec)
    if spec.kind == "set" and isinstance(value, list):
        return sorted(repr(v) for v in value)
    return value


def diff_value(path: str, spec: Field, old: Any, new: Any, result: DiffResult, *, replace: bool) -> None:
    """Record the change at ``path`` (if any) between an old output and a new input."""
    replace = replace or spec.force_new
    if new is None:
        if spec.computed or _norm(spec, old) == _norm(spec, None):
            return
        result.add(path, "DELETE", replace)
        return
    if new is UNKNOWN:
        result.add(path, "UPDATE" if old is not None else "ADD", replace)
        return
    new_plain, old_plain = reveal(new), reveal(old)
    if spec.elem is not None and spec.kind == "list" and isinstance(new_plain, list):
        old_items = old_plain if isinstance(old_plain, list) else []
        if len(old_items) != len(new_plain) and not (spec.computed and not new_plain):
            result.add(path, "UPDATE" if old_items else "ADD", replace)
        for i, item in enumerate(new_plain):
            if i < len(old_items) and isinstance(item, dict) and isinstance(old_items[i], dict):
                diff_object(
                    f"{path}[{i}]",
                    spec.elem,
                    old_items[i],
                    new[i] if isinstance(new, list) else item,
                    result,
                    replace=replace,
                )
        return
    if spec.elem is not None and spec.kind == "object" and isinstance(new_plain, dict):
        diff_object(path, spec.elem, old_plain if isinstance(old_plain, dict) else {}, new, result, replace=replace)
        return
    if contains_unknown(new_plain):
        result.add(path, "UPDATE", replace)
        return
    if _norm(spec, old_plain) != _norm(spec, new_plain):
        result.add(path, "ADD" if old_plain in (None, "", [], {}) else "UPDATE", replace)


def diff_object(
    prefix: str,
    schema: Schema,
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    result: DiffResult,
    *,
    replace: bool = False,
) -> None:
    for key, spec in schema.items():
        if spec.output:
            continue
        path = f"{prefix}.{key}" if prefix else key
        diff_value(path, spec, olds.get(key), news.get(key), result, replace=replace)


def parse_path(path: str) -> list[str | int]:
    """A Pulumi property path (``a.b``, ``a["k.with.dots"]``, ``a[0]``, ``a[*]``) as its segments."""
    parts: list[str | int] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] == ".":
            i += 1
        elif path[i] == "[":
            end = path.index("]", i)
            if path[i + 1] == '"':
                end = path.index('"]', i + 2)
                parts.append(path[i + 2 : end].replace('\\"', '"'))
                i = end + 2
                continue
            inner = path[i + 1 : end]
            parts.append("*" if inner == "*" else int(inner))
            i = end + 1
        else:
            j = i
            while j < n and path[j] not in ".[":
                j += 1
            parts.append(path[i:j])
            i = j
    return parts


_MISSING: Final = object()


def _reset(old: Any, new: Any, path: list[str | int]) -> Any:
    """``new`` with the value at ``path`` taken from ``old`` (removed where ``old`` has none)."""
    if isinstance(new, Secret):
        return Secret(_reset(old, new.value, path))
    old = old.value if isinstance(old, Secret) else old
    key, rest = path[0], path[1:]
    if isinstance(new, dict) and isinstance(key, str):
        olds = old if isinstance(old, dict) else {}
        keys = list(new) if key == "*" else [key]
        out = dict(new)
        for k in keys:
            before = olds.get(k, _MISSING)
            if not rest:
                if before is _MISSING:
                    out.pop(k, None)
                else:
                    out[k] = before
            elif k in out:
                out[k] = _reset(None if before is _MISSING else before, out[k], rest)
        return out
    if isinstance(new, list) and (isinstance(key, int) or key == "*"):
        olds_list = old if isinstance(old, list) else []
        out_list = list(new)
        for i in range(len(out_list)) if key == "*" else [int(key)]:
            if i < len(out_list) and i < len(olds_list):
                out_list[i] = olds_list[i] if not rest else _reset(olds_list[i], out_list[i], rest)
        return out_list
    return new


def apply_ignore_changes(olds: Mapping[str, Any], news: Mapping[str, Any], ignore: tuple[str, ...]) -> dict[str, Any]:
    """What the engine does with ignoreChanges before an update's Diff, and what the bridge does inside
    Diff (a refresh's diff is not pre-processed by the engine): each path's value comes from the old
    state, and a path the old state lacks is dropped from the new inputs."""
    out: dict[str, Any] = dict(news)
    for path in ignore:
        parts = parse_path(path)
        if parts:
            out = _reset(dict(olds), out, parts)
    return out


def diff_inputs(
    schema: Schema, olds: Mapping[str, Any], news: Mapping[str, Any], ignore: tuple[str, ...] = ()
) -> DiffResult:
    """The changes from old outputs to new inputs, skipping ``ignore``d property paths (nested ones too)."""
    result = DiffResult()
    diff_object("", schema, olds, apply_ignore_changes(olds, news, ignore), result)
    return result


# --- Outputs -----------------------------------------------------------------------------------


def preview_outputs(schema: Schema, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Create during preview: the inputs, with every value the provider would compute unknown."""
    outs: dict[str, Any] = dict(inputs)
    for key, spec in schema.items():
        if key not in outs and (spec.output or spec.computed):
            outs[key] = UNKNOWN
        elif spec.elem is not None and spec.kind in ("list", "set") and isinstance(outs.get(key), list):
            outs[key] = [_preview_elem(spec.elem, v) for v in outs[key]]
    return outs


def _preview_elem(schema: Schema, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    filled = dict(value)
    for key, spec in schema.items():
        if key not in filled and (spec.output or spec.computed):
            filled[key] = UNKNOWN
    return filled


def mark_secrets(schema: Schema, outs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs with the schema's sensitive fields wrapped as secrets."""
    return {
        k: Secret(reveal(v)) if (spec := schema.get(k)) is not None and spec.secret and v is not None else v
        for k, v in outs.items()
    }


def full_outputs(schema: Schema, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every output property of the schema, unset ones as null, as the bridge returns state."""
    return {k: values.get(k) for k in schema} | {k: v for k, v in values.items() if k not in schema}


Validator = Callable[[Mapping[str, Any]], list[Failure]]
