"""Rules that span sections of the stack configuration.

Each rule returns every problem it finds as a :class:`ConfigIssue`, so that a
user fixes a stack in one round, not one error per ``pulumi preview``.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from .config import StackConfig
from .errors import ConfigIssue
from .facts import CONTROL_PLANE_SIZES, CONTROL_PLANE_SIZES_SAID
from .plan.addresses import CONTROL_PLANE, reservations_for_zone
from .plan.cpi_layout import zone_verdicts

Rule = Callable[[StackConfig], Iterable[ConfigIssue]]


def _dupes(names: Iterable[str]) -> list[str]:
    return sorted(name for name, n in Counter(names).items() if n > 1)


def unique_names(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for path, names in (
        ("vcenters", [v.name for v in cfg.vcenters]),
        ("topology.regions", [r.name for r in cfg.topology.regions]),
        ("topology.zones", [z.name for z in cfg.topology.zones]),
        ("nodePools.workers", [p.name for p in cfg.node_pools.workers]),
        ("storageClasses", [s.name for s in cfg.storage_classes]),
    ):
        for name in _dupes(names):
            yield ConfigIssue(f"{path}[{name}]", "name used more than once; names must be unique")
    servers = _dupes([f"{v.server}:{v.port}" for v in cfg.vcenters])
    for server in servers:
        yield ConfigIssue("vcenters", f"server {server} is listed twice")
    if cfg.topology.zone_category == cfg.topology.region_category:
        yield ConfigIssue("topology.zoneCategory", "must differ from topology.regionCategory")
    if CONTROL_PLANE in {p.name for p in cfg.node_pools.workers}:
        yield ConfigIssue(f"nodePools.workers[{CONTROL_PLANE}]", "the name is reserved for the control plane")


def references(cfg: StackConfig) -> Iterator[ConfigIssue]:
    vcenters = {v.name: v for v in cfg.vcenters}
    regions = {r.name for r in cfg.topology.regions}
    zones = {z.name for z in cfg.topology.zones}
    for region in cfg.topology.regions:
        placed = all(z.vcenter for z in cfg.topology.zones if z.region == region.name)
        if region.vcenter is None and len(cfg.vcenters) > 1 and not placed:
            yield ConfigIssue(
                f"topology.regions[{region.name}].vcenter",
                "required when more than one vCenter is configured",
            )
        elif region.vcenter is not None and region.vcenter not in vcenters:
            yield ConfigIssue(
                f"topology.regions[{region.name}].vcenter",
                f"names vCenter {region.vcenter!r}, which is not in vcenters ({', '.join(vcenters)})",
            )
    used_regions = {z.region for z in cfg.topology.zones}
    for region in cfg.topology.regions:
        if region.name not in used_regions:
            yield ConfigIssue(f"topology.regions[{region.name}]", "has no zone; every region needs at least one")
    for zone in cfg.topology.zones:
        path = f"topology.zones[{zone.name}]"
        if zone.region not in regions:
            yield ConfigIssue(
                f"{path}.region",
                f"names region {zone.region!r}, which is not in topology.regions ({', '.join(sorted(regions))})",
            )
            continue
        region = cfg.region(zone.region)
        if zone.vcenter is not None and zone.vcenter not in vcenters:
            yield ConfigIssue(
                f"{path}.vcenter",
                f"names vCenter {zone.vcenter!r}, which is not in vcenters ({', '.join(vcenters)})",
            )
            continue
        vc_name = zone.vcenter or region.vcenter or cfg.vcenters[0].name
        vc = vcenters.get(vc_name)
        if vc is not None and zone.datacenter not in vc.datacenters:
            yield ConfigIssue(
                f"{path}.datacenter",
                f"{zone.datacenter!r} is not one of vCenter {vc.name}'s datacenters ({', '.join(vc.datacenters)})",
            )
    pools = [("nodePools.controlPlane", cfg.node_pools.control_plane.replicas)] + [
        (f"nodePools.workers[{p.name}]", p.replicas) for p in cfg.node_pools.workers
    ]
    for path, replicas in pools:
        for zone_name in replicas:
            if zone_name not in zones:
                yield ConfigIssue(
                    f"{path}.replicas.{zone_name}",
                    f"zone {zone_name!r} is not in topology.zones ({', '.join(sorted(zones))})",
                )
    for sc in cfg.storage_classes:
        for zone_name in sc.zones:
            if zone_name not in zones:
                yield ConfigIssue(f"storageClasses[{sc.name}].zones", f"zone {zone_name!r} is not in topology.zones")


def cpi_layout_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """The zone and region the CPI would label each zone's nodes with, from the tags this stack places."""
    if not cfg.topology.attach_tags:
        return  # the tags are an administrator's: NodeBinding checks them against vCenter
    for verdict in zone_verdicts(cfg):
        if verdict.problem:
            yield ConfigIssue(f"topology.zones[{verdict.zone}].tagOn", verdict.problem)


