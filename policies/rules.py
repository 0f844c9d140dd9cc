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

NODE_BINDING = "pulumi-python:dynamic/vsphere:NodeBinding"
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


def _in_tree_in_kubeadm(docs: Sequence[Mapping[str, Any]], *, kubelet_must_be_external: bool) -> list[str]:
    """What kubeadm documents say about the cloud provider: only ``external`` (or nothing) is out-of-tree."""
    problems: list[str] = []
    for doc in docs:
        kind = doc.get("kind")
        if kind in ("InitConfiguration", "JoinConfiguration"):
            kubelet = facts.extra_args((doc.get("nodeRegistration") or {}).get("kubeletExtraArgs"))
            value = kubelet.get("cloud-provider")
            if value != "external" and (kubelet_must_be_external or value is not None):
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
    return problems


def no_in_tree_cloud_provider(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """Out-of-tree only: kubelets with cloud-provider external, no in-tree flags or volume plugin."""
    problems: list[str] = []
    if resource.type == VM:
        text = facts.user_data(resource)
        if not isinstance(text, str):
            return []
        problems += _in_tree_in_kubeadm(facts.kubeadm_documents(text), kubelet_must_be_external=True)
        if _IN_TREE_FLAG.search(text):
            problems.append("the node's user-data passes --cloud-provider=vsphere (in-tree, removed from Kubernetes)")
        return problems
    if resource.type == CONFIG_MAP:
        # e.g. kube-system/kubeadm-config, or a kubelet flags file shipped as a ConfigMap.
        for key, value in facts.config_entries(resource).items():
            if not isinstance(value, str):
                continue
            docs = [d for d in facts.yaml_documents(value) if isinstance(d, Mapping)]
            for problem in _in_tree_in_kubeadm(docs, kubelet_must_be_external=False):
                problems.append(f"ConfigMap entry {key!r}: {problem}")
            if _IN_TREE_FLAG.search(value):
                problems.append(f"ConfigMap entry {key!r} passes --cloud-provider=vsphere (in-tree)")
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
    # VMs that share a compute cluster (a zone, or zones made of hosts of one cluster) may share a host:
    # a mandatory anti-affinity rule must keep them apart.
    vms = [p.vm for p in placements]
    together: dict[str, set[str]] = defaultdict(set)
    for rule in of_type(resources, ANTI_AFFINITY):
        if not is_true(rule.prop("mandatory")) and not is_unknown(rule.prop("mandatory")):
            continue
        members = {vm.urn for vm in referenced(rule, "virtualMachineIds", vms)}
        for urn in members:
            together[urn] |= members
    clusters = facts.zone_compute_clusters(resources, cats)
    by_place: dict[str, list[ResourceView]] = defaultdict(list)
    for p in placements:
        zone = p.zones[0] if len(p.zones) == 1 else "(no zone)"
        by_place[f"compute cluster {clusters[zone]}" if zone in clusters else f"zone {zone}"].append(p.vm)
    for place, place_vms in sorted(by_place.items()):
        for i, a in enumerate(place_vms):
            for b in place_vms[i + 1 :]:
                if b.urn not in together[a.urn]:
                    out.append(
                        Violation(
                            f"control-plane VMs {a.name} and {b.name} share {place} but no mandatory "
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
    # The node binding labels zones the way the CPI does: with other categories the two would fight.
    for binding in of_type(resources, NODE_BINDING):
        cats = (binding.prop("region_category"), binding.prop("zone_category"))
        expected_pair = _categories(resources, config)
        if all(isinstance(c, str) for c in cats) and cats != (expected_pair.region, expected_pair.zone):
            out.append(
                Violation(
                    f"NodeBinding {binding.name} reads categories {cats[0]!r}/{cats[1]!r}, the CPI "
                    f"{expected_pair.region!r}/{expected_pair.zone!r}",
                    binding.urn,
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


# --------------------------------------------------------------------------- wiring

_UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
_CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


def _tolerates(tolerations: Any, key: str, effect: str = "NoSchedule") -> bool:
    for t in tolerations if isinstance(tolerations, list) else []:
        if not isinstance(t, Mapping):
            continue
        exists = t.get("operator") == "Exists"
        key_ok = t.get("key") == key or (not t.get("key") and exists)
        if key_ok and t.get("effect") in (None, "", effect) and (exists or t.get("value") in ("true", None, "")):
            return True
    return False


def cpi_daemonset_wiring(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> list[Violation]:
    """The CPI can schedule on uninitialized control-plane nodes and finds its --cloud-config file.

    With kubelets on cloud-provider=external every node starts tainted until the CPI
    initializes it: a CPI that does not tolerate that taint never starts, and no node
    ever becomes schedulable.
    """
    out = []
    config_maps = {
        (str(r.prop("metadata", "namespace") or "default"), str(r.prop("metadata", "name"))): r
        for r in of_type(resources, CONFIG_MAP, SECRET)
    }
    for workload in of_type(resources, *WORKLOADS):
        spec = workload.prop("spec", "template", "spec")
        cpis = [c for c in facts.containers(workload) if _CPI_IMAGE.search(str(c.get("image") or ""))]
        if not cpis or not isinstance(spec, Mapping) or contains_unknown(spec):
            continue
        name = workload.prop("metadata", "name") or workload.name
        tolerations = spec.get("tolerations")
        if not _tolerates(tolerations, _UNINITIALIZED_TAINT):
            out.append(
                Violation(
                    f"CPI {name} does not tolerate {_UNINITIALIZED_TAINT}: no node would initialize", workload.urn
                )
            )
        if _CONTROL_PLANE_TAINT in repr(spec.get("affinity") or spec.get("nodeSelector") or "") and not _tolerates(
            tolerations, _CONTROL_PLANE_TAINT
        ):
            out.append(
                Violation(f"CPI {name} targets control-plane nodes but does not tolerate their taint", workload.urn)
            )
        namespace = str(workload.prop("metadata", "namespace") or "default")
        volumes = {str(v.get("name")): v for v in spec.get("volumes") or [] if isinstance(v, Mapping)}
        for container in cpis:
            args = [str(a) for key in ("command", "args") for a in container.get(key) or []]
            path = next((a.split("=", 1)[1] for a in args if a.startswith("--cloud-config=")), None)
            if path is None:
                continue
            directory, _, filename = path.rpartition("/")
            mounts = [
                m for m in container.get("volumeMounts") or [] if str(m.get("mountPath", "")).rstrip("/") == directory
            ]
            source = volumes.get(str(mounts[0].get("name"))) if mounts else None
            ref = (source or {}).get("configMap") or (source or {}).get("secret") or {}
            ref_name = ref.get("name") or ref.get("secretName")
            if not ref_name:
                out.append(
                    Violation(f"CPI {name}: --cloud-config={path} is not on a ConfigMap or Secret volume", workload.urn)
                )
                continue
            holder = config_maps.get((namespace, str(ref_name)))
            if holder is None:
                out.append(
                    Violation(
                        f"CPI {name} mounts {namespace}/{ref_name}, which this stack does not create", workload.urn
                    )
                )
            elif not ref.get("items") and filename not in facts.config_entries(holder):
                out.append(
                    Violation(
                        f"CPI {name} reads {path} but {namespace}/{ref_name} has no key {filename!r}", workload.urn
                    )
                )
    return out


def explicit_providers(resource: ResourceView, config: Mapping[str, Any]) -> list[str]:
    """vSphere and Kubernetes resources use the program's providers, never a default one.

    A default provider takes its target from the machine it runs on (VSPHERE_SERVER,
    ~/.kube/config): the same change could then land on another vCenter or cluster.
    """
    if not resource.custom or not resource.type.startswith(("vsphere:", "kubernetes:")):
        return []
    ref = resource.provider or ""
    parts = ref.split("::")
    provider_name = parts[3] if len(parts) > 3 else ""
    if provider_name and not provider_name.startswith("default"):
        return []
    package = resource.type.split(":", 1)[0]
    return [
        f"uses the default {package} provider, which targets whatever the environment points at; "
        "pass an explicit provider"
    ]


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
        "cpi-daemonset-wiring",
        "The CPI tolerates uninitialized (and control-plane) nodes and mounts the cloud config it reads.",
        Level.MANDATORY,
        stack_rule=cpi_daemonset_wiring,
    ),
    Policy(
        "explicit-providers",
        "vSphere and Kubernetes resources use explicit providers, never the ambient default provider.",
        Level.MANDATORY,
        resource_rule=explicit_providers,
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
