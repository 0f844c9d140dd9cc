"""The stack configuration: one typed model for the whole cluster.

Keys are camelCase in the stack YAML (as every Pulumi config is) and snake_case
here. Field-level rules live on the models; rules that span sections live in
:mod:`vsphere_k8s.config_rules` so that every problem can be reported at once.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

# RFC 1123 label: what Kubernetes accepts for node names and what vSphere, DNS
# and the CPI's name-based lookups all handle without escaping.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_THUMBPRINT = re.compile(r"^([0-9A-Fa-f]{2}:){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS label (lowercase letters, digits and '-', "
            "starting and ending alphanumeric, at most 63 characters)"
        )
    return value


def _k8s_version(value: str) -> str:
    match = _VERSION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes version like 1.31.4")
    major = int(match.group(1))
    if major != 1:
        raise ValueError(f"{value!r}: only Kubernetes 1.x is supported")
    return value.removeprefix("v")


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network in CIDR notation ({exc})") from None


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def _non_empty_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise ValueError("must not be empty")
    return value


def _release_tag(what: str) -> AfterValidator:
    """A version like 1.2.3 or v1.2.3, normalised to v1.2.3; ``what`` names it in the error."""

    def check(value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return "v" + value.removeprefix("v")

    return AfterValidator(check)


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
KubernetesVersion = Annotated[str, AfterValidator(_k8s_version)]
Cidr = Annotated[str, AfterValidator(_cidr)]
IpAddress = Annotated[str, AfterValidator(_ip)]
NonEmpty = Annotated[str, Field(min_length=1)]
NonEmptySecret = Annotated[SecretStr, AfterValidator(_non_empty_secret)]
CpiImageTag = Annotated[str, _release_tag("an image tag like v1.31.0")]
CsiRelease = Annotated[str, _release_tag("a release like v3.3.1")]


class Model(BaseModel):
    """Base: camelCase keys, unknown keys rejected, immutable after load."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


# --------------------------------------------------------------------------- cluster


class ClusterSettings(Model):
    name: DnsLabel
    environment: Literal["sim", "dev", "test", "staging", "prod"]
    # Insecure vCenter TLS is refused unless the stack opts in here; the policy
    # pack refuses the opt-in itself for prod.
    allow_insecure_tls: bool = False


# --------------------------------------------------------------------------- vCenter


class Tls(Model):
    """How the program, the CPI and the CSI trust vCenter's certificate."""

    ca_cert: str | None = None  # PEM text
    ca_cert_file: str | None = None  # read by the loader into ca_cert
    thumbprint: str | None = None
    insecure: bool = False

    @field_validator("thumbprint")
    @classmethod
    def _thumbprint(cls, value: str | None) -> str | None:
        if value is not None and not _THUMBPRINT.match(value):
            raise ValueError("expected a SHA-1 or SHA-256 fingerprint as colon-separated hex pairs (AA:BB:...)")
        return value.upper() if value else value

    @field_validator("ca_cert")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("expected a PEM certificate (-----BEGIN CERTIFICATE-----)")
        return value

    @model_validator(mode="after")
    def _one_trust_anchor(self) -> Tls:
        chosen = [
            key
            for key, on in (
                ("caCert", self.ca_cert is not None),
                ("caCertFile", self.ca_cert_file is not None),
                ("thumbprint", self.thumbprint is not None),
                ("insecure", self.insecure),
            )
            if on
        ]
        if not chosen:
            raise ValueError(
                "set one of caCert, caCertFile or thumbprint (or insecure: true, "
                "which also needs cluster.allowInsecureTls)"
            )
        if "insecure" in chosen and len(chosen) > 1:
            raise ValueError(f"insecure: true contradicts {', '.join(chosen[:-1])}")
        if "caCert" in chosen and "caCertFile" in chosen:
            raise ValueError("set caCert or caCertFile, not both")
        return self