def placement_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """Two zones in one place would give the CPI two answers for one VM."""
    placed: list[tuple[tuple[str, str, str], set[str], str]] = []
    for zone in cfg.topology.zones:
        where = (cfg.zone_vcenter(zone).name, zone.datacenter, zone.compute_cluster)
        hosts = set(zone.hosts)
        for other_where, other_hosts, other in placed:
            if where == other_where and (not hosts or not other_hosts or hosts & other_hosts):
                shared = ", ".join(sorted(hosts & other_hosts)) or f"cluster {zone.compute_cluster}"
                yield ConfigIssue(
                    f"topology.zones[{zone.name}].computeCluster",
                    f"{shared} is already zone {other}'s placement; a host or cluster carries one zone tag",
                )
        placed.append((where, hosts, zone.name))


def control_plane_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    cp = cfg.node_pools.control_plane
    if cp.count not in CONTROL_PLANE_SIZES:
        yield ConfigIssue(
            "nodePools.controlPlane.replicas",
            f"adds up to {cp.count} nodes; etcd needs an odd quorum of {CONTROL_PLANE_SIZES_SAID}",
        )
    for pool in cfg.node_pools.workers:
        if pool.count == 0:
            yield ConfigIssue(f"nodePools.workers[{pool.name}].replicas", "adds up to 0 nodes; remove the pool instead")
    if cfg.kubernetes.mode == "bootstrap" and cp.count > 1 and cfg.kubernetes.control_plane_endpoint is None:
        yield ConfigIssue(
            "kubernetes.controlPlaneEndpoint",
            "required with more than one control-plane node (the virtual IP in front of the API servers)",
        )


def network_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    k8s = cfg.kubernetes
    pod, svc = ipaddress.ip_network(k8s.pod_cidr), ipaddress.ip_network(k8s.service_cidr)
    if pod.overlaps(svc):
        yield ConfigIssue("kubernetes.serviceCidr", f"{svc} overlaps kubernetes.podCidr {pod}")
    for zone in cfg.topology.zones:
        subnet = zone.network.subnet
        if subnet is None:
            continue
        net = ipaddress.ip_network(subnet)
        for key, other in (("podCidr", pod), ("serviceCidr", svc)):
            if net.version == other.version and net.overlaps(other):
                yield ConfigIssue(
                    f"topology.zones[{zone.name}].network",
                    f"node network {net} overlaps kubernetes.{key} {other}",
                )
    endpoint = k8s.control_plane_endpoint
    if endpoint is None:
        return
    ip = ipaddress.ip_address(endpoint)
    for key, other in (("podCidr", pod), ("serviceCidr", svc)):
        if ip in other:
            yield ConfigIssue("kubernetes.controlPlaneEndpoint", f"{ip} lies inside kubernetes.{key} {other}")
    cp_zones = [cfg.zone(z) for z, n in cfg.node_pools.control_plane.replicas.items() if n and _has_zone(cfg, z)]
    for zone in cp_zones:
        subnet = zone.network.subnet
        if subnet is None:
            continue  # DHCP network without a declared cidr: nothing to check against
        if ip not in ipaddress.ip_network(subnet):
            yield ConfigIssue(
                "kubernetes.controlPlaneEndpoint",
                f"{ip} is outside {subnet}, the network of control-plane zone {zone.name}; "
                "the virtual IP must be reachable on every control-plane node's network",
            )
        static = zone.network.static
        if static is not None and (
            int(ipaddress.ip_address(static.range_start)) <= int(ip) <= int(ipaddress.ip_address(static.range_end))
        ):
            yield ConfigIssue(
                "kubernetes.controlPlaneEndpoint",
                f"{ip} lies inside zone {zone.name}'s node range {static.range_start}-{static.range_end}; "
                "a node would be given the virtual IP",
            )


def static_range_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for zone in cfg.topology.zones:
        static = zone.network.static
        if static is None:
            continue
        needed = sum(n for _pool, n in reservations_for_zone(cfg, zone.name))
        if needed > static.size:
            yield ConfigIssue(
                f"topology.zones[{zone.name}].network.static",
                f"range {static.range_start}-{static.range_end} holds {static.size} address(es) "
                f"but the node pools reserve {needed} in this zone",
            )


