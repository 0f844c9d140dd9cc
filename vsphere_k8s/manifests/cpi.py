"""The vSphere cloud-controller-manager (CPI) as Kubernetes objects.

Shape as upstream's per-minor release manifest (``releases/v1.NN``), all in
``kube-system``: a ServiceAccount, the ``system:cloud-controller-manager`` RBAC
(bound to the ServiceAccount and to the ``cloud-controller-manager`` user, as
upstream binds it), the authentication-reader RoleBinding, the cloud-config
ConfigMap and a DaemonSet pinned to control-plane nodes. The credentials Secrets
are built separately (:func:`credentials_secret`, :func:`nsxt_secret`) so that
callers can keep their data secret; only they live in ``cpi.secretNamespace``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from vsphere_k8s.config import StackConfig
from vsphere_k8s.render import vsphere_conf

from .images import images_for
from .meta import Manifest, cluster_role_binding, metadata, rule, sa_subject, secret, service_account

NAME = "vsphere-cloud-controller-manager"
NAMESPACE = "kube-system"  # where upstream runs the CPI, whatever cpi.secretNamespace says
SERVICE_ACCOUNT = "cloud-controller-manager"
# The identity a CCM run with its own kubeconfig (client certificate CN) has; upstream binds it too.
USER = "cloud-controller-manager"
CLUSTER_ROLE = "system:cloud-controller-manager"
LABELS = {"component": "cloud-controller-manager", "tier": "control-plane"}
UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


# Namespaces every cluster has: the stack never creates (or deletes) these.
BUILTIN_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})


def _secret_namespace(cfg: StackConfig) -> str:
    return cfg.cpi.secret_namespace


def subjects() -> list[dict[str, str]]:
    return [
        sa_subject(SERVICE_ACCOUNT, NAMESPACE),
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER},
    ]


def secret_namespace(cfg: StackConfig, owned_elsewhere: frozenset[str] = frozenset()) -> Manifest | None:
    """The Namespace of the credentials Secrets, when the stack owns it (not built in, not made elsewhere)."""
    ns = _secret_namespace(cfg)
    if not cfg.cpi.create_secret_namespace or ns in BUILTIN_NAMESPACES or ns in owned_elsewhere:
        return None
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(ns, labels=LABELS)}


def cluster_role() -> Manifest:
    core = [""]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(CLUSTER_ROLE, labels={"component": "cloud-controller-manager"}),
        "rules": [
            rule(core, ["events"], ["create", "patch", "update"]),
            rule(core, ["nodes"], ["*"]),
            rule(core, ["nodes/status"], ["patch"]),
            rule(core, ["services"], ["list", "patch", "update", "watch"]),
            rule(core, ["services/status"], ["patch"]),
            rule(core, ["serviceaccounts"], ["create", "get", "list", "watch", "update"]),
            rule(core, ["persistentvolumes"], ["get", "list", "update", "watch"]),
            rule(core, ["endpoints"], ["create", "get", "list", "watch", "update"]),
            # Added to upstream's releases/v1.36 manifest after the v1.36.0 tag ("support k8s endpointslices").
            rule(["discovery.k8s.io"], ["endpointslices"], ["get", "list", "watch"]),
            # Cluster-wide, as upstream grants it: the CPI's secret informer watches cpi.secretNamespace,
            # wherever that is.
            rule(core, ["secrets"], ["get", "list", "watch"]),
            rule(["coordination.k8s.io"], ["leases"], ["create", "get", "list", "watch", "update"]),
        ],
    }


def auth_reader_binding(cfg: StackConfig) -> Manifest:
    """Lets the CCM read the API server's client-CA config (for its secure serving)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata("servicecatalog.k8s.io:apiserver-authentication-reader", NAMESPACE, LABELS),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "extension-apiserver-authentication-reader",
        },
        "subjects": subjects(),
    }


def config_map(cfg: StackConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(vsphere_conf.CONFIG_MAP_NAME, NAMESPACE, LABELS),
        "data": vsphere_conf.config_map_data(cfg),
    }


def credentials_secret(cfg: StackConfig) -> Manifest:
    """The CPI's credential keys per vCenter (see :func:`vsphere_conf.cpi_credentials`). Plaintext: wrap as secret."""
    return secret(cfg.cpi.secret_name, _secret_namespace(cfg), vsphere_conf.cpi_credentials(cfg), LABELS)