class VCenter(Model):
    name: DnsLabel  # the key users and credentials refer to
    server: NonEmpty
    port: int = Field(default=443, ge=1, le=65535)
    datacenters: list[NonEmpty] = Field(min_length=1)
    tls: Tls

    @field_validator("datacenters")
    @classmethod
    def _datacenters_unique(cls, value: list[str]) -> list[str]:
        dupes = sorted({d for d in value if value.count(d) > 1})
        if dupes:
            raise ValueError(f"datacenters listed twice: {', '.join(dupes)}")
        return value


class Credential(Model):
    username: NonEmpty
    password: NonEmptySecret


class VCenterCredentials(Model):
    """One vCenter's accounts: the program's own and, optionally, narrower ones."""

    username: NonEmpty
    password: NonEmptySecret
    cpi: Credential | None = None
    csi: Credential | None = None
    nsxt: Credential | None = None  # the NSX-T manager paired with this vCenter (cpi.nsxt)

    @property
    def program(self) -> Credential:
        return Credential(username=self.username, password=self.password)

    @property
    def for_cpi(self) -> Credential:
        return self.cpi or self.program

    @property
    def for_csi(self) -> Credential:
        return self.csi or self.program


# --------------------------------------------------------------------------- topology


class StaticAddressing(Model):
    """A zone network's static addresses: nodes take theirs from ``range``."""

    cidr: Cidr
    gateway: IpAddress
    range_start: IpAddress
    range_end: IpAddress
    dns_servers: list[IpAddress] = Field(min_length=1)
    search_domains: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _addresses_inside_cidr(self) -> StaticAddressing:
        net = ipaddress.ip_network(self.cidr)
        problems = [
            f"{key} {value} is outside cidr {self.cidr}"
            for key, value in (
                ("gateway", self.gateway),
                ("rangeStart", self.range_start),
                ("rangeEnd", self.range_end),
            )
            if ipaddress.ip_address(value) not in net
        ]
        if problems:
            raise ValueError("; ".join(problems))
        start, end = int(ipaddress.ip_address(self.range_start)), int(ipaddress.ip_address(self.range_end))
        if start > end:
            raise ValueError(f"rangeStart {self.range_start} is after rangeEnd {self.range_end}")
        if start <= int(ipaddress.ip_address(self.gateway)) <= end:
            raise ValueError(f"gateway {self.gateway} lies inside the node range")
        return self

    @property
    def size(self) -> int:
        return int(ipaddress.ip_address(self.range_end)) - int(ipaddress.ip_address(self.range_start)) + 1

    @property
    def prefix_length(self) -> int:
        return ipaddress.ip_network(self.cidr).prefixlen


class ZoneNetwork(Model):
    name: NonEmpty  # the vSphere port group / network
    mode: Literal["dhcp", "static"] = "dhcp"
    cidr: Cidr | None = None  # known subnet for DHCP networks (for endpoint checks)
    static: StaticAddressing | None = None

    @model_validator(mode="after")
    def _static_section_matches_mode(self) -> ZoneNetwork:
        if self.mode == "static" and self.static is None:
            raise ValueError("mode static needs a static section (cidr, gateway, rangeStart, rangeEnd, dnsServers)")
        if self.mode == "dhcp" and self.static is not None:
            raise ValueError("a static section is only read with mode: static")
        if self.static is not None and self.cidr is not None and self.cidr != self.static.cidr:
            raise ValueError(f"cidr {self.cidr} differs from static.cidr {self.static.cidr}")
        return self

    @property
    def subnet(self) -> str | None:
        return self.static.cidr if self.static else self.cidr


class Region(Model):
    name: DnsLabel
    vcenter: DnsLabel | None = None  # defaults to the only vCenter


ZoneTagOn = Literal["datacenter", "cluster", "hosts"]