def tls_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for vc in cfg.vcenters:
        if vc.tls.insecure and not cfg.cluster.allow_insecure_tls:
            yield ConfigIssue(
                f"vcenters[{vc.name}].tls.insecure",
                "certificate verification can only be turned off with cluster.allowInsecureTls: true",
            )
        if vc.tls.thumbprint is not None and vc.tls.ca_cert is None:
            # The CPI, the CSI and the program's dynamic providers pin the thumbprint; the vSphere
            # provider plugin cannot (it has no CA or thumbprint input, only allowUnverifiedSsl) and
            # verifies with the trust store of the machine running Pulumi.
            yield ConfigIssue(
                f"vcenters[{vc.name}].tls.thumbprint",
                "the vSphere provider cannot pin a thumbprint: also set tls.caCert or tls.caCertFile (the CA "
                "that signed vCenter's certificate, which the machine running Pulumi must trust, e.g. through "
                "SSL_CERT_FILE); the CPI, the CSI and the program's own vCenter calls keep the thumbprint",
            )
    nsxt = cfg.cpi.nsxt
    if nsxt is not None and nsxt.tls.insecure and not cfg.cluster.allow_insecure_tls:
        yield ConfigIssue(
            "cpi.nsxt.tls.insecure",
            "certificate verification can only be turned off with cluster.allowInsecureTls: true",
        )


# Control characters the CSI's INI reader (gcfg) has no escape for: only \b, \t and \n round-trip.
_CONTROL = re.compile(r"[\x00-\x07\x0b-\x1f\x7f]")
# What the CSI driver accepts for its vCenter user: user@domain or DOMAIN\user.
_SSO_USER = re.compile(r"^[^@\\\s]+@[^@\\\s]+$|^[^@\\\s]+\\[^@\\\s]+$")


def credential_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    names = {v.name for v in cfg.vcenters}
    for vc in cfg.vcenters:
        if vc.name not in cfg.credentials:
            yield ConfigIssue(
                f"credentials.{vc.name}",
                "missing: run `pulumi config set --secret --path "
                f"'credentials.{vc.name}.username' ...` and the same for '.password'",
            )
    for name in cfg.credentials:
        if name not in names:
            yield ConfigIssue(f"credentials.{name}", "is not the name of a configured vCenter")
    for name, creds in cfg.credentials.items():
        accounts = {"": creds.program, "cpi.": creds.cpi, "csi.": creds.csi, "nsxt.": creds.nsxt}
        for prefix, cred in accounts.items():
            if cred is None:
                continue
            for key, value in (("username", cred.username), ("password", cred.password.get_secret_value())):
                if _CONTROL.search(value):
                    yield ConfigIssue(
                        f"credentials.{name}.{prefix}{key}",
                        "contains a control character the CSI's config format cannot hold (only tab, newline and "
                        "backspace can be escaped there)",
                    )
        csi_user = creds.for_csi.username
        if not _SSO_USER.match(csi_user):
            where = "csi.username" if creds.csi is not None else "username"
            yield ConfigIssue(
                f"credentials.{name}.{where}",
                f"{csi_user!r}: the CSI driver only accepts user@domain or DOMAIN\\user "
                "(it refuses its config otherwise)",
            )


def storage_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if not cfg.storage_classes:
        return
    defaults = [s.name for s in cfg.storage_classes if s.default]
    if len(defaults) != 1:
        yield ConfigIssue(
            "storageClasses",
            f"exactly one class must be default: true (found {len(defaults)}: {', '.join(defaults) or 'none'})",
        )


def kubernetes_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.kubernetes.mode == "existing" and cfg.kubernetes.control_plane_endpoint is not None:
        yield ConfigIssue(
            "kubernetes.controlPlaneEndpoint",
            "is read from the kubeconfig with mode: existing; remove it",
        )


