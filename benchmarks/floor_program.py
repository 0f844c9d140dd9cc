"""The engine floor: a minimal Pulumi program that registers recorded resources bare, through the same CLI.

Copied as the ``__main__.py`` of a project copy (with ``replay.json`` beside it, written by
``benchmarks.registrations.replay_items``). Each recorded registration, in its order, becomes a bare
``pulumi.CustomResource`` / ``ComponentResource`` / ``ProviderResource`` of the same type token and
name, with the same inputs (secret markers wrapped as ``Output.secret`` again; an unknown stays the
wire's unknown value, which is what the SDK itself sends for one), the same parent, the same explicit
provider (or, for the engine's default providers, the same plugin version) and the same additional
secret outputs; components register the same outputs, and the stack exports the same values. What it
leaves out is the program: config, planning, rendering, invokes, Output plumbing and dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def to_input(value: Any, made: dict[str, Any]) -> Any:
    """A wire JSON value as a program input: secrets as secret Outputs, resource references as the resource."""
    import pulumi

    if isinstance(value, list):
        return [to_input(v, made) for v in value]
    if not isinstance(value, dict):
        return value
    sig = value.get(SIG)
    if sig == SECRET_SIG:
        return pulumi.Output.secret(to_input(value.get("value"), made))
    if sig == RESOURCE_SIG:
        return made.get(str(value.get("urn")), value.get("id", UNKNOWN))
    if sig == OUTPUT_SIG:
        inner = to_input(value["value"], made) if "value" in value else UNKNOWN
        return pulumi.Output.secret(inner) if value.get("secret") else inner
    return {k: to_input(v, made) for k, v in value.items()}


def register_all(replay: dict[str, Any]) -> dict[str, Any]:
    """Register every item of ``replay`` bare, in order; returns URN -> the resource made."""
    import pulumi

    made: dict[str, Any] = {}
    for item in replay["resources"]:
        provider = made.get(item["provider"]) if item["provider"] else None
        opts = pulumi.ResourceOptions(
            parent=made.get(item["parent"]) if item["parent"] else None,
            provider=provider,
            version=item["version"] or None if provider is None else None,
            additional_secret_outputs=item["additional_secret_outputs"] or None,
        )
        props = to_input(item["inputs"], made)
        res: Any
        if item["type"].startswith("pulumi:providers:"):
            res = pulumi.ProviderResource(item["type"].split(":", 2)[2], item["name"], props, opts)
        elif item["custom"]:
            res = pulumi.CustomResource(item["type"], item["name"], props, opts)
        else:
            res = pulumi.ComponentResource(item["type"], item["name"], None, opts)
            res.register_outputs(to_input(item["outputs"] or {}, made))
        made[item["urn"]] = res
    for key, value in replay["stack_outputs"].items():
        pulumi.export(key, to_input(value, made))
    return made


if __name__ == "__main__":
    register_all(json.loads((Path(__file__).resolve().parent / "replay.json").read_text()))
