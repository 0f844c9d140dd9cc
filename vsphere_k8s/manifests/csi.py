"""The vSphere CSI driver (vanilla flavour, Linux nodes) as Kubernetes objects.

Shape as upstream's ``manifests/vanilla/vsphere-csi-driver.yaml`` of the pinned
release: namespace, CSIDriver, controller and node RBAC, the feature-state
ConfigMap, the metrics Service, the controller Deployment (driver, syncer and the
attacher / resizer / provisioner / liveness sidecars) and the node DaemonSet
(driver, registrar, liveness). Images and what changes from release to release
come from :class:`.images.CsiRelease`.

The csi-snapshotter sidecar runs only with ``csi.snapshots: external``: it needs the
VolumeSnapshot CRDs and the snapshot-controller, which upstream installs with a
script of its own and this program does not; without them it only logs errors.
"""

from __future__ import annotations

from typing import Any

from vsphere_k8s.config import StackConfig
from vsphere_k8s.render import csi_conf

from .images import CsiRelease, images_for
from .meta import Manifest, cluster_role_binding, metadata, rule, sa_subject, secret, service_account

NAMESPACE = csi_conf.NAMESPACE
DRIVER = "csi.vsphere.vmware.com"
CONTROLLER = "vsphere-csi-controller"
NODE = "vsphere-csi-node"
FEATURE_STATES = "internal-feature-states.csi.vsphere.vmware.com"
SOCKET_DIR = "/csi"
KUBELET_PLUGIN_DIR = f"/var/lib/kubelet/plugins/{DRIVER}"
LEADER_ELECTION = [
    "--leader-election",
    "--leader-election-lease-duration=120s",
    "--leader-election-renew-deadline=60s",
    "--leader-election-retry-period=30s",
]
ADDRESS_ENV = [{"name": "ADDRESS", "value": f"{SOCKET_DIR}/csi.sock"}]
NAMESPACE_ENV = {"name": "CSI_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
NON_ROOT = {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532}
# On the controller Deployment with csi.snapshots: external, for the policy pack: the cluster
# provides the VolumeSnapshot CRDs and snapshot-controller the sidecar needs.
SNAPSHOTS_ANNOTATION = "vsphere-k8s.io/snapshot-controller"


def namespace() -> Manifest:
    # The node plugin is privileged (mounts, /dev): Pod Security must allow it here.
    labels = {
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "privileged",
        "pod-security.kubernetes.io/warn": "privileged",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(NAMESPACE, labels=labels)}


def csi_driver() -> Manifest:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": metadata(DRIVER),
        "spec": {"attachRequired": True, "podInfoOnMount": False},
    }


def controller_cluster_role() -> Manifest:
    core, storage, cns, snap = [""], ["storage.k8s.io"], ["cns.vmware.com"], ["snapshot.storage.k8s.io"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata("vsphere-csi-controller-role"),
        "rules": [
            rule(core, ["nodes", "pods"], ["get", "list", "watch"]),
            rule(core, ["configmaps"], ["get", "list", "watch", "create"]),
            rule(core, ["persistentvolumeclaims"], ["get", "list", "watch", "update"]),
            rule(core, ["persistentvolumeclaims/status"], ["patch"]),
            rule(core, ["persistentvolumes"], ["get", "list", "watch", "create", "update", "delete", "patch"]),
            rule(core, ["events"], ["get", "list", "watch", "create", "update", "patch"]),
            rule(["coordination.k8s.io"], ["leases"], ["get", "watch", "list", "delete", "update", "create"]),
            rule(storage, ["storageclasses", "csinodes"], ["get", "list", "watch"]),
            rule(storage, ["volumeattachments"], ["get", "list", "watch", "patch"]),
            rule(storage, ["volumeattachments/status"], ["patch"]),
            rule(cns, ["triggercsifullsyncs"], ["create", "get", "update", "watch", "list"]),
            rule(cns, ["cnsvspherevolumemigrations"], ["create", "get", "list", "watch", "update", "delete"]),
            rule(cns, ["cnsvolumeinfoes"], ["create", "get", "list", "watch", "delete"]),
            rule(cns, ["cnsvolumeoperationrequests"], ["create", "get", "list", "update", "delete"]),
            rule(cns, ["csinodetopologies"], ["get", "update", "watch", "list"]),
            rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get", "create", "update"]),
            rule(snap, ["volumesnapshots"], ["get", "list"]),
            rule(snap, ["volumesnapshotclasses"], ["watch", "get", "list"]),
            rule(snap, ["volumesnapshotcontents"], ["create", "get", "list", "watch", "update", "delete", "patch"]),
            rule(snap, ["volumesnapshotcontents/status"], ["update", "patch"]),
        ],
    }