class Zone(Model):
    name: DnsLabel
    region: DnsLabel
    # The zone's vCenter, when its region spans several (defaults to the region's).
    vcenter: DnsLabel | None = None
    datacenter: NonEmpty
    # Placement: a compute cluster, optionally narrowed to a set of its hosts
    # (a "host group" zone).
    compute_cluster: NonEmpty
    hosts: list[NonEmpty] = Field(default_factory=list)
    datastore: NonEmpty
    network: ZoneNetwork
    folder: str | None = None
    resource_pool: str | None = None
    # Where the zone tag goes: the datacenter (a zone per datacenter), the cluster, or each of
    # ``hosts``. Default: the hosts when listed, else the cluster.
    tag_on: ZoneTagOn | None = None

    @model_validator(mode="after")
    def _tag_on_hosts_needs_hosts(self) -> Zone:
        if self.tag_on == "hosts" and not self.hosts:
            raise ValueError("tagOn: hosts needs the zone's hosts listed")
        return self

    @property
    def tag_target(self) -> ZoneTagOn:
        return self.tag_on or ("hosts" if self.hosts else "cluster")


class TopologySettings(Model):
    region_category: NonEmpty = "k8s-region"
    zone_category: NonEmpty = "k8s-zone"
    regions: list[Region] = Field(min_length=1)
    zones: list[Zone] = Field(min_length=1)
    # "stack": this stack creates the categories and tags. "existing": they are
    # shared with other clusters on the vCenter and only looked up by name.
    tags: Literal["stack", "existing"] = "stack"
    # Attach the zone/region tags to the datacenters, clusters and hosts (off when
    # an administrator keeps those tags and the stack must not touch them).
    attach_tags: bool = True


# --------------------------------------------------------------------------- node pools


class NodeShape(Model):
    template: NonEmpty
    cpus: int = Field(default=4, ge=1, le=768)
    memory_mib: int = Field(default=8192, ge=1024)
    disk_gib: int = Field(default=60, ge=20)
    # Addresses reserved per zone in the static range, so that growing this
    # pool never moves the addresses of pools listed after it.
    reserve_per_zone: int | None = Field(default=None, ge=1)
    # CPU and memory grow on the running VM (vSphere hot-add, which the guest OS must support);
    # off, a new cpus/memoryMib rolls the pool's nodes instead.
    hot_add: bool = False


class ControlPlanePool(NodeShape):
    replicas: dict[DnsLabel, Annotated[int, Field(ge=0, le=5)]] = Field(min_length=1)
    # Replacing a node of a one-node control plane leaves etcd without quorum while its new
    # member joins: such a roll needs this opt-in.
    allow_unsafe_roll: bool = False

    @property
    def count(self) -> int:
        return sum(self.replicas.values())


class WorkerPool(NodeShape):
    name: DnsLabel
    replicas: dict[DnsLabel, Annotated[int, Field(ge=0, le=500)]] = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    # The kubelets' version; by default the control plane's (kubernetes.version). Pinned to the
    # old version while the control plane moves first, then bumped.
    kubernetes_version: KubernetesVersion | None = None
    # How a roll replaces the pool's nodes (vsphere_k8s/plan/roll.py), one of the two per pool:
    # maxSurge > 0 makes maxSurge new nodes (new names) at once, each batch Ready before the next,
    # and retires the old ones once every replacement is Ready (Pulumi deletes after creating): the
    # pool never has fewer than its replicas. maxSurge 0 with maxUnavailable > 0 retires
    # maxUnavailable old nodes first, then makes their replacements under the same names (and
    # addresses), batch by batch: for pools without spare capacity or with static addresses.
    max_surge: int = Field(default=1, ge=0, le=100)
    max_unavailable: int = Field(default=0, ge=0, le=100)

    @model_validator(mode="before")
    @classmethod
    def _max_unavailable_checked(cls, data: Any) -> Any:
        # maxSurge 0 with maxUnavailable left out is an error too; a defaulted field's error would
        # name max_unavailable, so the default is given as if written.
        if isinstance(data, dict) and "maxUnavailable" not in data and "max_unavailable" not in data:
            return {**data, "maxUnavailable": 0}
        return data

    @field_validator("max_unavailable")
    @classmethod
    def _one_roll_mode(cls, value: int, info: ValidationInfo) -> int:
        surge = info.data.get("max_surge")
        if surge is None:  # maxSurge itself was invalid: reported on its own
            return value
        if surge == 0 and value == 0:
            raise ValueError("0 with maxSurge 0: a roll could replace no node; set one of them above 0")
        if surge > 0 and value > 0:
            raise ValueError(
                f"{value} with maxSurge {surge}: a pool rolls either surging (maxSurge, new names, old nodes "
                "retired last) or deleting first (maxSurge: 0, maxUnavailable, same names); set one to 0"
            )
        return value

    @property
    def count(self) -> int:
        return sum(self.replicas.values())


