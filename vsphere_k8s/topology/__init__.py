"""Topology rules shared with the vSphere CPI: VM identity (UUIDs, providerID) and zone/region lookup.

Pure functions only; the node binding provider and the tests feed them what vCenter
and the API server hold.
"""

from .ids import (
    PROVIDER_PREFIX,
    InvalidUuidError,
    normalize_uuid,
    provider_id,
    swap_system_uuid,
    uuid_candidates,
    uuid_from_provider_id,
)
from .zones import Ancestor, Placement, TagHit, TopologyError, nearest_tag, placement

__all__ = [
    "PROVIDER_PREFIX",
    "Ancestor",
    "InvalidUuidError",
    "Placement",
    "TagHit",
    "TopologyError",
    "nearest_tag",
    "normalize_uuid",
    "placement",
    "provider_id",
    "swap_system_uuid",
    "uuid_candidates",
    "uuid_from_provider_id",
]
