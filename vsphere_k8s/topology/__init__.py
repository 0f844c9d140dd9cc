"""Topology rules the CPI applies, as pure functions: UUID byte order, providerID, zone lookup."""

from . import labels
from .uuids import (
    PROVIDER_PREFIX,
    UuidError,
    bios_uuid_candidates,
    normalize_uuid,
    provider_id,
    swap_uuid_byte_order,
    uuid_from_provider_id,
)
from .zones import AmbiguousTopologyError, Placement, Tag, TopologyError, lookup_zone_by_moref, zone_by_vm

__all__ = [
    "PROVIDER_PREFIX",
    "AmbiguousTopologyError",
    "Placement",
    "Tag",
    "TopologyError",
    "UuidError",
    "bios_uuid_candidates",
    "labels",
    "lookup_zone_by_moref",
    "normalize_uuid",
    "provider_id",
    "swap_uuid_byte_order",
    "uuid_from_provider_id",
    "zone_by_vm",
]