def bootstrap_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """What kubeadm bootstrap (issue #4) and an existing cluster each need."""
    from . import versions

    k8s = cfg.kubernetes
    if k8s.mode == "existing":
        if k8s.cluster_ca is not None:
            yield ConfigIssue("kubernetes.clusterCa", "only used with mode: bootstrap; an existing cluster has its CA")
        if k8s.kubeconfig is None:
            yield ConfigIssue(
                "kubernetes.kubeconfig",
                "required with mode: existing (`pulumi config set --secret --path kubernetes.kubeconfig < file`)",
            )
        else:
            from .render.kubeconfig import KubeconfigError, endpoint_of

            try:
                endpoint_of(k8s.kubeconfig.get_secret_value())
            except KubeconfigError as exc:  # the message names what is missing, never the content
                yield ConfigIssue("kubernetes.kubeconfig", str(exc))
        return
    if k8s.kubeconfig is not None:
        yield ConfigIssue("kubernetes.kubeconfig", "only read with mode: existing; bootstrap makes its own")
    if k8s.cluster_ca is not None:
        yield from _cluster_ca_issues(k8s.cluster_ca.cert, k8s.cluster_ca.key.get_secret_value())
    if not versions.MIN_MINOR <= k8s.minor <= versions.MAX_MINOR:
        yield ConfigIssue(
            "kubernetes.version",
            f"{k8s.version}: bootstrap supports Kubernetes 1.{versions.MIN_MINOR} to 1.{versions.MAX_MINOR}",
        )
    if k8s.control_plane_endpoint is None:
        cp_zones = [z for z, n in cfg.node_pools.control_plane.replicas.items() if n and _has_zone(cfg, z)]
        if any(cfg.zone(z).network.static is None for z in cp_zones):
            yield ConfigIssue(
                "kubernetes.controlPlaneEndpoint",
                "required when the control plane takes its address by DHCP (nodes and clients need a fixed one)",
            )
    if k8s.cni.name == "cilium" and not k8s.cni.version.removeprefix("v").startswith("1."):
        yield ConfigIssue("kubernetes.cni.version", f"{k8s.cni.version!r} is not a Cilium release (1.x)")
    if k8s.cni.name == "calico" and not k8s.cni.version.startswith("v3."):
        yield ConfigIssue("kubernetes.cni.version", f"{k8s.cni.version!r} is not a Calico release tag (v3.x)")


