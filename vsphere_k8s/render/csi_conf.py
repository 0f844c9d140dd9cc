"""The CSI driver's ``csi-vsphere.conf``: INI as gopkg.in/gcfg reads it.

Every value is written double-quoted with gcfg's escapes, so that a password
holding ``;``, ``#``, ``"`` or ``\\`` reaches the driver unchanged. The text holds
credentials: callers wrap it in a secret (it lives only in the Secret
``vsphere-config-secret``).
"""

from __future__ import annotations

from vsphere_k8s.config import StackConfig, VCenter

NAMESPACE = "vmware-system-csi"
SECRET_NAME = "vsphere-config-secret"  # noqa: S105 - the Secret's name
CONFIG_FILE = "csi-vsphere.conf"
CONFIG_DIR = "/etc/cloud"  # where the controller mounts the Secret
TOPOLOGY_DOMAIN = "topology.csi.vmware.com"


def quote(value: str) -> str:
    """A gcfg quoted string: backslash, double quote and control characters escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def quote_subsection(name: str) -> str:
    # gcfg subsection names take only \\ and \" escapes and no newline.
    if "\n" in name:
        raise ValueError(f"a gcfg subsection name cannot hold a newline: {name!r}")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ca_file_name(vc: VCenter) -> str:
    return f"{vc.name}-ca.pem"


def topology_categories(cfg: StackConfig) -> list[str]:
    return [cfg.topology.region_category, cfg.topology.zone_category]


def topology_label(category: str) -> str:
    """The node label (and StorageClass topology key) the driver derives from a tag category."""
    return f"{TOPOLOGY_DOMAIN}/{category}"


def _section(header: str, pairs: list[tuple[str, str]]) -> list[str]:
    return [header, *(f"{key} = {quote(value)}" for key, value in pairs), ""]


def render_csi_conf(cfg: StackConfig) -> str:
    lines = _section(
        "[Global]",
        [("cluster-id", cfg.csi_cluster_id)]
        + ([("cluster-distribution", cfg.csi.cluster_distribution)] if cfg.csi.cluster_distribution else []),
    )
    for vc in cfg.vcenters:
        cred = cfg.credentials[vc.name].for_csi
        pairs = [
            ("insecure-flag", "true" if vc.tls.insecure else "false"),
            ("user", cred.username),
            ("password", cred.password.get_secret_value()),
            ("port", str(vc.port)),
            # The driver splits on ","; some of its readers do not trim spaces.
            ("datacenters", ",".join(vc.datacenters)),
        ]
        if vc.tls.ca_cert is not None:
            pairs.append(("ca-file", f"{CONFIG_DIR}/{ca_file_name(vc)}"))
        if vc.tls.thumbprint is not None:
            pairs.append(("thumbprint", vc.tls.thumbprint))
        lines += _section(f"[VirtualCenter {quote_subsection(vc.server)}]", pairs)
    if cfg.topology.zones:
        lines += _section("[Labels]", [("topology-categories", ",".join(topology_categories(cfg)))])
    return "\n".join(lines)


def secret_data(cfg: StackConfig) -> dict[str, str]:
    """The Secret's files: the config and the CA certificates it names (plaintext: wrap as secret)."""
    data = {CONFIG_FILE: render_csi_conf(cfg)}
    for vc in cfg.vcenters:
        if vc.tls.ca_cert is not None:
            data[ca_file_name(vc)] = vc.tls.ca_cert
    return data
