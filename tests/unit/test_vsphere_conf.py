"""vsphere.conf read back with the CPI's keys (its yaml.v2 structs), holding the stack's exact values."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from offline.program import offline_config
from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load
from vsphere_k8s.render import vsphere_conf

# The YAML keys the CPI's config structs declare (CPIConfigYAML and friends); any other key is ignored by it.
GLOBAL_KEYS = {
    "user", "password", "server", "port", "insecureFlag", "datacenters", "soapRoundtripCount", "caFile",
    "thumbprint", "secretName", "secretNamespace", "secretsDirectory", "apiDisable", "apiBinding", "ipFamily",
}  # fmt: skip
VCENTER_KEYS = GLOBAL_KEYS - {"secretsDirectory", "apiDisable", "apiBinding"}
NODES_KEYS = {
    "internalNetworkSubnetCidr", "externalNetworkSubnetCidr", "internalVmNetworkName", "externalVmNetworkName",
    "excludeInternalNetworkSubnetCidr", "excludeExternalNetworkSubnetCidr",
}  # fmt: skip
NSXT_KEYS = {"user", "password", "host", "insecureFlag", "remoteAuth", "secretName", "secretNamespace", "caFile"}
LB_KEYS = {"size", "lbServiceId", "tier1GatewayPath", "snatDisabled", "tags", "ipPoolName", "ipPoolId"} | {
    f"{p}AppProfile{s}" for p in ("tcp", "udp") for s in ("Name", "Path")
}
TOP_KEYS = {"global", "vcenter", "labels", "nodes", "nsxt", "loadBalancer", "loadBalancerClass", "route"}
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def read_as_cpi(text: str) -> dict[str, Any]:
    """Parse and check that every key is one the CPI reads, as a typo would be silently ignored."""
    doc = yaml.safe_load(text)
    assert set(doc) <= TOP_KEYS
    assert set(doc["global"]) <= GLOBAL_KEYS
    for entry in doc["vcenter"].values():
        assert set(entry) <= VCENTER_KEYS
    assert set(doc.get("nodes", {})) <= NODES_KEYS
    assert set(doc.get("nsxt", {})) <= NSXT_KEYS
    assert set(doc.get("loadBalancer", {})) <= LB_KEYS
    assert set(doc.get("route", {})) <= {"routerPath"}
    return dict(doc)


def stack(name: str, **changes: Any) -> StackConfig:
    raw = offline_config(name)
    raw.update(changes)
    return load(raw, stack=name)


def test_sim_stack_exact() -> None:
    doc = read_as_cpi(vsphere_conf.render_vsphere_conf(stack("sim")))
    assert doc == {
        "global": {
            "port": 443,
            "insecureFlag": False,
            "secretName": "vsphere-cloud-secret",
            "secretNamespace": "kube-system",
            "ipFamily": ["ipv4"],
        },
        "vcenter": {"sim": {"server": "127.0.0.1", "port": 8989, "datacenters": ["DC0"], "insecureFlag": True}},
        "labels": {"region": "k8s-region", "zone": "k8s-zone"},
    }


def test_prod_two_vcenters_with_ca_files_in_the_config_map() -> None:
    cfg = stack("prod")
    data = vsphere_conf.config_map_data(cfg)
    doc = read_as_cpi(data["vsphere.conf"])
    assert doc["vcenter"] == {
        "vc-east": {
            "server": "vcenter-east.example.internal",
            "port": 443,
            "datacenters": ["dc-east"],
            "caFile": "/etc/cloud/vc-east-ca.pem",
        },
        "vc-west": {
            "server": "vcenter-west.example.internal",
            "port": 443,
            "datacenters": ["dc-west"],
            "caFile": "/etc/cloud/vc-west-ca.pem",
        },
    }
    assert doc["nodes"] == {"internalNetworkSubnetCidr": "10.30.0.0/22"}
    assert data["vc-east-ca.pem"] == cfg.vcenter("vc-east").tls.ca_cert
    assert set(data) == {"vsphere.conf", "vc-east-ca.pem", "vc-west-ca.pem"}


def test_insecure_vcenter_never_makes_the_global_flag_insecure() -> None:
    # The CPI ORs global.insecureFlag into every vCenter: one insecure one must stay local.
    raw = offline_config("prod")
    raw["cluster"]["allowInsecureTls"] = True
    raw["vcenters"][1]["tls"] = {"insecure": True}
    doc = read_as_cpi(vsphere_conf.render_vsphere_conf(load(raw, stack="prod")))
    assert doc["global"]["insecureFlag"] is False
    assert "insecureFlag" not in doc["vcenter"]["vc-east"]
    assert doc["vcenter"]["vc-west"]["insecureFlag"] is True


def test_thumbprint_labels_and_secret_location_follow_config() -> None:
    raw = offline_config("dev")
    raw["topology"]["regionCategory"] = "corp-region"
    raw["topology"]["zoneCategory"] = "corp-zone"
    raw["cpi"] = {"secretName": "vc-creds", "secretNamespace": "cloud-system"}
    cfg = load(raw, stack="dev")
    doc = read_as_cpi(vsphere_conf.render_vsphere_conf(cfg))
    assert doc["labels"] == {"region": "corp-region", "zone": "corp-zone"}
    assert doc["vcenter"]["vc-dev"]["thumbprint"] == cfg.vcenters[0].tls.thumbprint
    assert (doc["global"]["secretName"], doc["global"]["secretNamespace"]) == ("vc-creds", "cloud-system")


def test_node_address_selection_and_dual_stack() -> None:
    cfg = stack(
        "dev",
        cpi={
            "ipFamily": ["ipv4", "ipv6"],
            "nodes": {
                "internalVmNetworkName": "k8s-dev",
                "externalNetworkSubnetCidr": "192.168.10.0/24",
                "excludeInternalNetworkSubnetCidr": ["10.20.3.0/24", "fd00::/64"],
                "excludeExternalNetworkSubnetCidr": ["172.16.0.0/16"],
            },
        },
    )
    doc = read_as_cpi(vsphere_conf.render_vsphere_conf(cfg))
    assert doc["global"]["ipFamily"] == ["ipv4", "ipv6"]
    assert doc["nodes"] == {
        "internalVmNetworkName": "k8s-dev",
        "externalNetworkSubnetCidr": "192.168.10.0/24",
        # One string, split by the CPI on "," with no trimming.
        "excludeInternalNetworkSubnetCidr": "10.20.3.0/24,fd00::/64",
        "excludeExternalNetworkSubnetCidr": "172.16.0.0/16",
    }
    assert vsphere_conf.needs_dual_stack_gate(cfg)
    assert not vsphere_conf.needs_dual_stack_gate(stack("dev"))


def test_nsxt_load_balancer_and_routes() -> None:
    raw = offline_config("dev")
    raw["credentials"]["vc-dev"]["nsxt"] = {"username": "nsx-k8s", "password": "nsx-pass"}
    raw["cpi"] = {
        "nsxt": {
            "host": "nsx.example.internal",
            "tls": {"caCert": CA},
            "loadBalancer": {
                "size": "MEDIUM",
                "ipPoolName": "k8s-lb",
                "lbServiceId": "lb-1",
                "tcpAppProfileName": "tcp-profile",
                "udpAppProfileName": "udp-profile",
            },
            "routes": {"routerPath": "/infra/tier-1s/t1"},
        }
    }
    cfg = load(raw, stack="dev")
    data = vsphere_conf.config_map_data(cfg)
    doc = read_as_cpi(data["vsphere.conf"])
    assert doc["nsxt"] == {
        "host": "nsx.example.internal",
        "insecureFlag": False,
        "secretName": "vsphere-nsxt-credentials",
        "secretNamespace": "kube-system",
        "caFile": "/etc/cloud/nsxt-ca.pem",
    }
    assert doc["loadBalancer"] == {
        "size": "MEDIUM",
        "ipPoolName": "k8s-lb",
        "lbServiceId": "lb-1",
        "tcpAppProfileName": "tcp-profile",
        "udpAppProfileName": "udp-profile",
    }
    assert doc["route"] == {"routerPath": "/infra/tier-1s/t1"}
    assert data["nsxt-ca.pem"] == CA
    assert vsphere_conf.nsxt_credentials(cfg) == {"username": "nsx-k8s", "password": "nsx-pass"}
    assert "nsx-pass" not in data["vsphere.conf"]


def test_credentials_keyed_by_server_use_the_cpi_account() -> None:
    raw = offline_config("prod")
    raw["credentials"] = {
        "vc-east": {
            "username": "admin@vsphere.local",
            "password": "a",
            "cpi": {"username": "cpi-east", "password": "ce"},
        },
        "vc-west": {"username": "admin@vsphere.local", "password": "a"},
    }
    cfg = load(raw, stack="prod")
    assert vsphere_conf.cpi_credentials(cfg) == {
        "vcenter-east.example.internal.username": "cpi-east",
        "vcenter-east.example.internal.password": "ce",
        # No separate account: the program's own.
        "vcenter-west.example.internal.username": "admin@vsphere.local",
        "vcenter-west.example.internal.password": "a",
    }
    text = vsphere_conf.render_vsphere_conf(cfg)
    assert "password" not in text and "user" not in yaml.safe_load(text)["global"]


# The Secret key syntax the API server enforces (IsConfigMapKey).
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def cpi_reads(data: dict[str, str]) -> dict[str, tuple[str, str]]:
    """server -> (user, password) as the CPI's credential manager (v1.36.0) files a Secret's keys: by the
    key's ending first (``<server>.username``/``.password``, cut at the first ``.username``/``.password``),
    then the keys left over as ``server_<id>``/``username_<id>``/``password_<id>``."""
    users: dict[str, str] = {}
    passwords: dict[str, str] = {}
    left = {}
    for key, value in data.items():
        if key.endswith("password"):
            passwords[key.split(".password")[0]] = value
        elif key.endswith("username"):
            users[key.split(".username")[0]] = value
        else:
            left[key] = value
    for key in [k for k in left if k.startswith("server_")]:
        ident = key.removeprefix("server_")
        server = left.pop(key)
        users[server], passwords[server] = left.pop(f"username_{ident}"), left.pop(f"password_{ident}")
    assert not left, f"the CPI refuses the Secret: unknown keys {sorted(left)}"
    return {s: (users[s], passwords[s]) for s in users}


def prod_with_servers(
    *servers: str, ports: tuple[int, ...] = (443, 443), names: tuple[str, ...] = ()
) -> dict[str, Any]:
    raw = offline_config("prod")
    for i, server in enumerate(servers):
        raw["vcenters"][i]["server"] = server
        raw["vcenters"][i]["port"] = ports[i]
    for i, name in enumerate(names):
        old = raw["vcenters"][i]["name"]
        raw["vcenters"][i]["name"] = name
        raw["credentials"][name] = raw["credentials"].pop(old)
        for region in raw["topology"]["regions"]:
            if region.get("vcenter") == old:
                region["vcenter"] = name
    return raw


@pytest.mark.parametrize(
    ("server", "form"),
    [
        ("vcenter-east.example.internal", "dotted"),
        ("10.0.0.1", "dotted"),
        ("fd01::1", "server_"),  # ':' cannot be in a key
        ("vc.username.corp", "server_"),  # the CPI would cut "vc.username.corp.username" at ".username"
    ],
)
def test_cpi_secret_keys_are_valid_and_map_back_to_each_server(server: str, form: str) -> None:
    cfg = load(prod_with_servers(server), stack="prod")
    data = vsphere_conf.cpi_credentials(cfg)
    assert all(SECRET_KEY.match(k) for k in data), sorted(data)
    read = cpi_reads(data)
    for vc in cfg.vcenters:
        cred = cfg.credentials[vc.name].for_cpi
        assert read[vc.server] == (cred.username, cred.password.get_secret_value())
    assert set(read) == {server, "vcenter-west.example.internal"}
    if form == "dotted":
        assert f"{server}.username" in data
    else:
        assert data["server_vc-east"] == server and {"username_vc-east", "password_vc-east"} <= set(data)


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        (prod_with_servers("https://vc.example"), "vcenters[vc-east].server", "not a URL"),
        (prod_with_servers("vc.example/sdk"), "vcenters[vc-east].server", "not a URL"),
        (prod_with_servers("[fd01::1]"), "vcenters[vc-east].server", "without brackets"),
        (prod_with_servers("vc.example", "VC.example", ports=(443, 8443)), "vcenters", "share server vc.example"),
        (prod_with_servers("fd01::1", "fd01:0::1", ports=(443, 8443)), "vcenters", "on ports 443, 8443"),
        (prod_with_servers("fd01::1", names=("vc-password",)), "vcenters[vc-password].name", "rename the vCenter"),
    ],
)
def test_servers_the_cpi_cannot_key_or_reach_are_config_errors(raw: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(raw, stack="prod")
    assert any(i.path == path and words in i.message for i in caught.value.issues), caught.value.render()
