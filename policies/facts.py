"""Facts the rules derive from resource views: decoded user-data, kubeadm documents,
the CPI and CSI configs, tags and zones. Pure functions over :class:`ResourceView`.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import dataclasses
import gzip
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from vsphere_k8s.facts import VM_TYPE

from .view import UNKNOWN, ResourceView, is_unknown, of_type, referenced

VM = VM_TYPE
TAG = "vsphere:index/tag:Tag"
TAG_CATEGORY = "vsphere:index/tagCategory:TagCategory"
ANTI_AFFINITY = "vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule"
TAG_ATTACHMENT = "pulumi-python:dynamic/vsphere:TagAttachment"
VSPHERE_PROVIDER = "pulumi:providers:vsphere"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"  # noqa: S105 - a type token
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
WORKLOADS = (
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:core/v1:Pod",
)
CPI_CONFIG_KEY = "vsphere.conf"
CSI_CONFIG_KEY = "csi-vsphere.conf"
CSI_PROVISIONER = "csi.vsphere.vmware.com"
CPI_IMAGE = re.compile(r"/cloud-provider-vsphere:(v[0-9][^@\s]*)")
CSI_DRIVER_IMAGE = re.compile(r"/csi-vsphere/driver:(v[0-9][^@\s]*)")
CSI_SYNCER_IMAGE = re.compile(r"/csi-vsphere/syncer:(v[0-9][^@\s]*)")


# --------------------------------------------------------------------------- user-data


def guestinfo(vm: ResourceView, key: str) -> Any:
    """A decoded ``guestinfo.<key>`` (str), None when absent, UNKNOWN when not yet known."""
    extra = vm.prop("extraConfig")
    if is_unknown(extra):
        return UNKNOWN
    if not isinstance(extra, Mapping):
        return None
    value = extra.get(f"guestinfo.{key}")
    if is_unknown(value):
        return UNKNOWN
    if not isinstance(value, str):
        return None
    encoding = str(extra.get(f"guestinfo.{key}.encoding") or "").lower()
    try:
        if encoding in ("base64", "b64"):
            return base64.b64decode(value).decode()
        if encoding in ("gzip+base64", "gz+b64"):
            return gzip.decompress(base64.b64decode(value)).decode()
    except (binascii.Error, OSError, UnicodeDecodeError, EOFError):
        return None
    return value


def user_data(vm: ResourceView) -> Any:
    return guestinfo(vm, "userdata")


def _yaml_documents(text: str) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return []


def yaml_documents(text: str) -> list[Any]:
    """Every YAML document of a text; none when it does not parse."""
    return _yaml_documents(text)


def written_files(cloud_config: str) -> list[tuple[str, str]]:
    """(path, content) of each cloud-config ``write_files`` entry, decoded."""
    docs = _yaml_documents(cloud_config)
    if not docs or not isinstance(docs[0], Mapping):
        return []
    files = []
    for entry in docs[0].get("write_files") or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("content"), str):
            continue
        content = entry["content"]
        encoding = str(entry.get("encoding") or "").lower()
        try:
            if encoding in ("b64", "base64"):
                content = base64.b64decode(content).decode()
            elif encoding in ("gz+b64", "gzip+base64", "gz+base64", "gzip+b64"):
                content = gzip.decompress(base64.b64decode(content)).decode()
        except (binascii.Error, OSError, UnicodeDecodeError, EOFError):
            continue
        files.append((str(entry.get("path") or ""), content))
    return files


def kubeadm_documents(cloud_config: str) -> list[dict[str, Any]]:
    """Every kubeadm / kubelet configuration document the node's cloud-init writes."""
    docs = []
    for _path, content in written_files(cloud_config):
        for doc in _yaml_documents(content):
            api = str(doc.get("apiVersion", "")) if isinstance(doc, dict) else ""
            if api.startswith(("kubeadm.k8s.io/", "kubelet.config.k8s.io/")):
                docs.append(doc)
    return docs


def extra_args(section: Any) -> dict[str, str]:
    """kubeadm extraArgs in either shape: a map (v1beta3) or a list of {name, value} (v1beta4)."""
    if isinstance(section, Mapping):
        return {str(k): str(v) for k, v in section.items()}
    if isinstance(section, list):
        return {str(a.get("name")): str(a.get("value")) for a in section if isinstance(a, Mapping)}
    return {}


