"""Thin vCenter adapters for TagAttachment: find objects by name, read and change tag attachments.

Costs are constant in the number of targets: one PropertyCollector read of the
inventory (name and parent only), one list of the category's tags and one
batched attached-objects call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .plan import Action, Observation, TargetSpec


class TargetNotFoundError(LookupError):
    """A configured object is not in the inventory (or is ambiguous)."""


@dataclass(frozen=True)
class _Node:
    moref: str
    type: str
    name: str
    parent: str | None


def read_inventory(conn: Any) -> dict[str, _Node]:
    """Every datacenter, folder, compute resource and host (name and parent), in one shared retrieval."""
    from providers.vcenter.inventory import read_inventory as read_all

    inventory = read_all(conn, vms=False)
    return {
        o.ref.id: _Node(o.ref.id, o.ref.type, o.name, o.parent.id if o.parent else None)
        for o in inventory.objects.values()
    }


def _ancestry(nodes: Mapping[str, _Node], node: _Node) -> list[_Node]:
    chain = []
    current = nodes.get(node.parent) if node.parent else None
    while current is not None:
        chain.append(current)
        current = nodes.get(current.parent) if current.parent else None
    return chain


def _placed(nodes: Mapping[str, _Node], node: _Node) -> tuple[str | None, str]:
    """(datacenter name, path below the datacenter's host folder)."""
    chain = _ancestry(nodes, node)
    names = [node.name]
    for ancestor in chain:
        if ancestor.type == "Datacenter":
            return ancestor.name, "/".join(reversed(names[:-1])) if len(names) > 1 else node.name
        names.append(ancestor.name)
    return None, node.name


def resolve(nodes: Mapping[str, _Node], targets: Iterable[TargetSpec]) -> dict[str, str]:
    """Target key -> moref value; every missing or ambiguous target named in one error."""
    index: dict[tuple[str, str | None], list[tuple[_Node, str]]] = {}
    for node in nodes.values():
        dc, path = _placed(nodes, node)
        index.setdefault((node.type, dc), []).append((node, path))
    out: dict[str, str] = {}
    problems: list[str] = []
    for target in targets:
        candidates = _candidates(nodes, index, target)
        if len(candidates) == 1:
            out[target.key] = candidates[0].moref
        elif not candidates:
            where = "" if target.type == "Datacenter" else f" in datacenter {target.datacenter!r}"
            within = f" (cluster {target.cluster!r})" if target.cluster else ""
            problems.append(f"{target.type} {target.name!r} not found{where}{within}")
        else:
            morefs = ", ".join(sorted(c.moref for c in candidates))
            problems.append(f"{target.type} {target.name!r} is ambiguous ({morefs}); name it by its path")
    if problems:
        raise TargetNotFoundError("; ".join(problems))
    return out


def _candidates(
    nodes: Mapping[str, _Node], index: Mapping[tuple[str, str | None], list[tuple[_Node, str]]], target: TargetSpec
) -> list[_Node]:
    if target.type == "Datacenter":
        return [n for dcs in index.values() for n, _ in dcs if n.type == "Datacenter" and n.name == target.name]
    found = [n for n, path in index.get((target.type, target.datacenter), []) if target.name in (n.name, path)]
    if target.type == "HostSystem" and target.cluster is not None:
        found = [n for n in found if _host_cluster_matches(nodes, n, target.cluster)]
    return found


def _host_cluster_matches(nodes: Mapping[str, _Node], host: _Node, cluster: str) -> bool:
    parent = nodes.get(host.parent) if host.parent else None
    if parent is None:
        return False
    return cluster in (parent.name, _placed(nodes, parent)[1])


def _object_ref(kind: str, moref: str) -> Any:
    # The shared adapter is imported when vCenter is actually spoken to, so that
    # inventory resolution and the pure plan import without it.
    from providers.vcenter.tagging import ObjectRef

    return ObjectRef(kind, moref)


def observe(
    tagging: Any, category_id: str, tag_id: str, resolved: Mapping[str, str], types: Mapping[str, str]
) -> Observation:
    """For each resolved target, which tags of the category it carries now."""
    tags = tagging.tags_for_category(category_id)
    if tag_id not in {t.id for t in tags}:
        raise LookupError(f"tag {tag_id} is not a tag of category {category_id}")
    attached = tagging.attached_objects([t.id for t in tags])
    carried: dict[Any, set[str]] = {}
    for tid, objects in attached.items():
        for obj in objects:
            carried.setdefault(obj, set()).add(tid)
    return Observation(
        dict(resolved),
        {key: frozenset(carried.get(_object_ref(types[key], moref), set())) for key, moref in resolved.items()},
    )


def apply(tagging: Any, actions: Sequence[Action]) -> None:
    for action in actions:
        obj = _object_ref(action.type, action.moref)
        if action.verb == "attach":
            tagging.attach(action.tag_id, obj)
        else:
            tagging.detach(action.tag_id, obj)
