"""Every policy of the pack as a pure function over :class:`ResourceView`.

A resource rule takes one resource and the policy's config and returns messages;
a stack rule takes all resources and returns :class:`Violation`s naming the
resource at fault. :data:`POLICIES` is the registry that both the Pulumi policy
pack (``__main__.py``) and the offline preview run.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vsphere_k8s.manifests import images

from . import facts
from .facts import (
    ANTI_AFFINITY,
    CONFIG_MAP,
    SECRET,
    STORAGE_CLASS,
    TAG_CATEGORY,
    VM,
    VSPHERE_PROVIDER,
    WORKLOADS,
    Categories,
)
from .view import ResourceView, contains_unknown, is_true, is_unknown, of_type, referenced

MIN_HARDWARE_VERSION = 15  # the CSI driver's floor (vmx-15)
CONTROL_PLANE_SIZES = (1, 3, 5)  # etcd quorum: even sizes add a failure point without adding tolerance


class Level(StrEnum):
    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str | None = None  # the resource at fault; None: the stack as a whole


ResourceRule = Callable[[ResourceView, Mapping[str, Any]], list[str]]
StackRule = Callable[[Sequence[ResourceView], Mapping[str, Any]], list[Violation]]


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    level: Level
    resource_rule: ResourceRule | None = None
    stack_rule: StackRule | None = None
    # JSON schema of the policy's own config properties, with defaults.
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    remediation: str = ""

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}


_CATEGORY_CONFIG: dict[str, dict[str, Any]] = {
    "zoneCategory": {"type": "string", "default": "k8s-zone"},
    "regionCategory": {"type": "string", "default": "k8s-region"},
}


def _categories(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> Categories:
    defaults = Categories(str(config.get("regionCategory", "k8s-region")), str(config.get("zoneCategory", "k8s-zone")))
    return facts.topology_categories(resources, defaults)


# --------------------------------------------------------------------------- node VMs


def vm_disk_uuid_and_hardware(vm: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """CSI attaches disks by their UUID and needs virtual hardware 15 or later."""
    if vm.type != VM:
        return []
    problems = []
    minimum = int(config.get("minHardwareVersion", MIN_HARDWARE_VERSION))
    uuid = vm.prop("enableDiskUuid")
    if not is_unknown(uuid) and uuid is not True:
        problems.append("enableDiskUuid must be true (disk.EnableUUID=TRUE): the CSI driver identifies disks by UUID")
    extra = vm.prop("extraConfig")
    if isinstance(extra, Mapping) and str(extra.get("disk.EnableUUID", "TRUE")).upper() == "FALSE":
        problems.append("extraConfig sets disk.EnableUUID=FALSE, which overrides enableDiskUuid")
    version = vm.prop("hardwareVersion")
    if version is None:
        problems.append(
            f"hardwareVersion is not set: the clone keeps the template's, which may be below {minimum}; "
            f"set it to {minimum} or later"
        )
    elif not is_unknown(version) and int(version) < minimum:
        problems.append(f"hardwareVersion {int(version)} is below {minimum}, the vSphere CSI driver's minimum")
    return problems


# --------------------------------------------------------------------------- TLS


def tls_verified(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """vCenter's certificate is verified, except on stacks the pack config names.

    The environment is the stack name in the URN, not anything the program
    declares: a change under review cannot relabel prod as a sandbox.
    """
    allowed = [str(s) for s in config.get("allowInsecureStacks", ["sim"])]
    if resource.stack in allowed:
        return []
    where = f"stack {resource.stack!r} (insecure TLS is allowed only on: {', '.join(allowed) or 'none'})"
    problems = []
    if resource.type == VSPHERE_PROVIDER and is_true(resource.prop("allowUnverifiedSsl")):
        problems.append(f"the vSphere provider sets allowUnverifiedSsl on {where}; trust vCenter's CA instead")
    if resource.type.startswith("pulumi-python:dynamic/") and is_true(resource.prop("insecure")):
        problems.append(f"this dynamic resource talks to vCenter with TLS verification off on {where}")
    if resource.type in (CONFIG_MAP, SECRET):
        for cpi in facts.cpi_configs([resource]):
            for entry in cpi.insecure_entries():
                problems.append(f"vsphere.conf ({entry}) sets insecureFlag on {where}; set caFile or thumbprint")
        for csi in facts.csi_configs([resource]):
            for vc in csi.insecure_vcenters():
                problems.append(f'csi-vsphere.conf [VirtualCenter "{vc}"] sets insecure-flag on {where}')
    return problems


# --------------------------------------------------------------------------- credentials

_CREDENTIAL_KEY = re.compile(
    r"(^|[._-])(password|passwd|passphrase|token|secret|private[._-]?key|client[._-]key[._-]data|"
    r"access[._-]?key|secret[._-]?key)$",
    re.IGNORECASE,
)
_CREDENTIAL_TEXT = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"^\s*password\s*[=:]\s*\S", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^\s*(client-key-data|token)\s*:\s*\S", re.MULTILINE),
    re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b"),  # kubeadm bootstrap token
)


def _camel_words(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key)


def credential_paths(value: Any, path: str = "") -> list[str]:
    """Paths under ``value`` that hold a credential, by key name or by content."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, inner in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(inner, str) and inner and _CREDENTIAL_KEY.search(_camel_words(str(key))):
                found.append(sub)
            else:
                found.extend(credential_paths(inner, sub))
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            found.extend(credential_paths(inner, f"{path}[{i}]"))
    elif isinstance(value, str) and any(p.search(value) for p in _CREDENTIAL_TEXT):
        found.append(path)
    return found


