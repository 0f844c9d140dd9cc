"""The CPI's cloud config, ``vsphere.conf``, in its YAML format, and what it refers to.

Keys are those the CPI unmarshals (gopkg.in/yaml.v2 into its ``CPIConfigYAML``,
``NsxtConfigYAML``, ``LBConfigYAML`` and ``RouteConfigYAML``): camelCase, one
``vcenter`` entry per vCenter. No credential is written here: the CPI reads them
from the Secret named in ``global.secretName`` (keys ``<server>.username`` and
``<server>.password``, or ``server_<id>``/``username_<id>``/``password_<id>`` for a
server no Secret key can hold) and, for NSX-T, from its own Secret.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from vsphere_k8s.config import NodeAddressing, StackConfig, VCenter

CONFIG_DIR = "/etc/cloud"  # where the CPI DaemonSet mounts the ConfigMap
CONFIG_FILE = "vsphere.conf"
CONFIG_MAP_NAME = "vsphere-cloud-config"
NSXT_CA_FILE = "nsxt-ca.pem"


def ca_file_name(vc: VCenter) -> str:
    return f"{vc.name}-ca.pem"


def _vcenter_entry(vc: VCenter) -> dict[str, Any]:
    entry: dict[str, Any] = {"server": vc.server, "port": vc.port, "datacenters": list(vc.datacenters)}
    # Per vCenter, never global: the CPI ORs a global insecureFlag into every
    # vCenter, so one insecure simulator would switch verification off for all.
    if vc.tls.insecure:
        entry["insecureFlag"] = True
    if vc.tls.ca_cert is not None:
        entry["caFile"] = f"{CONFIG_DIR}/{ca_file_name(vc)}"
    if vc.tls.thumbprint is not None:
        entry["thumbprint"] = vc.tls.thumbprint
    return entry


def _nodes(nodes: NodeAddressing) -> dict[str, str]:
    # The exclusions are one string the CPI splits on "," (no spaces allowed).
    pairs = {
        "internalNetworkSubnetCidr": nodes.internal_network_subnet_cidr,
        "externalNetworkSubnetCidr": nodes.external_network_subnet_cidr,
        "internalVmNetworkName": nodes.internal_vm_network_name,
        "externalVmNetworkName": nodes.external_vm_network_name,
        "excludeInternalNetworkSubnetCidr": ",".join(nodes.exclude_internal_network_subnet_cidr) or None,
        "excludeExternalNetworkSubnetCidr": ",".join(nodes.exclude_external_network_subnet_cidr) or None,
    }
    return {k: v for k, v in pairs.items() if v}


def cpi_config(cfg: StackConfig) -> dict[str, Any]:
    """The document the CPI reads, as data."""
    cpi = cfg.cpi
    doc: dict[str, Any] = {
        "global": {
            "port": 443,
            "insecureFlag": False,
            "secretName": cpi.secret_name,
            "secretNamespace": cpi.secret_namespace,
            "ipFamily": list(cpi.ip_family),
        },
        "vcenter": {vc.name: _vcenter_entry(vc) for vc in cfg.vcenters},
        # The same category names the topology component creates and tags with.
        "labels": {"region": cfg.topology.region_category, "zone": cfg.topology.zone_category},
    }
    nodes = _nodes(cpi.nodes)
    if nodes:
        doc["nodes"] = nodes
    nsxt = cpi.nsxt
    if nsxt is not None:
        section: dict[str, Any] = {
            "host": nsxt.host,
            "insecureFlag": nsxt.tls.insecure,
            "secretName": nsxt.secret_name,
            "secretNamespace": cpi.secret_namespace,
        }
        if nsxt.tls.ca_cert is not None:
            section["caFile"] = f"{CONFIG_DIR}/{NSXT_CA_FILE}"
        doc["nsxt"] = section
        lb = nsxt.load_balancer
        if lb is not None:
            doc["loadBalancer"] = {
                k: v
                for k, v in {
                    "size": lb.size,
                    "ipPoolName": lb.ip_pool_name,
                    "lbServiceId": lb.lb_service_id,
                    "tier1GatewayPath": lb.tier1_gateway_path,
                    "tcpAppProfileName": lb.tcp_app_profile_name,
                    "udpAppProfileName": lb.udp_app_profile_name,
                }.items()
                if v is not None
            }
        if nsxt.routes is not None:
            doc["route"] = {"routerPath": nsxt.routes.router_path}
    return doc


def render_vsphere_conf(cfg: StackConfig) -> str:
    return yaml.safe_dump(cpi_config(cfg), sort_keys=False, default_flow_style=False)


def config_map_data(cfg: StackConfig) -> dict[str, str]:
    """Everything the CPI mounts at /etc/cloud: the config and the CA certificates it names."""
    data = {CONFIG_FILE: render_vsphere_conf(cfg)}
    for vc in cfg.vcenters:
        if vc.tls.ca_cert is not None:
            data[ca_file_name(vc)] = vc.tls.ca_cert
    nsxt = cfg.cpi.nsxt
    if nsxt is not None and nsxt.tls.ca_cert is not None:
        data[NSXT_CA_FILE] = nsxt.tls.ca_cert
    return data


# What the API server accepts as a Secret data key (IsConfigMapKey).
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_SECRET_KEY_MAX = 253
# The CPI's credential manager (pkg/common/credentialmanager, v1.36.0) first files every key by
# its ending: "...username", "...password", "...vc-session-manager-url|token" are the
# ``<server>.<field>`` form and the server is what precedes the first ".<field>". Only the keys
# left over are read as the ``server_<id>``/``username_<id>``/``password_<id>`` form.
CPI_KEY_SUFFIXES = ("username", "password", "vc-session-manager-url", "vc-session-manager-token")


def _valid_secret_key(key: str) -> bool:
    return len(key) <= _SECRET_KEY_MAX and bool(_SECRET_KEY.match(key)) and not key.startswith("..")


def dotted_keys_work(server: str) -> bool:
    """Whether ``<server>.username``/``.password`` are valid keys the CPI maps back to ``server``.

    Not for an IPv6 address (``:``), nor a server holding ``.username``/``.password`` (the CPI
    would cut the key there).
    """
    keys = (f"{server}.username", f"{server}.password")
    return all(_valid_secret_key(k) for k in keys) and ".username" not in server and ".password" not in server


def alternate_key_id(vc: VCenter) -> str:
    """The ``<id>`` of a vCenter's ``server_<id>`` keys: its name (a DNS label, unique per stack)."""
    return vc.name


