"""Every policy of the pack as a pure function over :class:`ResourceView`, one module per concern.

A resource rule takes one resource and the policy's config and returns messages;
a stack rule takes all resources and returns :class:`Violation`s naming the
resource at fault. :data:`POLICIES` is the registry that both the Pulumi policy
pack (``__main__.py``) and the offline preview run.

- :mod:`.base`: levels, violations, the Policy record, the zone/region categories
- :mod:`.node_vms`: CSI prerequisites on node VMs
- :mod:`.tls`: vCenter TLS verification
- :mod:`.credentials`: credentials only in secrets
- :mod:`.in_tree`: no in-tree cloud provider or volume plugin
- :mod:`.tag_categories`: single-cardinality categories, named alike everywhere
- :mod:`.versions`: CPI/CSI releases for the Kubernetes version
- :mod:`.zones`: node VMs in one zone; the control plane's quorum and spread
- :mod:`.storage`: StorageClass topologies, the default class, the snapshotter's backing
- :mod:`.wiring`: the CPI's credentials, cloud config and tolerations; explicit providers
- :mod:`.join_material`: join material in guestinfo is short-lived and removed after the join
"""

from __future__ import annotations

from vsphere_k8s.facts import CONTROL_PLANE_SIZES_SAID, MIN_HARDWARE_VERSION

from .base import CATEGORY_CONFIG, Level, Policy, ResourceRule, StackRule, Violation
from .credentials import credential_paths, credentials_in_secrets
from .in_tree import IN_TREE_PROVISIONER, no_in_tree_cloud_provider
from .join_material import NODE_JOIN, join_material_short_lived
from .node_vms import vm_disk_uuid_and_hardware
from .storage import single_default_storage_class, snapshotter_backed, storage_class_topologies
from .tag_categories import NODE_BINDING, categories_consistent, tag_category_single
from .tls import tls_verified
from .versions import versions_supported
from .wiring import cpi_credentials_wired, cpi_daemonset_wiring, explicit_providers
from .zones import control_plane_quorum_spread, vm_single_zone_and_region

__all__ = [
    "IN_TREE_PROVISIONER",
    "NODE_BINDING",
    "NODE_JOIN",
    "POLICIES",
    "Level",
    "Policy",
    "ResourceRule",
    "StackRule",
    "Violation",
    "categories_consistent",
    "control_plane_quorum_spread",
    "cpi_credentials_wired",
    "cpi_daemonset_wiring",
    "credential_paths",
    "credentials_in_secrets",
    "explicit_providers",
    "join_material_short_lived",
    "no_in_tree_cloud_provider",
    "policy",
    "single_default_storage_class",
    "snapshotter_backed",
    "storage_class_topologies",
    "tag_category_single",
    "tls_verified",
    "versions_supported",
    "vm_disk_uuid_and_hardware",
    "vm_single_zone_and_region",
]

POLICIES: tuple[Policy, ...] = (
    Policy(
        "node-vm-disk-uuid-and-hardware",
        f"Node VMs set disk.EnableUUID and virtual hardware version {MIN_HARDWARE_VERSION} or later "
        "(vSphere CSI prerequisites).",
        Level.MANDATORY,
        resource_rule=vm_disk_uuid_and_hardware,
        config={"minHardwareVersion": {"type": "integer", "default": MIN_HARDWARE_VERSION}},
        remediation=f"Set enable_disk_uuid=True and hardware_version>={MIN_HARDWARE_VERSION} on the VirtualMachine.",
    ),
    Policy(
        "vcenter-tls-verified",
        "vCenter TLS verification is not switched off (provider, dynamic resources, vsphere.conf, csi-vsphere.conf "
        "incl. [Global]) outside allowed stacks.",
        Level.MANDATORY,
        resource_rule=tls_verified,
        config={"allowInsecureStacks": {"type": "array", "items": {"type": "string"}, "default": ["sim"]}},
        remediation=(
            "Give the vCenter's CA (tls.caCertFile or tls.caCert) instead of tls.insecure, and make the machine "
            "running Pulumi trust it (SSL_CERT_FILE) for the vSphere provider plugin; add tls.thumbprint for the "
            "CPI, the CSI and the program's own calls to pin (the plugin cannot pin one)."
        ),
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
        config=CATEGORY_CONFIG,
    ),
    Policy(
        "control-plane-quorum-and-spread",
        f"The control plane has {CONTROL_PLANE_SIZES_SAID} nodes, spread across zones, kept apart by mandatory "
        "anti-affinity.",
        Level.MANDATORY,
        stack_rule=control_plane_quorum_spread,
        config=CATEGORY_CONFIG,
    ),
    Policy(
        "topology-categories-consistent",
        "The zone/region tag categories, the CPI's labels and the CSI's topology-categories agree.",
        Level.MANDATORY,
        stack_rule=categories_consistent,
    ),
    Policy(
        "storage-class-topologies-exist",
        "StorageClass allowedTopologies use the labels the CSI publishes (topology.csi.vmware.com/*, never "
        "topology.kubernetes.io/* with topology-categories) and name zones that exist.",
        Level.MANDATORY,
        stack_rule=storage_class_topologies,
        config={**CATEGORY_CONFIG, "zones": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    Policy(
        "csi-snapshotter-backed",
        "A csi-snapshotter sidecar runs only with the VolumeSnapshot CRDs and a snapshot-controller behind it.",
        Level.MANDATORY,
        stack_rule=snapshotter_backed,
        remediation="Leave csi.snapshots off, or set it to external where the cluster runs both already.",
    ),
    Policy(
        "cpi-credentials-wired",
        "vsphere.conf names a Secret of the stack that holds each vCenter's credentials in a form the CPI reads.",
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
        "guestinfo-join-material-short-lived",
        "Node user-data in guestinfo carries no long-lived secret: tokens expire, and a NodeJoin removes it "
        "from the VM once the node has joined.",
        Level.MANDATORY,
        stack_rule=join_material_short_lived,
        config={"maxTokenTtlHours": {"type": "number", "default": 24}},
        remediation=(
            "Use mode: bootstrap's NodeJoin (it removes guestinfo.userdata after the join) and a bounded "
            "kubernetes.joinTokenTtlMinutes; never a ttl: 0s bootstrap token or keys in a VM's user-data for good."
        ),
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
