"""The engine floor: a minimal Pulumi program that registers recorded resources bare, through the same CLI.

Copied as the ``__main__.py`` of a project copy (with ``replay.json`` beside it, written by
``benchmarks.registrations.replay_items``). Each recorded registration, in the order the program
sent them, becomes a bare ``pulumi.CustomResource`` / ``ComponentResource`` / ``ProviderResource``
of the same type token and name, with the same inputs (secret markers wrapped as ``Output.secret``
again; an unknown stays the wire's unknown value, which is what the SDK itself sends for one), the
same parent, the same explicit provider (or, for the engine's default providers, the same plugin
version), the same additional secret outputs and the same dependencies: an input property that
depended on resources is an Output of those resources, the other dependencies are ``depends_on``.
Each is made, and so sent, only once the engine has answered its parent, provider and dependencies,
as the program's were, and the engine receives the same requests in the same dependency order
(without the dependencies, every registration would be sent at once, in an order of the SDK's
making: a different load on the engine, not a floor of the program's). Components register the
same outputs, and the stack exports the same values. What it leaves out is the program: config,
planning, rendering, invokes and the Output plumbing behind each value.
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


def depending_on(value: Any, resources: list[Any]) -> Any:
    """``value`` as an Output of ``resources``: the SDK waits for them and reports them as the property's."""
    import pulumi

    inner = pulumi.Output.from_input(value)
    return pulumi.Output(set(resources), inner.future(with_unknowns=True), inner.is_known(), inner.is_secret())


def with_dependencies(item: dict[str, Any], props: dict[str, Any], made: dict[str, Any]) -> list[Any]:
    """Attach the item's property dependencies to ``props`` (in place); returns the rest for ``depends_on``."""
    rest = set(item.get("dependencies", ()))
    for key, urns in item.get("property_dependencies", {}).items():
        if key in props and urns:
            props[key] = depending_on(props[key], [made[u] for u in urns])
            rest -= set(urns)
    return [made[u] for u in sorted(rest)]


def waits_of(item: dict[str, Any]) -> list[str]:
    """The registrations ``item`` waits for: its parent, its provider and its dependencies (URNs, once each)."""
    return list(dict.fromkeys(u for u in (item["parent"], item["provider"], *item.get("dependencies", ())) if u))


def construct(item: dict[str, Any], made: dict[str, Any]) -> Any:
    """The bare resource of one replay item (see the module docstring); what it waits for is in ``made``."""
    import pulumi

    provider = made.get(item["provider"]) if item["provider"] else None
    props = to_input(item["inputs"], made)
    depends_on = (
        with_dependencies(item, props, made) if item["custom"] else [made[u] for u in item.get("dependencies", ())]
    )
    opts = pulumi.ResourceOptions(
        parent=made.get(item["parent"]) if item["parent"] else None,
        provider=provider,
        version=item["version"] or None,
        additional_secret_outputs=item["additional_secret_outputs"] or None,
        depends_on=depends_on or None,
    )
    if item["type"].startswith("pulumi:providers:"):
        return pulumi.ProviderResource(item["type"].split(":", 2)[2], item["name"], props, opts)
    if item["custom"]:
        return pulumi.CustomResource(item["type"], item["name"], props, opts)
    res = pulumi.ComponentResource(item["type"], item["name"], None, opts)
    res.register_outputs(to_input(item["outputs"] or {}, made))
    return res


def register_all(replay: dict[str, Any]) -> dict[str, Any]:
    """Register every item of ``replay`` bare, each once the engine has answered what it waits for; returns
    URN -> the resource made (filled in as they are made).

    Each resource is made only then, as the program makes its resources in the callbacks of the
    Outputs they need, not all up front: the SDK's final wait goes over every unfinished Output once
    per finished one, so 800 resources made at once cost the floor's process more CPU than the real
    program's (27 against 15 CPU-seconds at 100 nodes, measured), on cores the engine needs.
    """
    import asyncio

    import pulumi

    loop = asyncio.get_event_loop()
    made: dict[str, Any] = {}
    ready = {item["urn"]: loop.create_future() for item in replay["resources"]}

    async def register(item: dict[str, Any]) -> None:
        for urn in waits_of(item):
            await ready[urn]
            await made[urn].urn.future()  # answered by the engine
        made[item["urn"]] = construct(item, made)
        ready[item["urn"]].set_result(None)

    tasks = [loop.create_task(register(item)) for item in replay["resources"]]

    async def everything() -> None:
        await asyncio.gather(*tasks)

    async def known() -> bool:
        return True

    # The SDK waits for its Outputs before it ends the program, not for bare tasks: one Output over all.
    done: pulumi.Output[None] = pulumi.Output(set(), everything(), known())

    def export(value: Any) -> Any:
        return done.apply(lambda _: to_input(value, made))

    for key, value in replay["stack_outputs"].items():
        pulumi.export(key, export(value))
    return made


if __name__ == "__main__":
    import sys

    # The same lift as the program's __main__.py: the SDK's dependency-cycle check recurses once per link of
    # a chain, and the replayed NodeRetirement chain is as deep as the program's (997 links at 1000 nodes).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    register_all(json.loads((Path(__file__).resolve().parent / "replay.json").read_text()))
