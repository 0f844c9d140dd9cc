"""Zone and region of a VM, computed the way the vSphere CPI computes them.

A port of two CPI functions (cloud-provider-vsphere v1.36):

- ``lookup_zone_by_moref`` follows ``LookupZoneByMoref``: walk an object's
  ancestors nearest first, the object itself included; at every attached tag of
  the zone (region) category overwrite the zone (region); stop as soon as both
  are set; fail when either is still missing at the root.
- ``zone_by_vm`` follows ``GetZoneByProviderID``: that lookup from the VM's host,
  then from its resource pool (or vApp), then from the VM itself.

The one deliberate difference: the CPI takes the tags in whatever order the
tagging API lists them, so where that order decides the answer it silently
picks one. Here every order is tried; if they disagree, the lookup refuses and
names the object and its tags instead of guessing.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import TypeVar

Ref = TypeVar("Ref", bound=Hashable)

# Permutations tried per object; beyond this many topology tags on one object the
# answer is called order-dependent without trying them all (no real layout has eight).
_MAX_TAGS_PER_OBJECT = 7


class TopologyError(LookupError):
    """The CPI would find no zone or region for the VM; the message says where it looked."""


class AmbiguousTopologyError(TopologyError):
    """The CPI's answer depends on the order vCenter lists tags: refused rather than guessed."""

    def __init__(self, message: str, answers: Collection[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.answers = frozenset(answers)  # the (zone, region) pairs the CPI could label


@dataclass(frozen=True, order=True)
class Tag:
    category: str
    name: str


@dataclass(frozen=True)
class Placement:
    zone: str
    region: str
    zone_from: str  # the object whose tag gave the zone, e.g. "ClusterComputeResource DC0_C0"
    region_from: str
    walk: str = "host"  # which lookup answered: "host", "resource pool" or "VM"


@dataclass(frozen=True)
class _Walk:
    """The state of one walk: the values set so far, and on which object each was set."""

    zone: str = ""
    region: str = ""
    zone_at: int = -1
    region_at: int = -1

    def take(self, tag: Tag, at: int, zone_category: str, region_category: str) -> _Walk:
        if tag.category == zone_category:
            return _Walk(tag.name, self.region, at, self.region_at)
        if tag.category == region_category:
            return _Walk(self.zone, tag.name, self.zone_at, at)
        return self

    @property
    def done(self) -> bool:
        return bool(self.zone and self.region)


def lookup_zone_by_moref(
    chain: Sequence[Ref],
    attached: Mapping[Ref, Collection[Tag]],
    *,
    zone_category: str,
    region_category: str,
    subject: str,
    describe: Mapping[Ref, str] | None = None,
    walk: str = "host",
) -> Placement:
    """Zone and region found by walking ``chain`` (the object first, then each parent up to the root).

    ``attached`` maps an object to the tags attached to it (other categories may be
    included; they never change the answer).
    """
    label = describe or {}
    name = [str(label.get(ref, ref)) for ref in chain]
    open_walks: set[_Walk] = {_Walk()}
    finished: set[_Walk] = set()
    deciding: list[int] = []  # objects carrying more than one topology tag: where order can matter
    for at, ref in enumerate(chain):
        if not open_walks:
            break
        mine = [t for t in attached.get(ref, ()) if t.category in (zone_category, region_category)]
        if len(mine) > 1:
            deciding.append(at)
        if len(mine) > _MAX_TAGS_PER_OBJECT:
            raise _ambiguous(subject, [at], chain, attached, name, zone_category, region_category)
        orders = set(permutations(sorted(mine))) if mine else {()}
        following: set[_Walk] = set()
        for state in open_walks:
            for order in orders:
                current = state
                for tag in order:
                    current = current.take(tag, at, zone_category, region_category)
                    if current.done:  # the CPI returns the moment both are set
                        break
                (finished if current.done else following).add(current)
        open_walks = following
    if open_walks:
        # Whether both categories occur on the chain does not depend on tag order: none finished.
        missing = [c for c, v in ((zone_category, "zone"), (region_category, "region")) if not _found(open_walks, v)]
        walked = ", ".join(name) or "no objects"
        raise TopologyError(
            f"{subject}: walking from {walk} {name[0] if name else '?'} up to the root, "
            f"no tag of category {' or '.join(repr(m) for m in missing)} ({walked})"
        )
    answers = {(w.zone, w.region) for w in finished}
    if len(answers) > 1:
        raise _ambiguous(subject, deciding, chain, attached, name, zone_category, region_category, answers)
    result = next(iter(finished))
    if len({(w.zone_at, w.region_at) for w in finished}) > 1:
        # Same values reached from different objects: the answer stands; name the nearest source.
        result = min(finished, key=lambda w: (w.zone_at, w.region_at))
    return Placement(result.zone, result.region, name[result.zone_at], name[result.region_at], walk)


def _found(walks: Collection[_Walk], kind: str) -> bool:
    return any((w.zone if kind == "zone" else w.region) for w in walks)


def _ambiguous(  # noqa: PLR0917 - a private message builder fed by one caller's locals
    subject: str,
    deciding: Sequence[int],
    chain: Sequence[Ref],
    attached: Mapping[Ref, Collection[Tag]],
    name: Sequence[str],
    zone_category: str,
    region_category: str,
    answers: Collection[tuple[str, str]] = (),
) -> AmbiguousTopologyError:
    where = []
    for at in deciding:
        tags = sorted(t for t in attached.get(chain[at], ()) if t.category in (zone_category, region_category))
        where.append(f"{name[at]} ({', '.join(f'{t.category}={t.name}' for t in tags)})")
    could = "; ".join(f"zone {z!r} region {r!r}" for z, r in sorted(answers))
    return AmbiguousTopologyError(
        f"{subject}: the CPI's zone and region depend on the order vCenter lists the tags on "
        f"{', '.join(where)}"
        + (f": it could label {could}" if could else "")
        + "; keep one tag of each category per object, or tag the zone and region on different objects",
        answers,
    )


def zone_by_vm(
    *,
    host_chain: Sequence[Ref] | None,
    pool_chain: Sequence[Ref] | None,
    vm_chain: Sequence[Ref],
    attached: Mapping[Ref, Collection[Tag]],
    zone_category: str,
    region_category: str,
    subject: str,
    describe: Mapping[Ref, str] | None = None,
) -> Placement:
    """The CPI's three lookups in its order: from the host, the resource pool (or vApp), the VM.

    Each chain starts at the object itself. A lookup that finds no zone or region
    falls through to the next; an order-dependent answer stops the search.
    """
    misses: list[str] = []
    for walk, chain in (("host", host_chain), ("resource pool", pool_chain), ("VM", vm_chain)):
        if not chain:
            continue
        try:
            return lookup_zone_by_moref(
                chain,
                attached,
                zone_category=zone_category,
                region_category=region_category,
                subject=subject,
                describe=describe,
                walk=walk,
            )
        except AmbiguousTopologyError:
            raise
        except TopologyError as missed:
            misses.append(str(missed).removeprefix(f"{subject}: "))
    raise TopologyError(f"{subject}: the CPI would find no zone and region: " + "; ".join(misses))
