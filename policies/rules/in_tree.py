"""The in-tree vSphere cloud provider and volume plugin, removed from Kubernetes: none of their flags."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import facts
from ..facts import CONFIG_MAP, STORAGE_CLASS, VM, WORKLOADS
from ..view import ResourceView
from .base import CPI_IMAGE_NAME

_IN_TREE_FLAG = re.compile(r"--cloud-provider[= ]+[\"']?vsphere\b")
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
            if CPI_IMAGE_NAME.search(image):
                continue  # the out-of-tree CPI itself takes --cloud-provider=vsphere
            words = " ".join(str(a) for key in ("command", "args") for a in container.get(key) or [])
            if _IN_TREE_FLAG.search(words):
                problems.append(f"container {container.get('name')!r} ({image}) runs with --cloud-provider=vsphere")
    if resource.type == STORAGE_CLASS and resource.prop("provisioner") == IN_TREE_PROVISIONER:
        problems.append(f"provisioner {IN_TREE_PROVISIONER} is the removed in-tree plugin; use {facts.CSI_PROVISIONER}")
    return problems