def node_cluster_role() -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata("vsphere-csi-node-cluster-role"),
        "rules": [
            rule(["cns.vmware.com"], ["csinodetopologies"], ["create", "watch", "get", "patch"]),
            rule([""], ["nodes"], ["get"]),
        ],
    }


def node_role() -> list[Manifest]:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata("vsphere-csi-node-role", NAMESPACE),
        "rules": [rule([""], ["configmaps"], ["get", "list", "watch"])],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata("vsphere-csi-node-binding", NAMESPACE),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vsphere-csi-node-role"},
        "subjects": [sa_subject(NODE, NAMESPACE)],
    }
    return [role, binding]


def feature_states(cfg: StackConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(FEATURE_STATES, NAMESPACE),
        "data": images_for(cfg).csi.feature_states,
    }


def config_secret(cfg: StackConfig) -> Manifest:
    """``csi-vsphere.conf`` (with the CSI account's password) in ``vsphere-config-secret``."""
    return secret(csi_conf.SECRET_NAME, NAMESPACE, csi_conf.secret_data(cfg))


def metrics_service() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(CONTROLLER, NAMESPACE, {"app": CONTROLLER}),
        "spec": {
            "selector": {"app": CONTROLLER},
            "ports": [
                {"name": "ctlr", "port": 2112, "targetPort": 2112, "protocol": "TCP"},
                {"name": "syncer", "port": 2113, "targetPort": 2113, "protocol": "TCP"},
            ],
        },
    }


def _sidecar(release: CsiRelease, name: str, args: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "image": release.sidecar(name),
        "args": args,
        "env": ADDRESS_ENV,
        "volumeMounts": [{"mountPath": SOCKET_DIR, "name": "socket-dir"}],
    }


def topology_enabled(cfg: StackConfig) -> bool:
    return bool(cfg.topology.zones)


def controller_containers(cfg: StackConfig, release: CsiRelease) -> list[dict[str, Any]]:
    common = ["--v=4", "--timeout=300s", "--csi-address=$(ADDRESS)", "--kube-api-qps=100", "--kube-api-burst=100"]
    provisioner_args = [*common, *LEADER_ELECTION, "--default-fstype=ext4"]
    if topology_enabled(cfg):
        # Volumes are placed where the zone of the consuming pod (or the class) says.
        provisioner_args += ["--feature-gates=Topology=true", "--strict-topology"]
    config_mount = {"mountPath": csi_conf.CONFIG_DIR, "name": "vsphere-config-volume", "readOnly": True}
    fss_args = ["--fss-name=" + FEATURE_STATES, "--fss-namespace=$(CSI_NAMESPACE)"]
    if release.profile_server_flag:
        fss_args.append("--enable-profile-server=false")
    attacher_args = [*common, *LEADER_ELECTION] + (["--worker-threads=100"] if release.attacher_worker_threads else [])
    resizer_args = [*common, "--handle-volume-inuse-error=false", *LEADER_ELECTION]
    if release.resizer_feature_gates:
        resizer_args.append(f"--feature-gates={release.resizer_feature_gates}")
    driver_env = [
        {"name": "CSI_ENDPOINT", "value": f"unix://{SOCKET_DIR}/csi.sock"},
        {"name": "X_CSI_MODE", "value": "controller"},
        {"name": "X_CSI_SPEC_DISABLE_LEN_CHECK", "value": "true"},
        {"name": "X_CSI_SERIAL_VOL_ACCESS_TIMEOUT", "value": "3m"},
        {"name": "VSPHERE_CSI_CONFIG", "value": f"{csi_conf.CONFIG_DIR}/{csi_conf.CONFIG_FILE}"},
        {"name": "LOGGER_LEVEL", "value": "PRODUCTION"},
        {"name": "INCLUSTER_CLIENT_QPS", "value": "100"},
        {"name": "INCLUSTER_CLIENT_BURST", "value": "100"},
        NAMESPACE_ENV,
    ]
    containers = [
        _sidecar(release, "csi-attacher", attacher_args),
        _sidecar(release, "csi-resizer", resizer_args),
        {
            "name": CONTROLLER,
            "image": release.driver_image,
            "args": fss_args,
            "env": driver_env,
            "securityContext": NON_ROOT,
            "volumeMounts": [config_mount, {"mountPath": SOCKET_DIR, "name": "socket-dir"}],
            "ports": [
                {"name": "healthz", "containerPort": 9808, "protocol": "TCP"},
                {"name": "prometheus", "containerPort": 2112, "protocol": "TCP"},
            ],
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": "healthz"},
                "initialDelaySeconds": 30,
                "timeoutSeconds": 10,
                "periodSeconds": 180,
                "failureThreshold": 3,
            },
        },
        {
            "name": "liveness-probe",
            "image": release.sidecar("livenessprobe"),
            "args": ["--v=4", f"--csi-address={SOCKET_DIR}/csi.sock"],
            "volumeMounts": [{"mountPath": SOCKET_DIR, "name": "socket-dir"}],
        },
        {
            "name": "vsphere-syncer",
            "image": release.syncer_image,
            "args": [
                "--leader-election",
                "--leader-election-lease-duration=30s",
                "--leader-election-renew-deadline=20s",
                "--leader-election-retry-period=10s",
                *fss_args,
            ],
            "env": [
                {"name": "FULL_SYNC_INTERVAL_MINUTES", "value": "30"},
                {"name": "VSPHERE_CSI_CONFIG", "value": f"{csi_conf.CONFIG_DIR}/{csi_conf.CONFIG_FILE}"},
                {"name": "LOGGER_LEVEL", "value": "PRODUCTION"},
                {"name": "INCLUSTER_CLIENT_QPS", "value": "100"},
                {"name": "INCLUSTER_CLIENT_BURST", "value": "100"},
                NAMESPACE_ENV,
            ],
            "securityContext": NON_ROOT,
            "ports": [{"name": release.syncer_port_name, "containerPort": 2113, "protocol": "TCP"}],
            "volumeMounts": [config_mount],
        },
        _sidecar(release, "csi-provisioner", provisioner_args),
    ]
    if cfg.csi.snapshots == "external":
        snapshotter_args = [*common, *LEADER_ELECTION]
        if release.snapshotter_extra_metadata:
            snapshotter_args.append("--extra-create-metadata")
        containers.append(_sidecar(release, "csi-snapshotter", snapshotter_args))
    return containers