def nsxt_secret(cfg: StackConfig) -> Manifest | None:
    data = vsphere_conf.nsxt_credentials(cfg)
    if data is None or cfg.cpi.nsxt is None:
        return None
    return secret(cfg.cpi.nsxt.secret_name, _secret_namespace(cfg), data, LABELS)


def args(cfg: StackConfig) -> list[str]:
    out = [
        "--cloud-provider=vsphere",
        "--v=2",
        f"--cloud-config={vsphere_conf.CONFIG_DIR}/{vsphere_conf.CONFIG_FILE}",
        # Not in upstream's manifest (which leaves cloud-provider's default, "kubernetes"): the CPI
        # names and tags the NSX-T load balancers it creates with it, so two clusters on one NSX-T
        # never share or delete each other's.
        f"--cluster-name={cfg.cluster.name}",
    ]
    nsxt = cfg.cpi.nsxt
    if nsxt is not None and nsxt.routes is not None:
        # The route controller only runs with both flags; it needs the pod CIDR.
        cidr = nsxt.routes.cluster_cidr or cfg.kubernetes.pod_cidr
        out += ["--configure-cloud-routes=true", "--allocate-node-cidrs=true", f"--cluster-cidr={cidr}"]
    return out


def tolerations() -> list[dict[str, str]]:
    return [
        # Nodes wait with this taint for the CPI: without it nothing would ever initialize them.
        {"key": UNINITIALIZED_TAINT, "value": "true", "effect": "NoSchedule"},
        {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
        {"key": CONTROL_PLANE_LABEL, "operator": "Exists", "effect": "NoSchedule"},
        # Before the CNI runs every node is not-ready; the CPI uses the host network.
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"},
    ]


def daemon_set(cfg: StackConfig) -> Manifest:
    conf = vsphere_conf.config_map_data(cfg)
    # Rolls the pods when the mounted config changes (the CPI reads it at start only).
    checksum = hashlib.sha256("\0".join(f"{k}={conf[k]}" for k in sorted(conf)).encode()).hexdigest()
    env: list[dict[str, Any]] = []
    if vsphere_conf.needs_dual_stack_gate(cfg):
        env.append({"name": "ENABLE_ALPHA_DUAL_STACK", "value": "true"})
    container: dict[str, Any] = {
        "name": NAME,
        "image": images_for(cfg).cpi,
        "args": args(cfg),
        "volumeMounts": [{"mountPath": vsphere_conf.CONFIG_DIR, "name": "vsphere-config-volume", "readOnly": True}],
        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if env:
        container["env"] = env
    pod_labels = {"name": NAME, **LABELS}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(NAME, NAMESPACE, LABELS),
        "spec": {
            "selector": {"matchLabels": {"name": NAME}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": {"checksum/config": checksum}},
                "spec": {
                    "tolerations": tolerations(),
                    "securityContext": {"runAsUser": 1001, "runAsNonRoot": True},
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "priorityClassName": "system-node-critical",
                    "hostNetwork": True,
                    "containers": [container],
                    "volumes": [{"name": "vsphere-config-volume", "configMap": {"name": vsphere_conf.CONFIG_MAP_NAME}}],
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {"matchExpressions": [{"key": CONTROL_PLANE_LABEL, "operator": "Exists"}]},
                                    {
                                        "matchExpressions": [
                                            {"key": "node-role.kubernetes.io/master", "operator": "Exists"}
                                        ]
                                    },
                                ]
                            }
                        }
                    },
                },
            },
        },
    }


def manifests(cfg: StackConfig) -> list[Manifest]:
    """Every CPI object except the credential Secrets and their Namespace, in apply order."""
    return [
        service_account(SERVICE_ACCOUNT, NAMESPACE, LABELS),
        cluster_role(),
        cluster_role_binding(CLUSTER_ROLE, CLUSTER_ROLE, subjects()),
        auth_reader_binding(cfg),
        config_map(cfg),
        daemon_set(cfg),
    ]


def secrets(cfg: StackConfig) -> list[Manifest]:
    nsxt = nsxt_secret(cfg)
    return [credentials_secret(cfg)] + ([nsxt] if nsxt is not None else [])
