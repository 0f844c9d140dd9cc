"""Small builders of resource views for the policy tests: just the props a rule reads."""

from __future__ import annotations

import base64
from typing import Any

import yaml

from policies import facts
from policies.view import ResourceView

PROJECT = "vsphere-k8s"


def urn(type_: str, name: str, stack: str = "prod") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def view(type_: str, name: str, stack: str = "prod", **kw: Any) -> ResourceView:
    props = kw.pop("props", {})
    package = type_.split(":", 1)[0]
    if "provider" not in kw and package in ("vsphere", "kubernetes"):
        # As the program registers them: on its own explicit provider.
        kw["provider"] = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:{package}::{stack}-{package}::0f3a"
    return ResourceView(type=type_, name=name, urn=urn(type_, name, stack), props=props, **kw)


def category(name: str, cardinality: str = "SINGLE") -> ResourceView:
    return view(facts.TAG_CATEGORY, f"cat-{name}", props={"name": name, "cardinality": cardinality}, id=f"cat:{name}")


def tag(name: str, cat: ResourceView) -> ResourceView:
    return view(facts.TAG, f"tag-{name}", props={"name": name, "categoryId": cat.id}, id=f"tag:{name}")


def kubeadm_user_data(kind: str, *, cloud_provider: str | None = "external", control_plane: bool = False) -> str:
    node: dict[str, Any] = {"name": "n"}
    if cloud_provider is not None:
        node["kubeletExtraArgs"] = [{"name": "cloud-provider", "value": cloud_provider}]
    docs: list[dict[str, Any]] = [{"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": kind, "nodeRegistration": node}]
    if kind == "JoinConfiguration" and control_plane:
        docs[0]["controlPlane"] = {"localAPIEndpoint": {"bindPort": 6443}}
    if kind == "InitConfiguration":
        docs.append(
            {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration", "kubernetesVersion": "v1.31.4"}
        )
    content = yaml.safe_dump_all(docs)
    return "#cloud-config\n" + yaml.safe_dump(
        {"write_files": [{"path": "/etc/kubernetes/kubeadm.yaml", "content": content}]}
    )


def vm(
    name: str,
    tags: list[ResourceView] | None = None,
    *,
    user_data: str | None = None,
    hardware_version: Any = 19,
    disk_uuid: Any = True,
    stack: str = "prod",
) -> ResourceView:
    props: dict[str, Any] = {"name": name, "enableDiskUuid": disk_uuid, "tags": [t.id for t in tags or []]}
    if hardware_version is not None:
        props["hardwareVersion"] = hardware_version
    if user_data is not None:
        props["extraConfig"] = {
            "guestinfo.userdata": base64.b64encode(user_data.encode()).decode(),
            "guestinfo.userdata.encoding": "base64",
        }
    return view(facts.VM, name, stack, props=props, id=f"vm:{name}")


def control_plane_vm(name: str, tags: list[ResourceView], *, first: bool = False) -> ResourceView:
    kind = "InitConfiguration" if first else "JoinConfiguration"
    return vm(name, tags, user_data=kubeadm_user_data(kind, control_plane=True))


def anti_affinity(name: str, members: list[ResourceView], mandatory: bool = True) -> ResourceView:
    return view(facts.ANTI_AFFINITY, name, props={"virtualMachineIds": [m.id for m in members], "mandatory": mandatory})


VSPHERE_CONF = """global:
  port: 443
  insecureFlag: {insecure}
  secretName: vsphere-cloud-secret
  secretNamespace: kube-system
vcenter:
  east:
    server: vc.example
    datacenters: [dc-1]
labels:
  region: {region}
  zone: {zone}
"""


def cpi_configmap(*, region: str = "k8s-region", zone: str = "k8s-zone", insecure: bool = False) -> ResourceView:
    text = VSPHERE_CONF.format(region=region, zone=zone, insecure=str(insecure).lower())
    return view(
        facts.CONFIG_MAP,
        "cpi-config",
        props={
            "metadata": {"name": "vsphere-cloud-config", "namespace": "kube-system"},
            "data": {"vsphere.conf": text},
        },
    )


def cpi_secret(keys: tuple[str, ...] = ("vc.example.username", "vc.example.password")) -> ResourceView:
    return view(
        facts.SECRET,
        "cpi-secret",
        props={
            "metadata": {"name": "vsphere-cloud-secret", "namespace": "kube-system"},
            "stringData": {k: "x" for k in keys},
        },
        secret_props=frozenset({"stringData"}),
    )


def csi_secret(categories: str | None = "k8s-region, k8s-zone", insecure: bool = False) -> ResourceView:
    text = (
        '[Global]\ncluster-id = "prod"\n\n[VirtualCenter "vc.example"]\n'
        f'insecure-flag = "{str(insecure).lower()}"\nuser = "u"\npassword = "p"\nport = "443"\ndatacenters = "dc-1"\n'
    )
    if categories is not None:
        text += f'\n[Labels]\ntopology-categories = "{categories}"\n'
    return view(
        facts.SECRET,
        "csi-secret",
        props={
            "metadata": {"name": "vsphere-config-secret", "namespace": "vmware-system-csi"},
            "stringData": {"csi-vsphere.conf": text},
        },
        secret_props=frozenset({"stringData"}),
    )


def workload(name: str, containers: list[dict[str, Any]], kind: str = "DaemonSet") -> ResourceView:
    return view(
        f"kubernetes:apps/v1:{kind}",
        name,
        props={"metadata": {"name": name}, "spec": {"template": {"spec": {"containers": containers}}}},
    )


def storage_class(
    name: str,
    zones: list[str] | None = None,
    *,
    key: str = "topology.csi.vmware.com/k8s-zone",
    default: bool = False,
    provisioner: str = "csi.vsphere.vmware.com",
) -> ResourceView:
    props: dict[str, Any] = {"metadata": {"name": name}, "provisioner": provisioner}
    if default:
        props["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    if zones is not None:
        props["allowedTopologies"] = [{"matchLabelExpressions": [{"key": key, "values": zones}]}]
    return view(facts.STORAGE_CLASS, name, props=props)


class Topology:
    """Two regions' categories and three zones, as the prod example lays them out."""

    def __init__(self) -> None:
        self.region_cat = category("k8s-region")
        self.zone_cat = category("k8s-zone")
        self.east = tag("east", self.region_cat)
        self.zones = {z: tag(z, self.zone_cat) for z in ("east-a", "east-b", "east-c")}

    def resources(self) -> list[ResourceView]:
        return [self.region_cat, self.zone_cat, self.east, *self.zones.values()]

    def placed(self, zone: str) -> list[ResourceView]:
        return [self.zones[zone], self.east]
