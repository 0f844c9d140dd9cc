"""What a read-only vCenter user (System.Read, as the CPI's account) can read of a node VM.

Everything of a VM's configuration that carries free text: extraConfig (guestinfo decoded as
cloud-init decodes it), the annotation (Notes), custom attribute values and vApp properties,
read in one PropertyCollector call (pyVmomi's attribute reads fail on vcsim for some paths).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vsphere_k8s.render import guestinfo

from .vms import vm_properties

_PATHS = ["name", "config.extraConfig", "config.annotation", "customValue", "config.vAppConfig"]
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
TOKEN = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")


@dataclass
class ReaderView:
    name: str
    extra_config: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # where -> readable text (guestinfo decoded)

    def user_data(self) -> str | None:
        value = self.extra_config.get("guestinfo.userdata")
        if value is None:
            return None
        return guestinfo.decode(value, self.extra_config.get("guestinfo.userdata.encoding", "base64"))

    def findings(self, needles: Iterable[str] = ()) -> list[str]:
        """Where a private key, a bootstrap token or one of ``needles`` (passwords, tokens) shows."""
        found = []
        for where, text in self.texts.items():
            if PRIVATE_KEY.search(text):
                found.append(f"{where}: a private key")
            if TOKEN.search(text):
                found.append(f"{where}: a bootstrap token")
            found += [f"{where}: a known secret" for n in needles if n and n in text]
        return found


def _decoded(extra: Mapping[str, str]) -> dict[str, str]:
    texts = {}
    for key, value in extra.items():
        texts[f"extraConfig[{key}]"] = value
        encoding = extra.get(f"{key}.encoding")
        if encoding:
            # A value that is not what it claims is scanned raw (above) all the same.
            with contextlib.suppress(ValueError):
                texts[f"extraConfig[{key}] decoded"] = guestinfo.decode(value, encoding)
    return texts


def read_vms(content: Any, names: Iterable[str]) -> dict[str, ReaderView]:
    wanted = set(names)
    found: dict[str, ReaderView] = {}
    for _moid, props in vm_properties(content, _PATHS):
        name = str(props.get("name", ""))
        if name not in wanted:
            continue
        extra = {str(o.key): str(o.value) for o in props.get("config.extraConfig") or []}
        reader = ReaderView(name, extra, _decoded(extra))
        reader.texts["annotation"] = str(props.get("config.annotation") or "")
        for value in props.get("customValue") or []:
            reader.texts[f"customValue[{value.key}]"] = str(getattr(value, "value", ""))
        vapp = props.get("config.vAppConfig")
        for prop in getattr(vapp, "property", None) or []:
            reader.texts[f"vApp property {prop.id}"] = str(prop.value or prop.defaultValue or "")
        found[name] = reader
    return found