def node_role(vm: ResourceView) -> str | None:
    """ "control-plane" or "worker", from the kubeadm document the VM boots with.

    Before the user-data is known (a first preview), from the NodePool naming:
    the control-plane pool is named ``<cluster>-cp``.
    """
    text = user_data(vm)
    if isinstance(text, str):
        for doc in kubeadm_documents(text):
            if doc.get("kind") == "InitConfiguration":
                return "control-plane"
            if doc.get("kind") == "JoinConfiguration":
                return "control-plane" if doc.get("controlPlane") is not None else "worker"
    parent_name = (vm.parent or "").rsplit("::", 1)[-1]
    if parent_name.endswith("-cp") or "-cp-vm-" in vm.name:
        return "control-plane"
    return "worker" if text is not None else None


def kubernetes_version(resources: Sequence[ResourceView]) -> str | None:
    """The version kubeadm installs (ClusterConfiguration.kubernetesVersion), if any VM says."""
    for vm in of_type(resources, VM):
        text = user_data(vm)
        if not isinstance(text, str):
            continue
        for doc in kubeadm_documents(text):
            if doc.get("kind") == "ClusterConfiguration" and doc.get("kubernetesVersion"):
                return str(doc["kubernetesVersion"]).removeprefix("v")
    return None


def minor(version: str) -> int | None:
    match = re.match(r"^v?1\.(\d+)(\.|$)", version)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- CPI / CSI configs


def config_entries(resource: ResourceView) -> dict[str, Any]:
    """A ConfigMap's or Secret's entries as text (Secret ``data`` is base64); UNKNOWN kept."""
    entries: dict[str, Any] = {}
    for field in ("data", "stringData"):
        values = resource.prop(field)
        if is_unknown(values):
            continue
        for key, value in (values or {}).items() if isinstance(values, Mapping) else ():
            entries[str(key)] = _base64_text(value) if field == "data" and resource.type == SECRET else value
    return entries


def _base64_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return value  # not base64: judge the raw text


@dataclass(frozen=True)
class CpiConfig:
    source: ResourceView
    parsed: Mapping[str, Any]
    # The legacy INI format's sections (the CPI still reads it): [Global], [VirtualCenter "..."].
    ini: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def labels(self) -> Mapping[str, Any]:
        labels = self.parsed.get("labels")
        return labels if isinstance(labels, Mapping) else {}

    def insecure_entries(self) -> list[str]:
        """Where ``insecureFlag`` is on: "global", "vcenter <label>" and/or "nsxt <host>"."""
        found = []
        glob = self.parsed.get("global")
        if isinstance(glob, Mapping) and _truthy(glob.get("insecureFlag")):
            found.append("global")
        for label, vc in (self.parsed.get("vcenter") or {}).items():
            if isinstance(vc, Mapping) and _truthy(vc.get("insecureFlag")):
                found.append(f"vcenter {label}")
        nsxt = self.parsed.get("nsxt")  # the CPI's NSX-T manager (cpi.nsxt.tls.insecure)
        if isinstance(nsxt, Mapping) and _truthy(nsxt.get("insecureFlag")):
            found.append(f"nsxt {nsxt.get('host')}")
        for name, keys in self.ini.items():
            if _truthy(keys.get("insecure-flag")):
                found.append("global" if name == "Global" else f"vcenter {_ini_section_label(name)}")
        return found


@dataclass(frozen=True)
class CsiConfig:
    source: ResourceView
    sections: Mapping[str, Mapping[str, str]]

    @property
    def topology_categories(self) -> list[str]:
        raw = self.sections.get("Labels", {}).get("topology-categories", "")
        return [c.strip() for c in raw.split(",") if c.strip()]

    def insecure_vcenters(self) -> list[str]:
        """VirtualCenter sections that set insecure-flag themselves."""
        return [
            _ini_section_label(name)
            for name, keys in self.sections.items()
            if name.startswith("VirtualCenter") and _truthy(keys.get("insecure-flag"))
        ]

    @property
    def global_insecure(self) -> bool:
        """[Global] insecure-flag: the driver applies it to every VirtualCenter section whose own
        flag is not true (a section's ``false`` cannot undo it)."""
        return _truthy(self.sections.get("Global", {}).get("insecure-flag"))


def _ini_section_label(name: str) -> str:
    return name.removeprefix("VirtualCenter").strip().strip('"')


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().strip('"').lower() == "true")


def cpi_configs(resources: Sequence[ResourceView]) -> list[CpiConfig]:
    found = []
    for res in of_type(resources, CONFIG_MAP, SECRET):
        text = config_entries(res).get(CPI_CONFIG_KEY)
        if isinstance(text, str):
            docs = _yaml_documents(text)
            if docs and isinstance(docs[0], Mapping):
                found.append(CpiConfig(res, docs[0]))
            else:  # not YAML: the legacy INI format, read as the CSI's (the same gcfg syntax)
                found.append(CpiConfig(res, {}, parse_csi_conf(text)))
    return found


