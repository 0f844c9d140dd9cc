"""Least-privilege vCenter roles and grants; NSX-T and CSI settings refused before anything is created."""

from __future__ import annotations

from typing import Any

import pytest

from offline.program import offline_config
from vsphere_k8s import roles
from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load

ALL_PRIVILEGES = {
    p for spec in roles.role_specs(load(offline_config("sim"), stack="sim")).values() for p in spec.privileges
}


def prod(separate: bool = True, **changes: Any) -> StackConfig:
    raw = offline_config("prod")
    for vc in ("vc-east", "vc-west"):
        cred: dict[str, Any] = {"username": "admin@vsphere.local", "password": "a"}
        if separate:
            cred["cpi"] = {"username": "k8s-cpi@vsphere.local", "password": "c"}
            cred["csi"] = {"username": "k8s-csi@vsphere.local", "password": "s"}
        raw["credentials"][vc] = cred
    raw.update(changes)
    return load(raw, stack="prod")


def test_role_privileges_are_the_documented_minimum() -> None:
    specs = roles.role_specs(prod())
    assert specs["cpi"].privileges == ()  # read-only: vCenter adds System.Anonymous/Read/View
    assert specs["csi-read"].privileges == ()
    assert set(specs["csi-search-spbm"].privileges) == {"Cns.Searchable", "StorageProfile.View"}
    assert set(specs["csi-vm"].privileges) == {
        "VirtualMachine.Config.AddExistingDisk",
        "VirtualMachine.Config.AddRemoveDevice",
    }
    assert specs["csi-datastore"].privileges == ("Datastore.FileManagement",)
    # Nothing that writes VMs' placement, networks, hosts or permissions.
    assert not {p for p in ALL_PRIVILEGES if p.split(".")[0] in {"Host", "Network", "Resource", "Authorization"}}
    assert specs["cpi"].name == "k8s-cpi" and specs["csi-vm"].name == "k8s-csi-vm"


def test_grants_per_entity_for_prod_east() -> None:
    cfg = prod()
    grants = roles.grants(cfg, cfg.vcenter("vc-east"))
    table = {(g.entity.key, g.account): (g.role, g.propagate) for g in grants}
    assert table == {
        ("root", "cpi"): ("cpi", False),
        ("root", "csi"): ("csi-search-spbm", False),
        ("datacenter-dc-east", "cpi"): ("cpi", True),
        # All node VMs live in folder k8s/prod: disk rights there only.
        ("datacenter-dc-east", "csi"): ("csi-read", True),
        ("folder-dc-east-k8s-prod", "csi"): ("csi-vm", True),
        ("datastore-dc-east-east-vsan-a", "csi"): ("csi-datastore", False),
        ("datastore-dc-east-east-vsan-b", "csi"): ("csi-datastore", False),
    }
    assert len(table) == len(grants)  # one role per account and entity, as vCenter allows


def test_without_folders_disk_rights_go_on_the_datacenter() -> None:
    cfg = load(offline_config("sim"), stack="sim")
    grants = roles.grants(cfg, cfg.vcenters[0])
    dc = [g for g in grants if g.entity.kind == "datacenter" and g.account == "csi"]
    assert [(g.role, g.propagate) for g in dc] == [("csi-vm", True)]
    assert not [g for g in grants if g.entity.kind == "folder"]
    assert {g.entity.name for g in grants if g.entity.kind == "datastore"} == {"LocalDS_0"}


def test_grants_only_to_separate_accounts() -> None:
    cfg = prod()
    assert roles.accounts(cfg, cfg.vcenters[0]) == {"cpi": "k8s-cpi@vsphere.local", "csi": "k8s-csi@vsphere.local"}
    shared = prod(separate=False)
    assert roles.accounts(shared, shared.vcenters[0]) == {}
    assert roles.grants_by_entity(shared, shared.vcenters[0]) == {}
    grouped = roles.grants_by_entity(cfg, cfg.vcenters[0])
    root = next(e for e in grouped if e.kind == "root")
    assert {g.account for g in grouped[root]} == {"cpi", "csi"}
    assert root.entity_type == "Folder"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("k8s-csi@vsphere.local", "VSPHERE.LOCAL\\k8s-csi"),
        ("CORP\\k8s-cpi", "CORP\\k8s-cpi"),
        ("plain", "plain"),
    ],
)
def test_principal_form(user: str, expected: str) -> None:
    assert roles.principal(user) == expected


NSXT_OK = {
    "host": "nsx.example.internal",
    "tls": {"caCert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
    "loadBalancer": {
        "ipPoolName": "pool",
        "tier1GatewayPath": "/infra/tier-1s/t1",
        "tcpAppProfileName": "tcp",
        "udpAppProfileName": "udp",
    },
}


def _issues(nsxt: dict[str, Any], with_creds: bool = True) -> dict[str, str]:
    raw = offline_config("dev")
    if with_creds:
        raw["credentials"]["vc-dev"]["nsxt"] = {"username": "nsx", "password": "n"}
    raw["cpi"] = {"nsxt": nsxt}
    try:
        load(raw, stack="dev")
    except ConfigError as exc:
        return {i.path: i.message for i in exc.issues}
    return {}


def test_valid_nsxt_settings_load() -> None:
    assert _issues(NSXT_OK) == {}


def test_nsxt_settings_the_cpi_would_refuse() -> None:
    bad = {
        **NSXT_OK,
        "tls": {"thumbprint": "3B:26:B5:7B:6F:11:9A:EF:27:21:C1:B2:44:D3:7C:1E:5A:88:0F:42"},
        "loadBalancer": {"lbServiceId": "lb", "tier1GatewayPath": "/infra/tier-1s/t1"},
    }
    issues = _issues(bad, with_creds=False)
    assert "credentials.vc-dev.nsxt" in issues
    assert "thumbprint" in issues["cpi.nsxt.tls.thumbprint"]
    assert "exactly one of lbServiceId" in issues["cpi.nsxt.loadBalancer"]
    for key in ("ipPoolName", "tcpAppProfileName", "udpAppProfileName"):
        assert f"cpi.nsxt.loadBalancer.{key}" in issues
    assert "nsx" not in str(issues.values()).replace("nsxt", "")  # no credential echoed
