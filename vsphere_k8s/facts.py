"""Facts of vSphere, the vSphere CSI driver, etcd and pulumi-vsphere that the program, its config
checks, the policy pack, the offline harness and the stand-in plugins must agree on: named once.

The topology label keys live in :mod:`vsphere_k8s.topology.labels`, the providerID format in
:mod:`vsphere_k8s.topology.uuids`, image pins in :mod:`vsphere_k8s.manifests.images`.
"""

from __future__ import annotations

# The vSphere CSI driver's floor: virtual hardware vmx-15 (vSphere 6.7U3).
MIN_HARDWARE_VERSION = 15

# etcd quorum: an even size adds a member that can fail without adding one that may.
CONTROL_PLANE_SIZES = (1, 3, 5)
CONTROL_PLANE_SIZES_SAID = ", ".join(map(str, CONTROL_PLANE_SIZES[:-1])) + f" or {CONTROL_PLANE_SIZES[-1]}"

# pulumi-vsphere's type token of a virtual machine (the engine's, the policy view's and the plugin's).
VM_TYPE = "vsphere:index/virtualMachine:VirtualMachine"
