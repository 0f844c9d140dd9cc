"""VM identity as the vSphere CPI sees it.

- A VM's BIOS UUID (``config.uuid``) is what ``SearchIndex.FindByUuid`` finds and what
  the CPI writes into ``spec.providerID`` as ``vsphere://<uuid>`` (lowercase).
- The ``systemUUID`` a Linux node reports comes from SMBIOS. SMBIOS 2.6+ stores the
  first three fields little-endian; depending on the guest's reading, the node may
  report them byte-swapped relative to the BIOS UUID
  (``56492e42-22ad-3911-6d72-59cc8f26bc90`` for ``422e4956-ad22-1139-6d72-59cc8f26bc90``).
  The CPI converts by reversing the bytes of each of the first three groups; the last
  two groups are never swapped. The conversion is its own inverse.
"""

from __future__ import annotations

import re

PROVIDER_PREFIX = "vsphere://"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class InvalidUuidError(ValueError):
    """Not a UUID in the 8-4-4-4-12 hex form."""


def normalize_uuid(value: str) -> str:
    """Lowercase, trimmed, validated 8-4-4-4-12 form."""
    text = value.strip().lower()
    if not _UUID.match(text):
        raise InvalidUuidError(f"{value!r} is not a UUID (8-4-4-4-12 hexadecimal digits)")
    return text


def _reverse_bytes(group: str) -> str:
    return "".join(group[i : i + 2] for i in range(len(group) - 2, -2, -2))


def swap_system_uuid(value: str) -> str:
    """The UUID with the bytes of its first three groups reversed (the CPI's systemUUID conversion)."""
    parts = normalize_uuid(value).split("-")
    return "-".join([_reverse_bytes(parts[0]), _reverse_bytes(parts[1]), _reverse_bytes(parts[2]), *parts[3:]])


def uuid_candidates(system_uuid: str) -> tuple[str, ...]:
    """BIOS UUIDs a node's systemUUID may stand for: as reported, then byte-swapped (distinct, in that order)."""
    plain = normalize_uuid(system_uuid)
    swapped = swap_system_uuid(plain)
    return (plain,) if swapped == plain else (plain, swapped)


def provider_id(bios_uuid: str) -> str:
    """``vsphere://<bios uuid>``, lowercase, exactly as the CPI writes it."""
    return PROVIDER_PREFIX + normalize_uuid(bios_uuid)


def uuid_from_provider_id(value: str) -> str | None:
    """The BIOS UUID a providerID names; None when empty. Raises for another cloud's or a malformed ID."""
    text = value.strip()
    if not text:
        return None
    if not text.lower().startswith(PROVIDER_PREFIX):
        raise InvalidUuidError(f"providerID {value!r} is not a vSphere providerID ({PROVIDER_PREFIX}<uuid>)")
    return normalize_uuid(text[len(PROVIDER_PREFIX) :])