def alternate_id_issue(vc: VCenter) -> str | None:
    """Why the vCenter's name cannot be the ``<id>`` (the CPI would take its keys for the dotted form)."""
    ending = next((s for s in CPI_KEY_SUFFIXES if alternate_key_id(vc).endswith(s)), None)
    if ending is None:
        return None
    return (
        f"the CPI keys this vCenter's credentials as server_{vc.name} (its server cannot be part of a Secret key), "
        f"but a key ending in {ending!r} is read as <server>.{ending}: rename the vCenter"
    )


def cpi_credentials(cfg: StackConfig) -> dict[str, str]:
    """The CPI Secret's data in plaintext: wrap it in a secret before it leaves this call.

    ``<server>.username``/``<server>.password`` where the server can be part of a key;
    ``server_<id>``/``username_<id>``/``password_<id>`` otherwise (an IPv6 address).
    """
    data: dict[str, str] = {}
    for vc in cfg.vcenters:
        cred = cfg.credentials[vc.name].for_cpi
        if dotted_keys_work(vc.server):
            data[f"{vc.server}.username"] = cred.username
            data[f"{vc.server}.password"] = cred.password.get_secret_value()
        else:
            key_id = alternate_key_id(vc)
            data[f"server_{key_id}"] = vc.server
            data[f"username_{key_id}"] = cred.username
            data[f"password_{key_id}"] = cred.password.get_secret_value()
    return data


def nsxt_credentials(cfg: StackConfig) -> dict[str, str] | None:
    """The NSX-T Secret's data (keys ``username``/``password``), or None without NSX-T."""
    nsxt = cfg.cpi.nsxt
    if nsxt is None:
        return None
    cred = cfg.credentials[nsxt.vcenter or cfg.vcenters[0].name].nsxt
    if cred is None:
        raise ValueError("cpi.nsxt needs credentials.<vcenter>.nsxt; the config rules report this")
    return {"username": cred.username, "password": cred.password.get_secret_value()}


def needs_dual_stack_gate(cfg: StackConfig) -> bool:
    """Two IP families only work with the CPI's alpha gate (ENABLE_ALPHA_DUAL_STACK)."""
    return len(cfg.cpi.ip_family) > 1
