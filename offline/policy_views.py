"""The policy pack's resource views from an offline recording of the program under mocks.

Custom resources show their inputs (what the engine would analyze); components
show the outputs they register, so plaintext credentials in outputs are caught.
The adapter lives with the harness: :mod:`policies` knows nothing of the mocks.
"""

from __future__ import annotations

from typing import Any

from policies.view import ResourceView

from .recording import Recording, unwrap_secrets

STACK = "pulumi:pulumi:Stack"


def _outputs(outputs: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    plain, secret = {}, set()
    for key, value in outputs.items():
        plain[key], is_secret = unwrap_secrets(value)
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