class NodePools(Model):
    control_plane: ControlPlanePool
    workers: list[WorkerPool] = Field(default_factory=list)
    ssh_authorized_keys: list[str] = Field(default_factory=list)
    # How long `up` waits, per VM, for VMware Tools to report a routable address before the VM
    # counts as created (the vSphere provider's own default: 5). 0 does not wait: for guests
    # that never report one (a simulator, an image without open-vm-tools).
    wait_for_guest_net_minutes: int = Field(default=5, ge=0, le=60)
    # Day 2: how long a new node may take to be Ready (and its etcd member healthy), and how long
    # a drain may wait on PodDisruptionBudgets, before the `up` fails naming what blocks.
    ready_timeout_seconds: int = Field(default=900, ge=10, le=7200)
    drain_timeout_seconds: int = Field(default=600, ge=10, le=7200)


# --------------------------------------------------------------------------- Kubernetes


class Cni(Model):
    name: Literal["calico", "cilium", "none"] = "calico"
    version: NonEmpty = "v3.28.2"


class EtcdAccess(Model):
    """How the program reaches the control plane's etcd (mode existing): client URLs and a client cert."""

    endpoints: list[Annotated[str, Field(pattern=r"^https?://\S+$")]] = Field(min_length=1)
    ca_cert: str | None = None  # PEM; required with https endpoints
    client_cert: str | None = None  # PEM
    client_key: SecretStr | None = None  # PEM (`pulumi config set --secret --path kubernetes.etcd.clientKey`)
    # Stacked etcd (kubeadm's default topology): the port each control-plane node's own member serves
    # clients on (2379). With it a node's member is also reached at its Node's InternalIP, so endpoints
    # that a control-plane roll retired do not strand the next admission or retirement.
    node_client_port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _tls_complete(self) -> EtcdAccess:
        if any(e.startswith("https://") for e in self.endpoints) and None in (
            self.ca_cert,
            self.client_cert,
            self.client_key,
        ):
            raise ValueError("https endpoints need caCert, clientCert and clientKey")
        return self


class ClusterCa(Model):
    """mode bootstrap: sign the cluster with this CA (e.g. an intermediate of the site's PKI) instead of a new one."""

    cert: NonEmpty  # PEM certificate of a CA
    key: NonEmptySecret  # its PEM private key (`pulumi config set --secret --path kubernetes.clusterCa.key`)


