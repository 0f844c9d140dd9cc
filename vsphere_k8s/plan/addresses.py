"""Static address allocation that stays put as pools grow.

Every pool reserves a block of each zone's range, in config order with the
control plane first. A node's address is its block's start plus its ordinal,
so adding nodes to a pool (within its reservation) or adding a pool at the end
never moves an existing node's address, and so never replaces its VM.
"""

from __future__ import annotations

import ipaddress

from ..config import NodeShape, StackConfig

CONTROL_PLANE = "cp"  # the control-plane pool in names and keys


def _pools(cfg: StackConfig) -> list[tuple[str, NodeShape, dict[str, int]]]:
    cp = cfg.node_pools.control_plane
    return [(CONTROL_PLANE, cp, dict(cp.replicas))] + [(p.name, p, dict(p.replicas)) for p in cfg.node_pools.workers]


def reservations_for_zone(cfg: StackConfig, zone: str) -> list[tuple[str, int]]:
    """(pool, addresses reserved) for each pool placed in ``zone``, in block order."""
    out = []
    for name, shape, replicas in _pools(cfg):
        if zone in replicas:
            out.append((name, max(replicas[zone], shape.reserve_per_zone or 0)))
    return out


def address_for(cfg: StackConfig, zone: str, pool: str, ordinal: int) -> str | None:
    """The static address of node ``ordinal`` of ``pool`` in ``zone``, or None for DHCP."""
    static = cfg.zone(zone).network.static
    if static is None:
        return None
    offset = 0
    for name, reserved in reservations_for_zone(cfg, zone):
        if name == pool:
            if ordinal >= reserved:
                raise ValueError(f"ordinal {ordinal} outside pool {pool}'s {reserved} addresses in zone {zone}")
            return str(ipaddress.ip_address(static.range_start) + offset + ordinal)
        offset += reserved
    raise ValueError(f"pool {pool} has no nodes in zone {zone}")