def control_plane_affinity(release: CsiRelease) -> dict[str, Any]:
    terms = [
        {"matchExpressions": [{"key": f"node-role.kubernetes.io/{role}", "operator": "Exists"}]}
        for role in release.controller_node_roles
    ]
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}


def controller_deployment(cfg: StackConfig) -> Manifest:
    release = images_for(cfg).csi
    labels = {"app": CONTROLLER, "role": "vsphere-csi"}
    annotations = {SNAPSHOTS_ANNOTATION: "external"} if cfg.csi.snapshots == "external" else None
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(CONTROLLER, NAMESPACE, {"app": CONTROLLER}, annotations),
        "spec": {
            "replicas": cfg.csi_controller_replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "selector": {"matchLabels": {"app": CONTROLLER}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": CONTROLLER,
                    "affinity": {
                        # One replica per control-plane node: a lost node costs at most one.
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "labelSelector": {
                                        "matchExpressions": [{"key": "app", "operator": "In", "values": [CONTROLLER]}]
                                    },
                                    "topologyKey": "kubernetes.io/hostname",
                                }
                            ]
                        },
                        "nodeAffinity": control_plane_affinity(release),
                    },
                    "tolerations": [
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
                    ],
                    "dnsPolicy": "Default",
                    "containers": controller_containers(cfg, release),
                    "volumes": [
                        {"name": "vsphere-config-volume", "secret": {"secretName": csi_conf.SECRET_NAME}},
                        {"name": "socket-dir", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def node_daemon_set(cfg: StackConfig) -> Manifest:
    release = images_for(cfg).csi
    registration = f"{KUBELET_PLUGIN_DIR}/csi.sock"
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(NODE, NAMESPACE, {"app": NODE}),
        "spec": {
            "selector": {"matchLabels": {"app": NODE}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": NODE, "role": "vsphere-csi"}},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "serviceAccountName": NODE,
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "containers": [
                        {
                            "name": "node-driver-registrar",
                            "image": release.sidecar("csi-node-driver-registrar"),
                            "args": [
                                "--v=5",
                                "--csi-address=$(ADDRESS)",
                                "--kubelet-registration-path=$(DRIVER_REG_SOCK_PATH)",
                            ],
                            "env": [*ADDRESS_ENV, {"name": "DRIVER_REG_SOCK_PATH", "value": registration}],
                            "volumeMounts": [
                                {"name": "plugin-dir", "mountPath": SOCKET_DIR},
                                {"name": "registration-dir", "mountPath": "/registration"},
                            ],
                            "livenessProbe": {
                                "exec": {
                                    "command": [
                                        "/csi-node-driver-registrar",
                                        f"--kubelet-registration-path={registration}",
                                        "--mode=kubelet-registration-probe",
                                    ]
                                },
                                "initialDelaySeconds": 3,
                            },
                        },
                        {
                            "name": NODE,
                            "image": release.driver_image,
                            "args": ["--fss-name=" + FEATURE_STATES, "--fss-namespace=$(CSI_NAMESPACE)"],
                            "env": [
                                {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                                {"name": "CSI_ENDPOINT", "value": f"unix://{SOCKET_DIR}/csi.sock"},
                                {"name": "X_CSI_MODE", "value": "node"},
                                {"name": "X_CSI_SPEC_REQ_VALIDATION", "value": "false"},
                                {"name": "X_CSI_SPEC_DISABLE_LEN_CHECK", "value": "true"},
                                {"name": "LOGGER_LEVEL", "value": "PRODUCTION"},
                                NAMESPACE_ENV,
                                {"name": "NODEGETINFO_WATCH_TIMEOUT_MINUTES", "value": "1"},
                                *(
                                    [{"name": "MAX_VOLUMES_PER_NODE", "value": release.max_volumes_env}]
                                    if release.max_volumes_env
                                    else []
                                ),
                            ],
                            # Formats and mounts block devices on the host.
                            "securityContext": {
                                "privileged": True,
                                "capabilities": {"add": ["SYS_ADMIN"]},
                                "allowPrivilegeEscalation": True,
                            },
                            "volumeMounts": [
                                {"name": "plugin-dir", "mountPath": SOCKET_DIR},
                                {
                                    "name": "pods-mount-dir",
                                    "mountPath": "/var/lib/kubelet",
                                    "mountPropagation": "Bidirectional",
                                },
                                {"name": "device-dir", "mountPath": "/dev"},
                                {"name": "blocks-dir", "mountPath": "/sys/block"},
                                {"name": "sys-devices-dir", "mountPath": "/sys/devices"},
                            ],
                            "ports": [{"name": "healthz", "containerPort": 9808, "protocol": "TCP"}],
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "healthz"},
                                "initialDelaySeconds": 10,
                                "timeoutSeconds": 5,
                                "periodSeconds": 5,
                                "failureThreshold": 3,
                            },
                        },
                        {
                            "name": "liveness-probe",
                            "image": release.sidecar("livenessprobe"),
                            "args": ["--v=4", f"--csi-address={SOCKET_DIR}/csi.sock"],
                            "volumeMounts": [{"name": "plugin-dir", "mountPath": SOCKET_DIR}],
                        },
                    ],
                    "volumes": [
                        {
                            "name": "registration-dir",
                            "hostPath": {"path": "/var/lib/kubelet/plugins_registry", "type": "Directory"},
                        },
                        {"name": "plugin-dir", "hostPath": {"path": KUBELET_PLUGIN_DIR, "type": "DirectoryOrCreate"}},
                        {"name": "pods-mount-dir", "hostPath": {"path": "/var/lib/kubelet", "type": "Directory"}},
                        {"name": "device-dir", "hostPath": {"path": "/dev"}},
                        {"name": "blocks-dir", "hostPath": {"path": "/sys/block", "type": "Directory"}},
                        {"name": "sys-devices-dir", "hostPath": {"path": "/sys/devices", "type": "Directory"}},
                    ],
                    # Volumes must stay mountable on every node, tainted or not.
                    "tolerations": [
                        {"effect": "NoExecute", "operator": "Exists"},
                        {"effect": "NoSchedule", "operator": "Exists"},
                    ],
                },
            },
        },
    }


def manifests(cfg: StackConfig) -> list[Manifest]:
    """Every CSI object except its config Secret, in apply order (namespace first)."""
    return [
        namespace(),
        csi_driver(),
        service_account(CONTROLLER, NAMESPACE),
        controller_cluster_role(),
        cluster_role_binding(
            "vsphere-csi-controller-binding", "vsphere-csi-controller-role", [sa_subject(CONTROLLER, NAMESPACE)]
        ),
        service_account(NODE, NAMESPACE),
        node_cluster_role(),
        cluster_role_binding(
            "vsphere-csi-node-cluster-role-binding", "vsphere-csi-node-cluster-role", [sa_subject(NODE, NAMESPACE)]
        ),
        *node_role(),
        feature_states(cfg),
        metrics_service(),
        controller_deployment(cfg),
        node_daemon_set(cfg),
    ]