class Kubernetes(Model):
    version: KubernetesVersion
    # "bootstrap": the program creates the cluster with kubeadm.
    # "existing": a kubeconfig (secret config key `kubeconfig`) names a cluster
    # whose nodes are already this stack's VMs or someone else's.
    mode: Literal["bootstrap", "existing"] = "bootstrap"
    pod_cidr: Cidr = "10.244.0.0/16"
    service_cidr: Cidr = "10.96.0.0/12"
    control_plane_endpoint: IpAddress | None = None
    control_plane_port: int = Field(default=6443, ge=1, le=65535)
    cluster_domain: NonEmpty = "cluster.local"
    packages_preinstalled: bool = False  # kubeadm/kubelet/containerd already in the template
    cni: Cni = Field(default_factory=Cni)
    api_ready_timeout_seconds: int = Field(default=900, ge=30, le=7200)
    # mode existing: the cluster's kubeconfig (`pulumi config set --secret --path kubernetes.kubeconfig`).
    kubeconfig: SecretStr | None = None
    # The NIC kube-vip announces the VIP on; by default the one routing to it, found at boot.
    vip_interface: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_.-]{1,15}$")] | None = None
    # mode bootstrap: how long a node's join token is accepted by the API server after it is
    # created; the join material in the VM's guestinfo is useless (and removed) after that.
    join_token_ttl_minutes: int = Field(default=60, ge=10, le=1440)
    cluster_ca: ClusterCa | None = None
    # The control plane's etcd, for removing the member of a retired control-plane node.
    etcd: EtcdAccess | None = None
    # mode bootstrap: the program reaches kubeadm's etcd on the control-plane nodes with its own client
    # certificate. Off where the nodes run no etcd of kubeadm's (the e2e world's boot stack): a retired
    # control-plane node is drained and its Node deleted, its member left alone, and a new node is
    # admitted on its Ready Node alone.
    etcd_member_removal: bool = True
    # mode bootstrap: move kubeadm's kube-proxy and CoreDNS with the control plane's minor, as
    # `kubeadm upgrade apply` would. Off where something else owns them (a Helm-managed CoreDNS).
    kubeadm_addons: bool = True

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])


# --------------------------------------------------------------------------- CPI / CSI


class NodeAddressing(Model):
    """How the CPI picks node addresses (vsphere.conf ``nodes``)."""

    internal_network_subnet_cidr: Cidr | None = None
    external_network_subnet_cidr: Cidr | None = None
    internal_vm_network_name: str | None = None
    external_vm_network_name: str | None = None
    exclude_internal_network_subnet_cidr: list[Cidr] = Field(default_factory=list)
    exclude_external_network_subnet_cidr: list[Cidr] = Field(default_factory=list)


class NsxtLoadBalancer(Model):
    ip_pool_name: str | None = None
    size: Literal["SMALL", "MEDIUM", "LARGE", "XLARGE"] = "SMALL"
    lb_service_id: str | None = None
    tier1_gateway_path: str | None = None
    tcp_app_profile_name: str | None = None
    udp_app_profile_name: str | None = None


class NsxtRoutes(Model):
    router_path: NonEmpty
    cluster_cidr: Cidr | None = None  # defaults to kubernetes.podCidr


class Nsxt(Model):
    """NSX-T integration of the CPI: load balancers and pod routes."""

    host: NonEmpty
    tls: Tls
    # Whose `credentials.<vcenter>.nsxt` account the CPI uses; defaults to the first vCenter.
    vcenter: DnsLabel | None = None
    secret_name: DnsLabel = "vsphere-nsxt-credentials"  # noqa: S105 - a Secret's name, not a password
    load_balancer: NsxtLoadBalancer | None = None
    routes: NsxtRoutes | None = None

    @model_validator(mode="after")
    def _load_balancer_or_routes(self) -> Nsxt:
        if self.load_balancer is None and self.routes is None:
            raise ValueError("enable loadBalancer, routes or both, or remove the nsxt section")
        return self


IpFamily = Literal["ipv4", "ipv6"]


def _ipv4_only() -> list[IpFamily]:
    return ["ipv4"]


class Cpi(Model):
    version: CpiImageTag | None = None  # default follows the Kubernetes minor
    secret_name: DnsLabel = "vsphere-cloud-secret"  # noqa: S105 - a Secret's name, not a password
    # Only the credentials Secrets live here; the CPI itself stays in kube-system, as upstream keeps it.
    secret_namespace: DnsLabel = "kube-system"  # noqa: S105
    # The stack creates secretNamespace unless it is one every cluster has (or the CSI's own);
    # false: it already exists and someone else owns it.
    create_secret_namespace: bool = True
    ip_family: list[IpFamily] = Field(default_factory=_ipv4_only, min_length=1, max_length=2)
    nodes: NodeAddressing = Field(default_factory=NodeAddressing)
    nsxt: Nsxt | None = None


