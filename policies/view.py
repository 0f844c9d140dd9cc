"""The neutral view of a resource that every rule reads.

Two sources fill it: the Pulumi policy engine (``engine.py``) and the offline
recording of the program under mocks (``offline/policy_views.py``). Rules never see either
source's types, so the same rule runs in ``pulumi preview`` and in the offline
preview and is tested with plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final


class Unknown:
    """A value the engine cannot know yet (computed during preview)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False


@dataclass(frozen=True)
class ResourceView:
    type: str  # type token, e.g. vsphere:index/virtualMachine:VirtualMachine
    name: str  # the Pulumi resource name
    urn: str
    props: Mapping[str, Any]  # camelCase inputs, plain values, UNKNOWN where not yet known
    # Top-level props that hold a Pulumi secret; None when the source cannot tell
    # (pulumi-policy unwraps secrets before a policy sees them).
    secret_props: frozenset[str] | None = None
    id: str | None = None  # known only after creation (and in the offline recording)
    parent: str | None = None  # parent URN
    provider: str | None = None  # provider reference (URN::id) or None for the default provider
    custom: bool = True  # False for ComponentResources (their props are their registered outputs)
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        """The stack name, from the URN (urn:pulumi:<stack>::<project>::...)."""
        parts = self.urn.split("::")
        return parts[0].removeprefix("urn:pulumi:") if parts and parts[0].startswith("urn:pulumi:") else ""

    def prop(self, *path: str | int, default: Any = None) -> Any:
        """The value at ``path`` (keys or list indexes), ``default`` if absent; UNKNOWN passes through."""
        value: Any = self.props
        for key in path:
            if is_unknown(value):
                return UNKNOWN
            in_list = isinstance(key, int) and isinstance(value, list | tuple) and -len(value) <= key < len(value)
            if in_list or (isinstance(key, str) and isinstance(value, Mapping) and key in value):
                value = value[key]
            else:
                return default
        return value

    def is_secret(self, key: str) -> bool | None:
        return None if self.secret_props is None else key in self.secret_props


def of_type(resources: Iterable[ResourceView], *types: str) -> list[ResourceView]:
    return [r for r in resources if r.type in types]


def referenced(
    source: ResourceView, prop: str, candidates: Sequence[ResourceView], *, fallback_to_dependencies: bool = True
) -> list[ResourceView]:
    """The ``candidates`` that ``source.props[prop]`` refers to.

    By id where ids are known (after creation, offline), by the property's
    dependencies where they are not (a preview of new resources), and by the
    resource's dependencies as a last resort (sources without per-property ones).
    """
    raw = source.props.get(prop)
    values = raw if isinstance(raw, list | tuple) else [raw]
    ids = {v for v in values if isinstance(v, str)}
    found = {c.urn: c for c in candidates if c.id is not None and c.id in ids}
    via_props = set(source.property_dependencies.get(prop, ()))
    found.update({c.urn: c for c in candidates if c.urn in via_props})
    if not found and not via_props and fallback_to_dependencies and contains_unknown(raw):
        deps = set(source.dependencies)
        found.update({c.urn: c for c in candidates if c.urn in deps})
    return list(found.values())


def is_true(value: Any) -> bool:
    """Provider inputs arrive as strings ("true"); resource inputs as booleans."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("true", "1", "yes")