def _cluster_ca_issues(cert_pem: str, key_pem: str) -> Iterator[ConfigIssue]:
    """The CA must be a CA and the key its own; messages never quote the key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        yield ConfigIssue("kubernetes.clusterCa.cert", "is not a PEM certificate")
        return
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        yield ConfigIssue("kubernetes.clusterCa.cert", "is not a CA certificate (basicConstraints CA:TRUE)")
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        yield ConfigIssue("kubernetes.clusterCa.key", "is not an unencrypted PEM private key")
        return
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, pub) != cert.public_key().public_bytes(
        serialization.Encoding.DER, pub
    ):
        yield ConfigIssue("kubernetes.clusterCa.key", "is not the private key of kubernetes.clusterCa.cert")


def node_name_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    from .plan.nodes import plan_nodes

    for node in plan_nodes(cfg):
        if len(node.name) > 63:
            yield ConfigIssue(
                f"nodePools.{'controlPlane' if node.is_control_plane else f'workers[{node.pool}]'}",
                f"node name {node.name!r} is {len(node.name)} characters; cluster, pool and zone names "
                "together must stay within 63",
            )
            return


def cloud_provider_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """CPI/CSI versions that run together, and NSX-T settings the CPI would refuse at start."""
    from .manifests.images import version_issues

    yield from version_issues(cfg)
    control_plane = cfg.node_pools.control_plane.count
    if cfg.kubernetes.mode == "bootstrap" and cfg.csi_controller_replicas > control_plane:
        yield ConfigIssue(
            "csi.controllerReplicas",
            f"{cfg.csi_controller_replicas} replicas need as many control-plane nodes (one per node); "
            f"the stack has {control_plane}",
        )
    for vc in cfg.vcenters:
        for dc in vc.datacenters:
            if "," in dc:
                yield ConfigIssue(f"vcenters[{vc.name}].datacenters", f"{dc!r}: the CSI config cannot hold a ','")
    yield from _vcenter_server_issues(cfg)
    nsxt = cfg.cpi.nsxt
    if nsxt is None:
        return
    vc_name = nsxt.vcenter or cfg.vcenters[0].name
    if nsxt.vcenter is not None and nsxt.vcenter not in {v.name for v in cfg.vcenters}:
        yield ConfigIssue("cpi.nsxt.vcenter", f"names vCenter {nsxt.vcenter!r}, which is not in vcenters")
    elif vc_name in cfg.credentials and cfg.credentials[vc_name].nsxt is None:
        yield ConfigIssue(
            f"credentials.{vc_name}.nsxt",
            "missing: the CPI's NSX-T account (`pulumi config set --secret --path "
            f"'credentials.{vc_name}.nsxt.username' ...` and '.password')",
        )
    if nsxt.tls.thumbprint is not None:
        yield ConfigIssue("cpi.nsxt.tls.thumbprint", "the CPI's NSX-T client trusts a CA (caCert), not a thumbprint")
    if nsxt.tls.ca_cert_file is not None:
        yield ConfigIssue("cpi.nsxt.tls.caCertFile", "not read for NSX-T; put the PEM text in cpi.nsxt.tls.caCert")
    lb = nsxt.load_balancer
    if lb is not None:
        path = "cpi.nsxt.loadBalancer"
        if (lb.lb_service_id is None) == (lb.tier1_gateway_path is None):
            yield ConfigIssue(path, "set exactly one of lbServiceId (unmanaged mode) or tier1GatewayPath (managed)")
        for key, value in (
            ("ipPoolName", lb.ip_pool_name),
            ("tcpAppProfileName", lb.tcp_app_profile_name),
            ("udpAppProfileName", lb.udp_app_profile_name),
        ):
            if value is None:
                yield ConfigIssue(f"{path}.{key}", "required: the CPI refuses a load balancer config without it")


def skew_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """Kubelets against the API server; the step from the running versions is checked at roll time."""
    from .plan import skew

    yield from skew.config_issues(skew.versions_of(cfg))


def template_rules(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """A template whose name says another Kubernetes version than its pool runs (its annotation is
    read from vCenter where the program looks the template up: components/lookups.py)."""
    from .template_versions import name_issues

    yield from name_issues(cfg)


def _server_host(server: str) -> str:
    """A vCenter server as the CPI and the CSI compare it: case-insensitive names, IPs in one spelling."""
    try:
        return str(ipaddress.ip_address(server))
    except ValueError:
        return server.lower()


def _vcenter_server_issues(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """Servers the CPI and the CSI can connect to and key credentials by."""
    from .render import vsphere_conf

    by_host: dict[str, list[str]] = {}
    for vc in cfg.vcenters:
        path = f"vcenters[{vc.name}].server"
        if "://" in vc.server or "/" in vc.server:
            yield ConfigIssue(
                path, f"{vc.server!r}: a host name or IP address, not a URL (the CPI and the CSI add https:// and port)"
            )
            continue
        if vc.server.startswith("[") or vc.server.endswith("]"):
            yield ConfigIssue(path, f"{vc.server!r}: write an IPv6 address without brackets")
            continue
        if not vsphere_conf.dotted_keys_work(vc.server):
            issue = vsphere_conf.alternate_id_issue(vc)
            if issue is not None:
                yield ConfigIssue(f"vcenters[{vc.name}].name", issue)
        by_host.setdefault(_server_host(vc.server), []).append(vc.name)
    for host, names in by_host.items():
        ports = sorted({cfg.vcenter(n).port for n in names})
        if len(names) > 1 and len(ports) > 1:
            # Same server and port is reported by unique_names.
            yield ConfigIssue(
                "vcenters",
                f"{', '.join(names)} share server {host} on ports {', '.join(map(str, ports))}: the CPI's "
                "credentials Secret and the CSI's [VirtualCenter] sections are keyed by server alone, so one "
                "vCenter's account would serve the other",
            )


def _has_zone(cfg: StackConfig, name: str) -> bool:
    return any(z.name == name for z in cfg.topology.zones)


RULES: tuple[Rule, ...] = (
    unique_names,
    references,
    placement_rules,
    cpi_layout_rules,
    control_plane_rules,
    network_rules,
    static_range_rules,
    tls_rules,
    credential_rules,
    storage_rules,
    kubernetes_rules,
    bootstrap_rules,
    node_name_rules,
    cloud_provider_rules,
    skew_rules,
    template_rules,
)


def check(cfg: StackConfig) -> list[ConfigIssue]:
    """Every cross-section problem of a structurally valid configuration."""
    # Rules after `references` assume references resolve; run them only then.
    ref_issues = list(unique_names(cfg)) + list(references(cfg))
    if ref_issues:
        return ref_issues + list(credential_rules(cfg)) + list(tls_rules(cfg))
    return [issue for rule in RULES for issue in rule(cfg)]


def check_partial(cfg: StackConfig) -> list[ConfigIssue]:
    """The cross-section problems visible in a configuration whose other sections failed validation.

    ``cfg`` holds only the sections that validated; a rule that needs a missing
    section cannot conclude anything and is passed over, so a structural error
    never hides an unrelated cross-field one.
    """
    issues: list[ConfigIssue] = []
    for rule in RULES:
        try:
            issues.extend(rule(cfg))
        except Exception:  # noqa: S112 - a rule that cannot read a broken section concludes nothing
            continue
    return issues
