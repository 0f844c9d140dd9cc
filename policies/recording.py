"""Resource views from the offline recording of the program under mocks.

Custom resources show their inputs (what the engine would analyze); components
show the outputs they register, so plaintext credentials in outputs are caught.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pulumi.runtime import rpc

from .view import ResourceView

if TYPE_CHECKING:
    from offline.mocks import Recording

STACK = "pulumi:pulumi:Stack"


def _unwrap(value: Any) -> tuple[Any, bool]:
    """(plain value, whether any part was a secret)."""
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))[0], True
    if isinstance(value, dict):
        pairs = {k: _unwrap(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_unwrap(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _outputs(outputs: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    plain, secret = {}, set()
    for key, value in outputs.items():
        plain[key], is_secret = _unwrap(value)
        if is_secret:
            secret.add(key)
    return plain, frozenset(secret)


def views(recording: Recording, stack: str = "", project: str = "") -> list[ResourceView]:
    found = []
    for reg in recording.registrations.values():
        if reg.custom:
            props, secret = dict(reg.inputs), frozenset(reg.secret_inputs)
        else:
            props, secret = _outputs(reg.component_outputs)
        found.append(
            ResourceView(
                type=reg.type,
                name=reg.name,
                urn=reg.urn,
                props=props,
                secret_props=secret,
                id=reg.id or None,
                parent=reg.parent or None,
                provider=reg.provider or None,
                custom=reg.custom,
                dependencies=tuple(reg.dependencies),
                property_dependencies={k: tuple(v) for k, v in reg.property_dependencies.items()},
            )
        )
    if recording.stack_outputs:
        props, secret = _outputs(recording.stack_outputs)
        name = f"{project}-{stack}"
        urn = f"urn:pulumi:{stack}::{project}::{STACK}::{name}"
        found.append(ResourceView(STACK, name, urn, props, secret, custom=False))
    return found