class Csi(Model):
    version: CsiRelease | None = None  # default is the pinned one
    cluster_id: str | None = Field(default=None, max_length=64)
    cluster_distribution: str | None = None
    # Default: one per control-plane node (upstream runs 3; the pods keep apart by anti-affinity).
    controller_replicas: int | None = Field(default=None, ge=1, le=5)
    # The csi-snapshotter sidecar needs the VolumeSnapshot CRDs and a snapshot-controller, which
    # this program does not install. "off": no sidecar. "external": the cluster already runs both
    # at the version upstream qualifies for the release (the sidecar's own version).
    snapshots: Literal["off", "external"] = "off"


class StorageClass(Model):
    name: DnsLabel
    default: bool = False
    storage_policy_name: str | None = None
    datastore_url: str | None = None
    fs_type: Literal["ext4", "xfs"] = "ext4"
    reclaim_policy: Literal["Delete", "Retain"] = "Delete"
    allow_volume_expansion: bool = True
    # zones: restrict to these zones; perZone: one class per zone, "<name>-<zone>".
    zones: list[DnsLabel] = Field(default_factory=list)
    per_zone: bool = False

    @model_validator(mode="after")
    def _per_zone_or_zones(self) -> StorageClass:
        if self.per_zone and self.zones:
            raise ValueError("perZone makes one class per zone; it cannot be combined with zones")
        return self


class VSphereRoles(Model):
    """Least-privilege vCenter roles for the CPI and CSI accounts."""

    create: bool = False
    cpi_role_name: NonEmpty = "k8s-cpi"
    csi_role_name: NonEmpty = "k8s-csi"


class NodeBindingSettings(Model):
    """Binding each node to its VM (providers/node_binding): providerID and topology labels.

    verify: wait for the CPI and fail on a mismatch; enforce: write them (before or
    without the CPI); off: no NodeBinding resources.
    """

    mode: Literal["verify", "enforce", "off"] = "verify"
    timeout_seconds: int = Field(default=900, ge=10, le=7200)


# --------------------------------------------------------------------------- the stack


class StackConfig(Model):
    cluster: ClusterSettings
    vcenters: list[VCenter] = Field(min_length=1)
    credentials: dict[str, VCenterCredentials] = Field(default_factory=dict)
    topology: TopologySettings
    node_pools: NodePools
    kubernetes: Kubernetes
    cpi: Cpi = Field(default_factory=Cpi)
    csi: Csi = Field(default_factory=Csi)
    storage_classes: list[StorageClass] = Field(default_factory=list)
    vsphere_roles: VSphereRoles = Field(default_factory=VSphereRoles)
    node_binding: NodeBindingSettings = Field(default_factory=NodeBindingSettings)

    # Look-ups used everywhere; cheap enough to derive on demand.
    def vcenter(self, name: str) -> VCenter:
        return next(v for v in self.vcenters if v.name == name)

    def region(self, name: str) -> Region:
        return next(r for r in self.topology.regions if r.name == name)

    def zone(self, name: str) -> Zone:
        return next(z for z in self.topology.zones if z.name == name)

    def region_vcenter(self, region: Region) -> VCenter:
        return self.vcenter(region.vcenter) if region.vcenter else self.vcenters[0]

    def zone_vcenter(self, zone: Zone) -> VCenter:
        return self.vcenter(zone.vcenter) if zone.vcenter else self.region_vcenter(self.region(zone.region))

    @property
    def csi_cluster_id(self) -> str:
        return self.csi.cluster_id or self.cluster.name

    @property
    def csi_controller_replicas(self) -> int:
        return self.csi.controller_replicas or max(1, self.node_pools.control_plane.count)
