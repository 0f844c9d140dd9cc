"""Zone and region of a VM, found the way the vSphere CPI finds them.

The CPI walks the ancestors of the VM's host, nearest first (the host, its cluster or
compute resource, the host folders, the datacenter, the root folders) and takes, for
each category independently, the tag carried by the first object that has a tag of
that category. The VM's own tags are not consulted.

Unlike a silent first-match, two tags of one category on that nearest object is an
error here (a single-cardinality category cannot hold two; a multiple one is a
misconfiguration the CPI would resolve arbitrarily), and so is finding none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class TopologyError(LookupError):
    """No tag, or two tags, of a topology category on a VM's nearest tagged ancestor."""


@dataclass(frozen=True)
class Ancestor:
    """One object above a VM: a stable reference (``"HostSystem:host-21"``), its name and its tags by category."""

    ref: str
    name: str
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # category name -> tag names


@dataclass(frozen=True)
class TagHit:
    tag: str
    ref: str  # the ancestor carrying it
    name: str


@dataclass(frozen=True)
class Placement:
    zone: TagHit
    region: TagHit


def nearest_tag(vm: str, ancestors: Sequence[Ancestor], category: str) -> TagHit:
    """The tag of ``category`` on the nearest ancestor carrying one (``ancestors`` nearest first)."""
    for ancestor in ancestors:
        tags = sorted(set(ancestor.tags.get(category, ())))
        if len(tags) == 1:
            return TagHit(tags[0], ancestor.ref, ancestor.name)
        if len(tags) > 1:
            raise TopologyError(
                f"VM {vm!r}: {ancestor.ref.split(':', 1)[0]} {ancestor.name!r} carries {len(tags)} tags of "
                f"category {category!r} ({', '.join(tags)}); the nearest tagged object must carry exactly one"
            )
    path = " -> ".join(f"{a.name}" for a in ancestors) or "(no ancestors)"
    raise TopologyError(f"VM {vm!r}: no object above it carries a tag of category {category!r} (searched {path})")


def placement(vm: str, ancestors: Sequence[Ancestor], zone_category: str, region_category: str) -> Placement:
    """Zone and region of a VM; both problems reported together when both fail."""
    problems: list[str] = []
    hits: dict[str, TagHit] = {}
    for key, category in (("zone", zone_category), ("region", region_category)):
        try:
            hits[key] = nearest_tag(vm, ancestors, category)
        except TopologyError as error:
            problems.append(str(error))
    if problems:
        raise TopologyError("; ".join(problems))
    return Placement(hits["zone"], hits["region"])
