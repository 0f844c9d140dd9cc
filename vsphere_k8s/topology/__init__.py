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
from .zones import Placement, TopologyError, nearest_tag, placement_of

__all__ = [
    "PROVIDER_PREFIX",
    "Placement",
    "TopologyError",
    "UuidError",
    "bios_uuid_candidates",
    "labels",
    "nearest_tag",
    "normalize_uuid",
    "placement_of",
    "provider_id",
    "swap_uuid_byte_order",
    "uuid_from_provider_id",
]
