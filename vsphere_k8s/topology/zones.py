"""Zone and region of a VM, found the way the CPI finds them.

The CPI walks the ancestors of the VM's host, nearest first (the host, its
cluster, folders, the datacenter, up to the root folder), and takes the first
one carrying a tag of the category. The VM's own tags do not count. Two tags of
one category on that nearest object is an error, not a choice.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

Ref = TypeVar("Ref", bound=Hashable)


class TopologyError(LookupError):
    """No tag, or more than one, of a topology category applies to a VM."""


@dataclass(frozen=True)
class Placement:
    zone: str
    region: str
    zone_from: str  # the ancestor that carries the zone tag, e.g. "ClusterComputeResource DC0_C0"
    region_from: str


def nearest_tag(
    ancestors: Sequence[Ref],
    tags: Mapping[Ref, Collection[str]],
    *,
    category: str,
    subject: str,
    describe: Mapping[Ref, str] | None = None,
) -> tuple[str, Ref]:
    """The tag name of ``category`` on the nearest ancestor that has one, and that ancestor.

    ``tags`` maps an object to the names of the tags of ``category`` attached to it.
    """
    label = describe or {}
    for ref in ancestors:
        found = sorted(set(tags.get(ref, ())))
        if len(found) == 1:
            return found[0], ref
        if len(found) > 1:
            raise TopologyError(
                f"{subject}: {label.get(ref, ref)} carries {len(found)} tags of category {category!r} "
                f"({', '.join(found)}); the CPI needs exactly one"
            )
    walked = ", ".join(str(label.get(r, r)) for r in ancestors) or "no ancestors"
    raise TopologyError(f"{subject}: no tag of category {category!r} on any ancestor ({walked})")


def placement_of(
    ancestors: Sequence[Ref],
    zone_tags: Mapping[Ref, Collection[str]],
    region_tags: Mapping[Ref, Collection[str]],
    *,
    zone_category: str,
    region_category: str,
    subject: str,
    describe: Mapping[Ref, str] | None = None,
) -> Placement:
    """Zone and region of the VM whose host ancestry (nearest first) is ``ancestors``."""
    label = describe or {}
    zone, zone_ref = nearest_tag(ancestors, zone_tags, category=zone_category, subject=subject, describe=label)
    region, region_ref = nearest_tag(ancestors, region_tags, category=region_category, subject=subject, describe=label)
    return Placement(zone, region, str(label.get(zone_ref, zone_ref)), str(label.get(region_ref, region_ref)))