def parse_csi_conf(text: str) -> dict[str, dict[str, str]]:
    """csi-vsphere.conf (gcfg INI): sections with quoted values, as the driver reads them."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        parser.read_string(text)
    except configparser.Error:
        return {}
    return {s: {k: v.strip().strip('"') for k, v in parser.items(s)} for s in parser.sections()}


def csi_configs(resources: Sequence[ResourceView]) -> list[CsiConfig]:
    found = []
    for res in of_type(resources, SECRET):
        text = config_entries(res).get(CSI_CONFIG_KEY)
        if isinstance(text, str):
            found.append(CsiConfig(res, parse_csi_conf(text)))
    return found


# --------------------------------------------------------------------------- tags and zones


@dataclass(frozen=True)
class TagInfo:
    resource: ResourceView
    name: str
    category: str | None  # the category's name, None when the category is not in the stack


def tags(resources: Sequence[ResourceView]) -> list[TagInfo]:
    categories = of_type(resources, TAG_CATEGORY)
    infos = []
    for tag in of_type(resources, TAG):
        cats = referenced(tag, "categoryId", categories)
        category = cats[0].prop("name") if len(cats) == 1 else None
        infos.append(TagInfo(tag, str(tag.prop("name")), category if isinstance(category, str) else None))
    return infos


def tag_names_in(resources: Sequence[ResourceView], category: str) -> set[str]:
    return {t.name for t in tags(resources) if t.category == category}


@dataclass(frozen=True)
class Categories:
    region: str
    zone: str


def topology_categories(resources: Sequence[ResourceView], defaults: Categories) -> Categories:
    """The zone/region categories in force: the CPI's labels, else the configured defaults."""
    for cpi in cpi_configs(resources):
        region, zone = cpi.labels.get("region"), cpi.labels.get("zone")
        if isinstance(region, str) and isinstance(zone, str):
            return Categories(region, zone)
    return defaults


@dataclass(frozen=True)
class VmPlacement:
    vm: ResourceView
    zones: list[str]
    regions: list[str]
    resolved: bool  # False: some tag is not managed by this stack, so the count is not known


def vm_placements(resources: Sequence[ResourceView], categories: Categories) -> list[VmPlacement]:
    infos = tags(resources)
    by_urn = {t.resource.urn: t for t in infos}
    tag_views = [t.resource for t in infos]
    placements = []
    for vm in of_type(resources, VM):
        raw = vm.prop("tags")
        attached = [by_urn[t.urn] for t in referenced(vm, "tags", tag_views)]
        if raw is None or raw == []:
            resolved = True
        elif vm.property_dependencies.get("tags"):
            # The engine's view: references by dependency (ids are not in policy props).
            resolved = not isinstance(raw, list | tuple) or len(attached) >= len(raw)
        else:
            matched = {t.resource.id for t in attached}
            resolved = isinstance(raw, list | tuple) and all(isinstance(i, str) and i in matched for i in raw)
        resolved = resolved and all(t.category for t in attached)
        placements.append(
            VmPlacement(
                vm,
                sorted(t.name for t in attached if t.category == categories.zone),
                sorted(t.name for t in attached if t.category == categories.region),
                resolved,
            )
        )
    return placements


def zone_compute_clusters(resources: Sequence[ResourceView], categories: Categories) -> dict[str, str]:
    """Zone name -> ``<datacenter>/<compute cluster>`` it lies in, from where its TagAttachment puts the zone tag.

    A zone is a compute cluster or some hosts of one, so VMs of two zones can still share a
    cluster. Zones whose tag this stack does not attach are absent.
    """
    zone_tags = [t.resource for t in tags(resources) if t.category == categories.zone]
    found: dict[str, str] = {}
    for attachment in of_type(resources, TAG_ATTACHMENT):
        for tag in referenced(attachment, "tag_id", zone_tags):
            targets = attachment.props.get("targets")
            for target in targets if isinstance(targets, list | tuple) else []:
                if not isinstance(target, Mapping):
                    continue
                kind, datacenter = target.get("type"), target.get("datacenter")
                cluster = target.get("name") if kind == "ClusterComputeResource" else target.get("cluster")
                if kind in ("ClusterComputeResource", "HostSystem") and isinstance(cluster, str):
                    found[str(tag.prop("name"))] = f"{datacenter}/{cluster}"
    return found


def containers(workload: ResourceView) -> list[Mapping[str, Any]]:
    spec = (
        workload.prop("spec")
        if workload.type == "kubernetes:core/v1:Pod"
        else workload.prop("spec", "template", "spec")
    )
    if not isinstance(spec, Mapping):
        return []
    return [c for key in ("initContainers", "containers") for c in spec.get(key) or [] if isinstance(c, Mapping)]
