"""Join material in node VMs' guestinfo: short-lived, and gone from the VM once the node has joined.

Anyone who can read a VM's configuration in vCenter (System.Read, which the CPI's read-only
account holds) reads its ``guestinfo.userdata``. User-data that carries a private key, a
bootstrap token or a password is therefore flagged unless (a) every bootstrap token in it
expires and (b) a NodeJoin resource of the stack removes the user-data from that VM once
the node has joined.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import facts
from ..facts import VM
from ..view import ResourceView, is_unknown, of_type
from .base import Violation

NODE_JOIN = "pulumi-python:dynamic/vsphere:NodeJoin"
USERDATA_KEY = "guestinfo.userdata"
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_TOKEN = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")
_PASSWORD = re.compile(r"^\s*(password|passwd)\s*[=:]\s*\S", re.IGNORECASE | re.MULTILINE)


def secrets_in(text: str) -> list[str]:
    """What kinds of secret a text carries (never the values)."""
    found = []
    if _PRIVATE_KEY.search(text):
        found.append("a private key")
    if _TOKEN.search(text):
        found.append("a bootstrap token")
    if _PASSWORD.search(text):
        found.append("a password")
    return found


def _ttl_seconds(ttl: Any) -> float | None:
    """A Go duration ("1h0m0s", "45m", "0s") in seconds; None when it is not one."""
    if not isinstance(ttl, str):
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s|ms)", ttl)
    if not parts or "".join(n + u for n, u in parts) != ttl:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def everlasting_tokens(cloud_config: str) -> int:
    """Bootstrap tokens in the kubeadm documents that never expire (an explicit ttl of 0; an unset
    ttl is kubeadm's bounded 24h default)."""
    count = 0
    for doc in facts.kubeadm_documents(cloud_config):
        for token in doc.get("bootstrapTokens") or []:
            if isinstance(token, Mapping) and "ttl" in token and _ttl_seconds(token["ttl"]) == 0:
                count += 1
    return count


def long_ttl_tokens(cloud_config: str, max_hours: float) -> int:
    count = 0
    for doc in facts.kubeadm_documents(cloud_config):
        for token in doc.get("bootstrapTokens") or []:
            seconds = _ttl_seconds(token.get("ttl")) if isinstance(token, Mapping) else None
            if seconds is not None and seconds > max_hours * 3600:
                count += 1
    return count


def _scrubbed_vms(resources: Sequence[ResourceView]) -> set[str]:
    """VM names whose user-data a NodeJoin removes after the join."""
    names = set()
    for join in of_type(resources, NODE_JOIN):
        keys = join.prop("scrub_keys")
        name = join.prop("node_name")
        if isinstance(name, str) and (is_unknown(keys) or (isinstance(keys, list) and USERDATA_KEY in keys)):
            names.add(name)
    return names


def join_material_short_lived(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    max_hours = float(config.get("maxTokenTtlHours", 24))
    scrubbed = _scrubbed_vms(resources)
    out = []
    for vm in of_type(resources, VM):
        text = facts.user_data(vm)
        if not isinstance(text, str):
            continue  # unknown in a first preview: judged once rendered
        kinds = secrets_in(text)
        if not kinds:
            continue
        name = vm.prop("name")
        label = name if isinstance(name, str) else vm.name
        if everlasting_tokens(text):
            message = f"VM {label}: its user-data has a bootstrap token with ttl 0s (it never expires)"
            out.append(Violation(message, vm.urn))
        elif long_ttl_tokens(text, max_hours):
            out.append(
                Violation(f"VM {label}: its user-data has a bootstrap token that lives over {max_hours:g}h", vm.urn)
            )
        if label not in scrubbed:
            out.append(
                Violation(
                    f"VM {label}: its user-data carries {', '.join(kinds)} and no NodeJoin removes it after the "
                    "join, so every vCenter reader (System.Read) can read it for the VM's whole life",
                    vm.urn,
                )
            )
    return out
