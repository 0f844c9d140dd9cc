"""cloud-init's VMware datasource input: the ``guestinfo.*`` keys of a VM's extraConfig.

The datasource reads ``guestinfo.metadata`` (instance id, hostname and the
network config) and ``guestinfo.userdata``, each decoded as its
``guestinfo.<key>.encoding`` says. Everything here is deterministic (gzip
without a timestamp, JSON with sorted keys) so that an unchanged node renders
byte-identical values and Pulumi sees no diff.
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, Literal

from ..config import ZoneNetwork

Encoding = Literal["base64", "gzip+base64"]

# Above this many bytes user-data is gzipped first: the VMX file carries every
# guestinfo value, and big values slow down every reconfigure of the VM.
GZIP_THRESHOLD = 16 * 1024

# What a bootstrap-mode node's guestinfo holds only until it has joined (the user-data carries
# its join token and, on control-plane nodes, the cluster's CA and service-account keys): the
# keys removed from the VM once the node has joined, and ignored by the VM resource's diff.
# The metadata (instance id, hostname, network) stays: the guest needs it at every boot.
SECRET_BEARING_KEYS = ("guestinfo.userdata", "guestinfo.userdata.encoding")
KEPT_KEYS = ("guestinfo.metadata", "guestinfo.metadata.encoding")

# vSphere names NICs ens160/ens192/...; the match keeps the config valid whichever
# slot the template's adapter sits in (the node VMs have exactly one NIC).
NIC_ID = "nic0"
NIC_MATCH = {"name": "en*"}


def network_config(network: ZoneNetwork, ip: str | None) -> dict[str, Any]:
    """Netplan v2 network config for a node's one NIC: DHCP, or ``ip`` from the zone's static section."""
    nic: dict[str, Any] = {"match": dict(NIC_MATCH)}
    if network.mode == "dhcp":
        if ip is not None:
            raise ValueError(f"network {network.name!r} uses DHCP; a static address ({ip}) cannot be applied")
        v6 = network.cidr is not None and ipaddress.ip_network(network.cidr).version == 6
        nic["dhcp6" if v6 else "dhcp4"] = True
        # Clones of one template share a machine-id, so the default DUID would
        # give every node the same lease; the MAC is unique per VM.
        nic["dhcp-identifier"] = "mac"
        return {"version": 2, "ethernets": {NIC_ID: nic}}
    static = network.static
    if static is None or ip is None:
        raise ValueError(f"network {network.name!r} is static: a node needs an address from its range")
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(static.cidr):
        raise ValueError(f"address {ip} is outside network {network.name!r} ({static.cidr})")
    default = "0.0.0.0/0" if address.version == 4 else "::/0"
    nic.update(
        {
            f"dhcp{address.version}": False,
            "addresses": [f"{address}/{static.prefix_length}"],
            "routes": [{"to": default, "via": static.gateway}],
            "nameservers": {"addresses": list(static.dns_servers), "search": list(static.search_domains)},
        }
    )
    if not static.search_domains:
        del nic["nameservers"]["search"]
    return {"version": 2, "ethernets": {NIC_ID: nic}}


def metadata(instance_id: str, hostname: str, network: Mapping[str, Any]) -> dict[str, Any]:
    """The datasource's metadata document.

    ``instance-id`` must stay fixed for the life of the VM: cloud-init runs its
    once-per-instance modules (and so ``kubeadm``) again whenever it changes.
    """
    return {"instance-id": instance_id, "local-hostname": hostname, "network": dict(network)}


def encode(text: str, encoding: Encoding) -> str:
    data = text.encode()
    if encoding == "gzip+base64":
        data = gzip.compress(data, mtime=0)
    return base64.b64encode(data).decode("ascii")


def decode(value: str, encoding: str) -> str:
    """The inverse of :func:`encode`, as the datasource does it (for tests and the offline preview)."""
    data = base64.b64decode(value)
    if encoding in ("gzip+base64", "gz+b64"):
        data = gzip.decompress(data)
    return data.decode()


def choose_encoding(text: str) -> Encoding:
    return "gzip+base64" if len(text.encode()) > GZIP_THRESHOLD else "base64"


def extra_config(meta: Mapping[str, Any], user_data: str) -> dict[str, str]:
    """The four guestinfo keys, metadata as sorted JSON (the datasource tries JSON first)."""
    if not user_data.strip():
        raise ValueError("user-data is empty; cloud-init would boot the node unconfigured")
    meta_text = json.dumps(meta, sort_keys=True, separators=(",", ":"))
    ud_encoding = choose_encoding(user_data)
    return {
        "guestinfo.metadata": encode(meta_text, "base64"),
        "guestinfo.metadata.encoding": "base64",
        "guestinfo.userdata": encode(user_data, ud_encoding),
        "guestinfo.userdata.encoding": ud_encoding,
    }


def hostname_user_data(hostname: str) -> str:
    """Minimal user-data: the hostname and nothing else (until a bootstrap provides the real one)."""
    return f"#cloud-config\nhostname: {hostname}\npreserve_hostname: false\n"
