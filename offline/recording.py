"""The recording monitor and what it records: every registration with its place in the tree.

A :class:`RecordingMonitor` is Pulumi's MockMonitor that also keeps each registration's
parent, provider, dependencies and which inputs are secret; a run ends in a :class:`Recording`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str
    dependencies: list[str]
    secret_inputs: set[str]  # top-level input keys holding a secret
    custom: bool
    additional_secret_outputs: list[str]
    component_outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # what the mock provider answered; other resources' inputs refer to it
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # input key -> URNs it came from
    ignore_changes: list[str] = field(default_factory=list)  # property paths the engine keeps from state
    delete_before_replace: bool | None = None  # None: the provider decides
    replace_with: list[str] = field(default_factory=list)  # URNs whose replacement replaces this one
    replacement_trigger: Any = None  # a value whose change replaces the resource


def unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """(value with secrets unwrapped at any depth, whether any was secret)."""
    if rpc.is_rpc_secret(value):
        inner, _ = unwrap_secrets(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, dict):
        pairs = {k: unwrap_secrets(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [unwrap_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _inputs(struct: Any) -> tuple[dict[str, Any], set[str]]:
    """Plain inputs and the top-level keys that held a secret."""
    values = rpc.deserialize_properties(struct)
    plain, secrets = {}, set()
    for key, value in values.items():
        plain[key], secret = unwrap_secrets(value)
        if secret:
            secrets.add(key)
    return plain, secrets


def _scalar(value: Any) -> Any:
    """A protobuf Value's content (a string, number or bool; a list or struct stays a message)."""
    kind = value.WhichOneof("kind")
    return None if kind in (None, "null_value") else getattr(value, kind)


class RecordingMonitor(pmocks.MockMonitor):
    """A MockMonitor that also remembers each registration's place in the tree."""

    def __init__(self, mocks: pmocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        reg = self.resources.get(response.urn)
        inputs, secret_inputs = _inputs(request.object)
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            inputs=inputs,
            outputs=dict(reg.state) if reg is not None else {},
            provider=request.provider,
            dependencies=list(request.dependencies),
            secret_inputs=secret_inputs,
            custom=bool(request.custom),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            id=str(reg.id or "") if reg is not None else "",
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            ignore_changes=list(request.ignoreChanges),
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            replace_with=list(request.replace_with),
            replacement_trigger=_scalar(request.replacement_trigger)
            if request.HasField("replacement_trigger")
            else None,
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC name
        outputs = rpc.deserialize_properties(request.outputs)
        if request.urn in self.registrations:
            self.registrations[request.urn].component_outputs = outputs
        elif request.urn.endswith("pulumi:pulumi:Stack::" + request.urn.rsplit("::", 1)[-1]):
            self.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


@dataclass
class Recording:
    registrations: dict[str, Registration]
    stack_outputs: dict[str, Any]
    invokes: list[tuple[str, dict[str, Any]]]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.type == type_token]

    def by_name(self, name: str) -> Registration:
        matches = [r for r in self.registrations.values() if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} registrations named {name!r}")
        return matches[0]

    def children(self, urn: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.parent == urn]
