"""A valid stack configuration of any size: 3 regions, 9 zones, ``nodes`` nodes in total.

Pure: builds the raw dict a stack file would hold (camelCase keys, as
``vsphere_k8s.loader.load`` reads them). Names follow govmomi's simulator
(``DC<r>``, ``DC<r>_C<z>``, ``LocalDS_0``, ``VM Network``) so the same layout
describes the vcsim inventory the reconcile benchmark runs against.

Layout: one vCenter; region ``r<i>`` is datacenter ``DC<i>``; zone ``r<i>-z<j>``
is compute cluster ``DC<i>_C<j>``. The control plane has 3 nodes, one in the
first zone of each region; the other ``nodes - 3`` are workers of one pool,
spread round-robin over the 9 zones. All zones share one static /16 (so the
control-plane VIP is reachable from every control-plane zone) and each zone owns
a block of ``ZONE_BLOCK`` addresses of it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

REGIONS = 3
ZONES_PER_REGION = 3
CONTROL_PLANE = 3
ZONE_BLOCK = 1024  # addresses per zone
MAX_PER_ZONE_POOL = 500  # the model's bound on one pool's replicas in one zone
NETWORK = ipaddress.ip_network("10.20.0.0/16")
PLACEHOLDER_USER = "bench-placeholder@vsphere.local"
PLACEHOLDER_PASSWORD = "bench-placeholder-password"  # not a credential: mocks and vcsim only


def region_name(region: int) -> str:
    return f"r{region}"


def zone_name(region: int, zone: int) -> str:
    return f"r{region}-z{zone}"


def zones() -> list[tuple[str, str, str, str]]:
    """(zone, region, datacenter, compute cluster) for every zone, in config order."""
    return [
        (zone_name(r, z), region_name(r), f"DC{r}", f"DC{r}_C{z}")
        for r in range(REGIONS)
        for z in range(ZONES_PER_REGION)
    ]


def worker_replicas(nodes: int) -> dict[str, int]:
    """Workers per zone: ``nodes - 3`` spread round-robin (zones without a worker are left out)."""
    workers = nodes - CONTROL_PLANE
    names = [z for z, *_ in zones()]
    base, extra = divmod(workers, len(names))
    counts = {name: base + (1 if i < extra else 0) for i, name in enumerate(names)}
    return {name: n for name, n in counts.items() if n > 0}


def _static(index: int) -> dict[str, Any]:
    first = NETWORK.network_address + ZONE_BLOCK * (index + 1)  # block 0 holds the gateway, DNS and the VIP
    return {
        "cidr": str(NETWORK),
        "gateway": str(NETWORK.network_address + 1),
        "rangeStart": str(first),
        "rangeEnd": str(first + ZONE_BLOCK - 1),
        "dnsServers": [str(NETWORK.network_address + 2)],
    }


def scale_config(nodes: int, *, cluster: str = "bench", server: str = "127.0.0.1", port: int = 443) -> dict[str, Any]:
    """The raw stack configuration of a ``nodes``-node cluster across 3 regions and 9 zones."""
    if nodes < CONTROL_PLANE:
        raise ValueError(f"a cluster needs at least {CONTROL_PLANE} nodes (its control plane), got {nodes}")
    workers = worker_replicas(nodes)
    if any(n > MAX_PER_ZONE_POOL for n in workers.values()):
        raise ValueError(f"{nodes} nodes put more than {MAX_PER_ZONE_POOL} workers of one pool in a zone")
    zone_list = zones()
    raw: dict[str, Any] = {
        "cluster": {"name": cluster, "environment": "test", "allowInsecureTls": True},
        "vcenters": [
            {
                "name": "vc",
                "server": server,
                "port": port,
                "datacenters": [f"DC{r}" for r in range(REGIONS)],
                "tls": {"insecure": True},
            }
        ],
        "credentials": {"vc": {"username": PLACEHOLDER_USER, "password": PLACEHOLDER_PASSWORD}},
        "topology": {
            "regionCategory": "k8s-region",
            "zoneCategory": "k8s-zone",
            "regions": [{"name": region_name(r)} for r in range(REGIONS)],
            "zones": [
                {
                    "name": name,
                    "region": region,
                    "datacenter": dc,
                    "computeCluster": cc,
                    "datastore": "LocalDS_0",
                    "network": {"name": "VM Network", "mode": "static", "static": _static(i)},
                }
                for i, (name, region, dc, cc) in enumerate(zone_list)
            ],
        },
        "nodePools": {
            "controlPlane": {
                "template": "DC0_C0_RP0_VM0",
                "cpus": 4,
                "memoryMib": 8192,
                "diskGib": 60,
                "replicas": {zone_name(r, 0): 1 for r in range(REGIONS)},
            },
            "workers": [],
        },
        "kubernetes": {
            "version": "1.31.4",
            "podCidr": "10.244.0.0/16",
            "serviceCidr": "10.96.0.0/12",
            "controlPlaneEndpoint": str(NETWORK.network_address + 10),
        },
        "storageClasses": [
            {"name": "vsphere-default", "default": True},
            {"name": "vsphere-zonal", "perZone": True},
        ],
    }
    if workers:
        raw["nodePools"]["workers"].append(
            {
                "name": "general",
                "template": "DC0_C0_RP0_VM0",
                "cpus": 8,
                "memoryMib": 16384,
                "diskGib": 100,
                "replicas": workers,
            }
        )
    return raw
