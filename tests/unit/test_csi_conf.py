"""csi-vsphere.conf read back the way the driver reads it (gopkg.in/gcfg), with the stack's exact values."""

from __future__ import annotations

import re
from typing import Any

import pytest

from offline.program import PLACEHOLDER_USER, offline_config
from vsphere_k8s.config import StackConfig
from vsphere_k8s.loader import load
from vsphere_k8s.render import csi_conf

# --------------------------------------------------------------------------- an independent gcfg reader

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}
_SECTION = re.compile(r'^\[\s*([A-Za-z][-.\w]*)\s*(?:"((?:[^"\\\n]|\\["\\])*)")?\s*\]$')
_VARIABLE = re.compile(r"^([A-Za-z][-\w]*)\s*=\s*(.*)$")


def _value(text: str) -> str:
    """gcfg's value grammar: quoted parts with escapes, comments (; #) outside quotes,
    whitespace outside quotes trimmed at both ends."""
    out: list[tuple[str, bool]] = []  # (character, came from a quoted part or an escape)
    quoted, i = False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise ValueError(f"invalid escape \\{nxt}")
            out.append((_ESCAPES[nxt], True))
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch in ";#" and not quoted:
            break
        else:
            out.append((ch, quoted))
        i += 1
    if quoted:
        raise ValueError("unterminated quoted string")
    while out and not out[-1][1] and out[-1][0].isspace():
        out.pop()
    while out and not out[0][1] and out[0][0].isspace():
        out.pop(0)
    return "".join(ch for ch, _ in out)


def read_gcfg(text: str) -> dict[str, Any]:
    """{section: {var: value}} or {section: {subsection: {var: value}}}; names case-insensitive."""
    doc: dict[str, Any] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        section = _SECTION.match(line)
        if section:
            name = section.group(1).lower()
            if section.group(2) is not None:
                sub = re.sub(r'\\(["\\])', r"\1", section.group(2))
                current = doc.setdefault(name, {}).setdefault(sub, {})
            else:
                current = doc.setdefault(name, {})
            continue
        variable = _VARIABLE.match(line)
        if variable is None or current is None:
            raise ValueError(f"not gcfg: {raw!r}")
        key = variable.group(1).lower()
        if key in current:
            raise ValueError(f"{key} set twice")  # the driver's fields are single-valued
        current[key] = _value(variable.group(2))
    return doc


def test_reader_follows_gcfg_rules() -> None:
    doc = read_gcfg('[A "x\\"y"]\nk = "a;b" ; comment\nu = plain  # c\n')
    assert doc == {"a": {'x"y': {"k": "a;b", "u": "plain"}}}


# --------------------------------------------------------------------------- the stacks


def _with_credentials(stack: str, **creds: Any) -> StackConfig:
    raw = offline_config(stack)
    for name, value in creds.items():
        raw["credentials"][name] = value
    return load(raw, stack=stack)


def test_sim_stack_exact() -> None:
    cfg = load(offline_config("sim"), stack="sim")
    doc = read_gcfg(csi_conf.render_csi_conf(cfg))
    assert doc == {
        "global": {"cluster-id": "sim"},
        "virtualcenter": {
            "127.0.0.1": {
                "insecure-flag": "true",
                "user": PLACEHOLDER_USER,
                "password": "offline-placeholder-password",
                "port": "8989",
                "datacenters": "DC0",
            }
        },
        "labels": {"topology-categories": "k8s-region,k8s-zone"},
    }


def test_prod_uses_the_csi_account_ca_files_and_cluster_id() -> None:
    password = 'p;a#s"s\\w\tord '
    cred = {
        "username": "admin@vsphere.local",
        "password": "admin-pass",
        "csi": {"username": "k8s-csi@vsphere.local", "password": password},
    }
    cfg = _with_credentials("prod", **{"vc-east": cred, "vc-west": cred})
    doc = read_gcfg(csi_conf.render_csi_conf(cfg))
    assert doc["global"] == {"cluster-id": "prod-k8s"}
    assert set(doc["virtualcenter"]) == {"vcenter-east.example.internal", "vcenter-west.example.internal"}
    east = doc["virtualcenter"]["vcenter-east.example.internal"]
    assert east == {
        "insecure-flag": "false",
        "user": "k8s-csi@vsphere.local",
        "password": password,
        "port": "443",
        "datacenters": "dc-east",
        "ca-file": "/etc/cloud/vc-east-ca.pem",
    }
    data = csi_conf.secret_data(cfg)
    assert data["vc-east-ca.pem"] == cfg.vcenter("vc-east").tls.ca_cert
    assert "admin-pass" not in data[csi_conf.CONFIG_FILE]


def test_thumbprint_distribution_and_several_datacenters() -> None:
    raw = offline_config("dev")
    raw["vcenters"][0]["datacenters"] = ["dc-dev", "dc dr"]
    raw["csi"] = {"clusterId": "dev", "clusterDistribution": "Ubuntu"}
    cfg = load(raw, stack="dev")
    doc = read_gcfg(csi_conf.render_csi_conf(cfg))
    vc = doc["virtualcenter"]["vcenter-dev.example.internal"]
    assert vc["thumbprint"] == cfg.vcenters[0].tls.thumbprint
    # dev pins a thumbprint and names its CA (which the vSphere provider plugin needs): both reach the CSI.
    assert vc["ca-file"] == "/etc/cloud/vc-dev-ca.pem"
    # The driver splits on "," and some of its readers do not trim.
    assert vc["datacenters"].split(",") == ["dc-dev", "dc dr"]
    assert doc["global"]["cluster-distribution"] == "Ubuntu"


def test_categories_follow_the_topology_names() -> None:
    raw = offline_config("sim")
    raw["topology"]["regionCategory"] = "corp-region"
    raw["topology"]["zoneCategory"] = "corp-zone"
    cfg = load(raw, stack="sim")
    doc = read_gcfg(csi_conf.render_csi_conf(cfg))
    assert doc["labels"]["topology-categories"].split(",") == ["corp-region", "corp-zone"]
    assert csi_conf.topology_label("corp-zone") == "topology.csi.vmware.com/corp-zone"


@pytest.mark.parametrize("name", ['a"b', "a\\b", "plain.host"])
def test_subsection_quoting_round_trips(name: str) -> None:
    header = f"[VirtualCenter {csi_conf.quote_subsection(name)}]\nport = {csi_conf.quote('1')}\n"
    assert read_gcfg(header) == {"virtualcenter": {name: {"port": "1"}}}


def test_newline_in_subsection_is_refused() -> None:
    with pytest.raises(ValueError, match="newline"):
        csi_conf.quote_subsection("a\nb")