_NOT_CREDENTIALS = frozenset({"__provider"})  # the dynamic provider's pickle, secret by the SDK


def credentials_in_secrets(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """Credentials live in Kubernetes Secrets and Pulumi secrets only."""
    problems = []
    if resource.type == CONFIG_MAP:
        for key, value in facts.config_entries(resource).items():
            if _CREDENTIAL_KEY.search(key) or (isinstance(value, str) and credential_paths(value)):
                problems.append(f"ConfigMap entry {key!r} holds a credential; move it into a Secret")
    if resource.type in WORKLOADS:
        for container in facts.containers(resource):
            for env in container.get("env") or []:
                if isinstance(env, Mapping) and "value" in env and _CREDENTIAL_KEY.search(str(env.get("name", ""))):
                    problems.append(
                        f"container {container.get('name')!r} sets {env.get('name')} as a literal; "
                        "use valueFrom.secretKeyRef"
                    )
    if resource.secret_props is not None:  # the source told us which props are Pulumi secrets
        for key, value in resource.props.items():
            if key in resource.secret_props or key in _NOT_CREDENTIALS:
                continue
            paths = [key] if _CREDENTIAL_KEY.search(_camel_words(key)) and isinstance(value, str) and value else []
            paths = paths or credential_paths(value, key)
            what = "output" if not resource.custom else "input"
            problems.extend(
                f"{what} {p} holds a credential in plaintext; wrap it in pulumi.Output.secret" for p in paths
            )
    return problems


# --------------------------------------------------------------------------- in-tree cloud provider

_IN_TREE_FLAG = re.compile(r"--cloud-provider[= ]+[\"']?vsphere\b")
_CPI_IMAGE = re.compile(r"cloud-provider-vsphere|vsphere-cloud-controller-manager")
IN_TREE_PROVISIONER = "kubernetes.io/vsphere-volume"


def no_in_tree_cloud_provider(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """Out-of-tree only: kubelets with cloud-provider external, no in-tree flags or volume plugin."""
    problems: list[str] = []
    if resource.type == VM:
        text = facts.user_data(resource)
        if not isinstance(text, str):
            return []
        docs = facts.kubeadm_documents(text)
        for doc in docs:
            kind = doc.get("kind")
            if kind in ("InitConfiguration", "JoinConfiguration"):
                kubelet = facts.extra_args((doc.get("nodeRegistration") or {}).get("kubeletExtraArgs"))
                value = kubelet.get("cloud-provider")
                if value != "external":
                    problems.append(
                        f"{kind} runs the kubelet with cloud-provider={value or '(unset)'}; it must be "
                        "'external' so nodes wait for the vSphere CPI (uninitialized taint)"
                    )
            if kind == "ClusterConfiguration":
                for component in ("apiServer", "controllerManager"):
                    args = facts.extra_args((doc.get(component) or {}).get("extraArgs"))
                    if args.get("cloud-provider") not in (None, "external"):
                        problems.append(
                            f"ClusterConfiguration.{component} sets cloud-provider={args['cloud-provider']} "
                            "(the in-tree provider is removed)"
                        )
        if _IN_TREE_FLAG.search(text):
            problems.append("the node's user-data passes --cloud-provider=vsphere (in-tree, removed from Kubernetes)")
        return problems
    if resource.type in WORKLOADS:
        for container in facts.containers(resource):
            image = str(container.get("image") or "")
            if _CPI_IMAGE.search(image):
                continue  # the out-of-tree CPI itself takes --cloud-provider=vsphere
            words = " ".join(str(a) for key in ("command", "args") for a in container.get(key) or [])
            if _IN_TREE_FLAG.search(words):
                problems.append(f"container {container.get('name')!r} ({image}) runs with --cloud-provider=vsphere")
    if resource.type == STORAGE_CLASS and resource.prop("provisioner") == IN_TREE_PROVISIONER:
        problems.append(f"provisioner {IN_TREE_PROVISIONER} is the removed in-tree plugin; use {facts.CSI_PROVISIONER}")
    return problems


# --------------------------------------------------------------------------- tag categories


def tag_category_single(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """The CPI takes the one tag of the category nearest the VM: two would be ambiguous."""
    if resource.type != TAG_CATEGORY:
        return []
    cardinality = resource.prop("cardinality")
    if is_unknown(cardinality) or str(cardinality).upper() == "SINGLE":
        return []
    return [f"tag category {resource.prop('name')!r} has cardinality {cardinality}; zones and regions need SINGLE"]


# --------------------------------------------------------------------------- versions


def _image_tags(resources: Sequence[ResourceView], pattern: re.Pattern[str]) -> list[tuple[ResourceView, str]]:
    found = []
    for workload in of_type(resources, *WORKLOADS):
        for container in facts.containers(workload):
            match = pattern.search(str(container.get("image") or ""))
            if match:
                found.append((workload, match.group(1)))
    return found


def versions_supported(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """The CPI is built per Kubernetes minor; each CSI release supports a window of minors."""
    version = facts.kubernetes_version(resources) or config.get("kubernetesVersion")
    if not version:
        return []
    minor = facts.minor(str(version))
    if minor is None:
        return [Violation(f"cannot read the Kubernetes version {version!r}")]
    out = []
    for workload, tag in _image_tags(resources, facts.CPI_IMAGE):
        if not images.cpi_supports(tag, minor):
            out.append(
                Violation(
                    f"CPI {tag} is built for Kubernetes 1.{images.cpi_minor(tag)}, the cluster runs {version}; "
                    f"use {images.CPI_RELEASES.get(minor, f'a v1.{minor}.x release')}",
                    workload.urn,
                )
            )
    drivers = _image_tags(resources, facts.CSI_DRIVER_IMAGE)
    for workload, tag in drivers:
        release = images.csi_release(tag)
        if release is None:
            known = ", ".join(r.version for r in images.CSI_RELEASES)
            out.append(Violation(f"CSI driver {tag} is not a known release (known: {known})", workload.urn))
        elif not release.supports(minor):
            out.append(
                Violation(
                    f"CSI {tag} supports Kubernetes 1.{release.min_minor}-1.{release.max_minor}, not {version}",
                    workload.urn,
                )
            )
    driver_tags = {tag for _, tag in drivers}
    for workload, tag in _image_tags(resources, facts.CSI_SYNCER_IMAGE):
        if driver_tags and tag not in driver_tags:
            out.append(Violation(f"CSI syncer {tag} differs from the driver {sorted(driver_tags)}", workload.urn))
    return out


# --------------------------------------------------------------------------- zones


def vm_single_zone_and_region(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """Each node VM carries exactly one zone tag and one region tag."""
    cats = _categories(resources, config)
    out = []
    for place in facts.vm_placements(resources, cats):
        if not place.resolved:
            continue  # tags this stack does not manage: vCenter answers for them, not the program
        for kind, found, category in (("zone", place.zones, cats.zone), ("region", place.regions, cats.region)):
            if len(found) != 1:
                listed = ", ".join(found) or "none"
                out.append(
                    Violation(
                        f"node VM {place.vm.name} has {len(found)} {kind} tags of category {category!r} ({listed}); "
                        "it needs exactly one",
                        place.vm.urn,
                    )
                )
    return out


def control_plane_quorum_spread(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """1, 3 or 5 control-plane VMs, over as many zones as exist, apart from each other on hosts."""
    cats = _categories(resources, config)
    placements = [p for p in facts.vm_placements(resources, cats) if facts.node_role(p.vm) == "control-plane"]
    if not placements:
        return []
    out = []
    count = len(placements)
    if count not in CONTROL_PLANE_SIZES:
        out.append(Violation(f"the control plane has {count} nodes; etcd needs 1, 3 or 5"))
    if count == 1:
        return out
    if all(p.resolved for p in placements):
        zones = facts.tag_names_in(resources, cats.zone)
        used = Counter(p.zones[0] for p in placements if len(p.zones) == 1)
        wanted = min(count, len(zones)) if zones else len(used)
        if len(used) < wanted:
            spread = ", ".join(f"{z}: {n}" for z, n in sorted(used.items()))
            out.append(
                Violation(
                    f"the {count} control-plane nodes use {len(used)} of {len(zones)} zones ({spread}); "
                    f"spread them over {wanted} zones so one zone's loss keeps quorum"
                )
            )
        largest = max(used.values(), default=0)
        if len(used) > 1 and largest > count // 2:
            out.append(Violation(f"one zone holds {largest} of {count} control-plane nodes: losing it loses quorum"))
    # VMs that share a zone share hosts: a mandatory anti-affinity rule must keep them apart.
    vms = [p.vm for p in placements]
    together: dict[str, set[str]] = defaultdict(set)
    for rule in of_type(resources, ANTI_AFFINITY):
        if not is_true(rule.prop("mandatory")) and not is_unknown(rule.prop("mandatory")):
            continue
        members = {vm.urn for vm in referenced(rule, "virtualMachineIds", vms)}
        for urn in members:
            together[urn] |= members
    by_zone: dict[str, list[ResourceView]] = defaultdict(list)
    for p in placements:
        by_zone[p.zones[0] if len(p.zones) == 1 else "(no zone)"].append(p.vm)
    for zone, zone_vms in sorted(by_zone.items()):
        for i, a in enumerate(zone_vms):
            for b in zone_vms[i + 1 :]:
                if b.urn not in together[a.urn]:
                    out.append(
                        Violation(
                            f"control-plane VMs {a.name} and {b.name} share zone {zone} but no mandatory "
                            "VM anti-affinity rule keeps them on different hosts",
                            a.urn,
                        )
                    )
    return out


def categories_consistent(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """The tag categories, the CPI's labels and the CSI's topology-categories name the same things."""
    out = []
    category_names = {str(c.prop("name")) for c in of_type(resources, TAG_CATEGORY) if isinstance(c.prop("name"), str)}
    cpis, csis = facts.cpi_configs(resources), facts.csi_configs(resources)
    zoned = bool(facts.tags(resources)) or len(category_names) > 0
    cpi_labels: set[str] = set()
    for cpi in cpis:
        region, zone = cpi.labels.get("region"), cpi.labels.get("zone")
        if not (region and zone):
            if zoned:
                out.append(
                    Violation(
                        "vsphere.conf has no labels.region/labels.zone: the CPI will not label zones", cpi.source.urn
                    )
                )
            continue
        cpi_labels = {str(region), str(zone)}
        for kind, name in (("region", region), ("zone", zone)):
            if category_names and name not in category_names:
                out.append(
                    Violation(
                        f"vsphere.conf labels.{kind} is {name!r} but the stack's tag categories are "
                        f"{sorted(category_names)}",
                        cpi.source.urn,
                    )
                )
    for csi in csis:
        topo = set(csi.topology_categories)
        if not topo:
            if zoned:
                out.append(
                    Violation(
                        "csi-vsphere.conf has no [Labels] topology-categories: volumes ignore zones", csi.source.urn
                    )
                )
            continue
        expected = cpi_labels or category_names
        if expected and topo != expected:
            out.append(
                Violation(
                    f"csi-vsphere.conf topology-categories {sorted(topo)} differ from {sorted(expected)} "
                    "(the CPI's labels and the stack's tag categories)",
                    csi.source.urn,
                )
            )
    return out


_CSI_TOPOLOGY_KEY = "topology.csi.vmware.com/"
_K8S_ZONE_KEY = "topology.kubernetes.io/zone"
_K8S_REGION_KEY = "topology.kubernetes.io/region"


def storage_class_topologies(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """allowedTopologies use labels the CSI sets and name zones and regions that exist."""
    cats = _categories(resources, config)
    known = {
        cats.zone: facts.tag_names_in(resources, cats.zone),
        cats.region: facts.tag_names_in(resources, cats.region),
    }
    extra_zones = config.get("zones") or []  # zones whose tags exist outside this stack
    known[cats.zone] |= {str(z) for z in extra_zones}
    csi_categories = {c for csi in facts.csi_configs(resources) for c in csi.topology_categories}
    out = []
    for sc in of_type(resources, STORAGE_CLASS):
        topologies = sc.prop("allowedTopologies")
        if not isinstance(topologies, list) or contains_unknown(topologies):
            continue
        name = sc.prop("metadata", "name") or sc.name
        for term in topologies:
            for expr in (term or {}).get("matchLabelExpressions") or []:
                key, values = str(expr.get("key")), [str(v) for v in expr.get("values") or []]
                if key.startswith(_CSI_TOPOLOGY_KEY):
                    category = key.removeprefix(_CSI_TOPOLOGY_KEY)
                    if csi_categories and category not in csi_categories:
                        out.append(
                            Violation(
                                f"StorageClass {name} selects {key} but the CSI labels nodes only with "
                                f"{sorted(csi_categories)}",
                                sc.urn,
                            )
                        )
                        continue
                elif key == _K8S_ZONE_KEY:
                    category = cats.zone
                elif key == _K8S_REGION_KEY:
                    category = cats.region
                else:
                    out.append(Violation(f"StorageClass {name} selects unknown topology key {key}", sc.urn))
                    continue
                existing = known.get(category) or set()
                missing = [v for v in values if v not in existing]
                if existing and missing:
                    out.append(
                        Violation(
                            f"StorageClass {name} allows {key} in {missing}, which no {category} tag names "
                            f"(known: {sorted(existing)}); its volumes could never be placed",
                            sc.urn,
                        )
                    )
    return out


def single_default_storage_class(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """Two default StorageClasses make PVC placement depend on creation order."""
    defaults = [
        sc
        for sc in of_type(resources, STORAGE_CLASS)
        if is_true(sc.prop("metadata", "annotations", "storageclass.kubernetes.io/is-default-class"))
    ]
    if len(defaults) <= 1:
        return []
    names = ", ".join(str(sc.prop("metadata", "name") or sc.name) for sc in defaults)
    return [Violation(f"{len(defaults)} default StorageClasses ({names}); keep one", sc.urn) for sc in defaults[1:]]


def cpi_credentials_wired(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """vsphere.conf points at a Secret of this stack holding <server>.username/.password per vCenter."""
    secrets: dict[tuple[str, str], ResourceView] = {}
    for s in of_type(resources, SECRET):
        name, ns = s.prop("metadata", "name"), s.prop("metadata", "namespace") or "default"
        if isinstance(name, str) and isinstance(ns, str):
            secrets[(ns, name)] = s
    out = []
    for cpi in facts.cpi_configs(resources):
        glob = cpi.parsed.get("global") or {}
        for label, vc in (cpi.parsed.get("vcenter") or {}).items():
            if not isinstance(vc, Mapping):
                continue
            if vc.get("user") or glob.get("user"):
                continue  # inline credentials: the credentials policy judges those
            name = vc.get("secretName") or glob.get("secretName")
            namespace = vc.get("secretNamespace") or glob.get("secretNamespace") or "kube-system"
            if not name:
                out.append(Violation(f"vsphere.conf vcenter {label}: no secretName and no credentials", cpi.source.urn))
                continue
            secret = secrets.get((str(namespace), str(name)))
            if secret is None:
                out.append(
                    Violation(
                        f"vsphere.conf vcenter {label} reads Secret {namespace}/{name}, "
                        "which this stack does not create",
                        cpi.source.urn,
                    )
                )
                continue
            entries = facts.config_entries(secret)
            server = str(vc.get("server") or label)
            missing = [k for k in (f"{server}.username", f"{server}.password") if k not in entries]
            if missing and not contains_unknown(secret.prop("stringData")):
                out.append(
                    Violation(f"Secret {namespace}/{name} lacks {', '.join(missing)} for vCenter {server}", secret.urn)
                )
    return out


# --------------------------------------------------------------------------- the registry

POLICIES: tuple[Policy, ...] = (
    Policy(
        "node-vm-disk-uuid-and-hardware",
        "Node VMs set disk.EnableUUID and virtual hardware version 15 or later (vSphere CSI prerequisites).",
        Level.MANDATORY,
        resource_rule=vm_disk_uuid_and_hardware,
        config={"minHardwareVersion": {"type": "integer", "default": MIN_HARDWARE_VERSION}},
        remediation="Set enable_disk_uuid=True and hardware_version>=15 on the VirtualMachine.",
    ),
    Policy(
        "vcenter-tls-verified",
        "vCenter TLS is verified (provider, dynamic resources, vsphere.conf, csi-vsphere.conf) outside allowed stacks.",
        Level.MANDATORY,
        resource_rule=tls_verified,
        config={"allowInsecureStacks": {"type": "array", "items": {"type": "string"}, "default": ["sim"]}},
        remediation="Give the vCenter's CA (tls.caCertFile) or thumbprint instead of tls.insecure.",
    ),
    Policy(
        "credentials-only-in-secrets",
        "Credentials live in Kubernetes Secrets and Pulumi secrets, never in ConfigMaps, env literals or plaintext.",
        Level.MANDATORY,
        resource_rule=credentials_in_secrets,
    ),
    Policy(
        "no-in-tree-cloud-provider",
        "No in-tree vSphere cloud provider: kubelets run cloud-provider=external, no --cloud-provider=vsphere.",
        Level.MANDATORY,
        resource_rule=no_in_tree_cloud_provider,
    ),
    Policy(
        "tag-category-single-cardinality",
        "Zone and region tag categories have single cardinality.",
        Level.MANDATORY,
        resource_rule=tag_category_single,
    ),
    Policy(
        "cpi-csi-versions-supported",
        "The CPI and CSI images are releases that support the cluster's Kubernetes version.",
        Level.MANDATORY,
        stack_rule=versions_supported,
        config={"kubernetesVersion": {"type": "string"}},
    ),
    Policy(
        "node-vm-single-zone-and-region",
        "Every node VM carries exactly one zone tag and one region tag.",
        Level.MANDATORY,
        stack_rule=vm_single_zone_and_region,
        config=_CATEGORY_CONFIG,
    ),
    Policy(
        "control-plane-quorum-and-spread",
        "The control plane has 1, 3 or 5 nodes, spread across zones, kept apart by mandatory anti-affinity.",
        Level.MANDATORY,
        stack_rule=control_plane_quorum_spread,
        config=_CATEGORY_CONFIG,
    ),
    Policy(
        "topology-categories-consistent",
        "The zone/region tag categories, the CPI's labels and the CSI's topology-categories agree.",
        Level.MANDATORY,
        stack_rule=categories_consistent,
    ),
    Policy(
        "storage-class-topologies-exist",
        "StorageClass allowedTopologies use CSI topology labels and name zones that exist.",
        Level.MANDATORY,
        stack_rule=storage_class_topologies,
        config={**_CATEGORY_CONFIG, "zones": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    Policy(
        "cpi-credentials-wired",
        "vsphere.conf names a Secret of the stack that holds <server>.username/.password for each vCenter.",
        Level.MANDATORY,
        stack_rule=cpi_credentials_wired,
    ),
    Policy(
        "single-default-storage-class",
        "At most one StorageClass is the cluster default.",
        Level.ADVISORY,
        stack_rule=single_default_storage_class,
    ),
)


def policy(name: str) -> Policy:
    return next(p for p in POLICIES if p.name == name)
