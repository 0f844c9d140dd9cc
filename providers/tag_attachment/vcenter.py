"""Thin vCenter adapters for TagAttachment: find objects by name, read and change tag attachments.

Costs are constant in the number of targets: one PropertyCollector read of the
inventory (name and parent only), one list of the category's tags and one
batched attached-objects call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .plan import Action, Observation, TargetSpec

if TYPE_CHECKING:  # the shared inventory needs pyVmomi; resolving names against it does not
    from providers.vcenter.inventory import Inventory, InventoryObject

_Index = Mapping[tuple[str, str | None], list[tuple["InventoryObject", str]]]


class TargetNotFoundError(LookupError):
    """A configured object is not in the inventory (or is ambiguous)."""


def _placed(inventory: Inventory, obj: InventoryObject) -> tuple[str | None, str]:
    """(datacenter name, path below the datacenter's host folder)."""
    names = [obj.name]
    for ref in inventory.ancestors(obj.ref):
        ancestor = inventory.objects.get(ref)
        if ancestor is None:
            break
        if ancestor.ref.type == "Datacenter":
            return ancestor.name, "/".join(reversed(names[:-1])) if len(names) > 1 else obj.name
        names.append(ancestor.name)
    return None, obj.name


def resolve(inventory: Inventory, targets: Iterable[TargetSpec]) -> dict[str, str]:
    """Target key -> moref value; every missing or ambiguous target named in one error.

    ``inventory`` is the shared read without VMs (``read_inventory(conn, vms=False)``).
    """
    index: dict[tuple[str, str | None], list[tuple[InventoryObject, str]]] = {}
    for obj in inventory.objects.values():
        dc, path = _placed(inventory, obj)
        index.setdefault((obj.ref.type, dc), []).append((obj, path))
    out: dict[str, str] = {}
    problems: list[str] = []
    for target in targets:
        candidates = _candidates(inventory, index, target)
        if len(candidates) == 1:
            out[target.key] = candidates[0].ref.id
        elif not candidates:
            where = "" if target.type == "Datacenter" else f" in datacenter {target.datacenter!r}"
            within = f" (cluster {target.cluster!r})" if target.cluster else ""
            problems.append(f"{target.type} {target.name!r} not found{where}{within}")
        else:
            morefs = ", ".join(sorted(c.ref.id for c in candidates))
            problems.append(f"{target.type} {target.name!r} is ambiguous ({morefs}); name it by its path")
    if problems:
        raise TargetNotFoundError("; ".join(problems))
    return out


def _candidates(inventory: Inventory, index: _Index, target: TargetSpec) -> list[InventoryObject]:
    if target.type == "Datacenter":
        return [o for dcs in index.values() for o, _ in dcs if o.ref.type == "Datacenter" and o.name == target.name]
    found = [o for o, path in index.get((target.type, target.datacenter), []) if target.name in (o.name, path)]
    if target.type == "HostSystem" and target.cluster is not None:
        found = [o for o in found if _host_cluster_matches(inventory, o, target.cluster)]
    return found


def _host_cluster_matches(inventory: Inventory, host: InventoryObject, cluster: str) -> bool:
    parent = inventory.objects.get(host.parent) if host.parent else None
    if parent is None:
        return False
    return cluster in (parent.name, _placed(inventory, parent)[1])


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
