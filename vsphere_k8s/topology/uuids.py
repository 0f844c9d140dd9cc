"""The VM BIOS UUID as Kubernetes sees it: systemUUID byte order and providerID.

SMBIOS stores the first three UUID fields little-endian. A guest that decodes
them big-endian reports a ``systemUUID`` whose first three groups are
byte-reversed relative to the VM's ``config.uuid``; the CPI reverses them back
before searching the VM, and names the node ``vsphere://<config.uuid>``.
"""

from __future__ import annotations

import re

PROVIDER_PREFIX = "vsphere://"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class UuidError(ValueError):
    """A UUID or providerID that is not in the form the CPI accepts."""


def normalize_uuid(value: str, *, what: str = "UUID") -> str:
    """Lower-case, trimmed, and checked to be 8-4-4-4-12 hex."""
    text = value.strip().lower()
    if not _UUID.match(text):
        raise UuidError(f"{what} {value!r} is not a UUID (8-4-4-4-12 hexadecimal digits)")
    return text


def _reverse_bytes(group: str) -> str:
    return "".join(reversed([group[i : i + 2] for i in range(0, len(group), 2)]))


def swap_uuid_byte_order(value: str) -> str:
    """Reverse the bytes of the first three groups (the CPI's systemUUID -> BIOS UUID conversion).

    The swap is its own inverse, so it also maps a BIOS UUID to the swapped systemUUID.
    """
    text = normalize_uuid(value)
    a, b, c, d, e = text.split("-")
    return "-".join([_reverse_bytes(a), _reverse_bytes(b), _reverse_bytes(c), d, e])


def bios_uuid_candidates(system_uuid: str) -> tuple[str, ...]:
    """The BIOS UUIDs a node's systemUUID may stand for: swapped first (as the CPI searches), then as is.

    Guests on SMBIOS 2.6+ decode the UUID in VMware's order already; older ones swap it.
    """
    text = normalize_uuid(system_uuid, what="systemUUID")
    swapped = swap_uuid_byte_order(text)
    return (swapped,) if swapped == text else (swapped, text)


def provider_id(bios_uuid: str) -> str:
    return PROVIDER_PREFIX + normalize_uuid(bios_uuid, what="VM BIOS UUID")


def uuid_from_provider_id(value: str) -> str:
    """The BIOS UUID a ``vsphere://`` providerID names."""
    if not value.startswith(PROVIDER_PREFIX):
        raise UuidError(f"providerID {value!r} does not start with {PROVIDER_PREFIX}")
    return normalize_uuid(value[len(PROVIDER_PREFIX) :], what="providerID UUID")
