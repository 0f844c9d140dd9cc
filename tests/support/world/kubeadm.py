"""Real kubeadm against the world's API server: what ``kubeadm init`` puts into a cluster, and
what a control-plane node joining it would run.

The world has no node VMs that boot, so nothing runs ``kubeadm init`` there. This module runs
kubeadm's own init *phases* that only talk to the API (the cluster objects: kubeadm-config,
kubelet-config, bootstrap RBAC and cluster-info, the kube-proxy and CoreDNS add-ons) with the
documents the program renders, and ``kubeadm join --dry-run`` with a joining control plane's
documents, which reads the cluster for real and writes its static pod manifests to a directory.

Deviations from the program's documents, all machine-local and made here only:
- ``controlPlaneEndpoint`` (init) and ``discovery.bootstrapToken.apiServerEndpoint`` (join) name
  the world's API server (127.0.0.1:<port>): the stack's VIP does not exist on this machine.
- ``certificatesDir`` is a directory under the caller's work dir, not /etc/kubernetes/pki: a
  joining control plane checks the shared CAs there, and nothing here may write into /etc.
- The cluster CA is the world's own (the API server trusts only it), so join documents must pin
  its hash (``ca_cert_hash(pki.ca.cert)``); the front-proxy and etcd CAs are made by kubeadm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from toolchain.manifest import locate
from vsphere_k8s.render.cloud_init import KUBEADM_CONFIG

from .pki import ControlPlanePki

# kubeadm init's phases that only write cluster objects (no files under /etc, no node needed).
INIT_PHASES: tuple[tuple[str, ...], ...] = (
    ("upload-config", "kubeadm"),
    ("upload-config", "kubelet"),
    ("bootstrap-token", "--skip-token-print"),  # the tokens are credentials: never in a log
    ("addon", "kube-proxy"),
    ("addon", "coredns"),
)

# Preflight checks of `kubeadm join` that fail here only because this machine is not a node;
# every other check (root, ports, the shared CAs, the cluster's controlPlaneEndpoint) still runs.
JOIN_DRY_RUN_IGNORED_PREFLIGHT: tuple[str, ...] = (
    "CRI",  # no containerd socket
    "ContainerRuntimeVersion",  # the same missing socket, asked for its version
    "SystemVerification",  # runs `kubelet --version`: no kubelet binary on PATH
    "KubeletVersion",  # the same
    "FileContent--proc-sys-net-ipv4-ip_forward",  # a test machine, not a router
)

CONTROL_PLANE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
_NAMESPACES = ("kube-system", "kube-public")
_TIMEOUT = 180.0


class KubeadmError(RuntimeError):
    """kubeadm failed, or its dry run did not read what it needed from the real API server."""


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class KubeadmCluster:
    """What `init_cluster_objects` made: the documents as run, the shared CAs, the objects created."""

    config_path: Path
    certificates_dir: Path
    endpoint: str  # host:port of the world's API server, standing in for controlPlaneEndpoint
    admin_kubeconfig: Path
    created: tuple[ObjectRef, ...]
    output: str  # kubeadm's stdout/stderr of every phase, in order


# --- pure: the documents with the world's deviations ------------------------------------------


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        raise ValueError(f"expected exactly one {kind} document, found {len(found)}")
    return found[0]


def world_init_documents(text: str, endpoint: str, certificates_dir: Path) -> str:
    """The init documents with the world's endpoint and a certificatesDir on this machine."""
    docs = _docs(text)
    cluster = _one(docs, "ClusterConfiguration")
    _one(docs, "InitConfiguration")
    cluster["controlPlaneEndpoint"] = endpoint
    cluster["certificatesDir"] = str(certificates_dir)
    return yaml.safe_dump_all(docs, sort_keys=False)


def world_join_documents(text: str, endpoint: str) -> str:
    """A joining control plane's documents, discovering the world's API server."""
    docs = _docs(text)
    join = _one(docs, "JoinConfiguration")
    if not join.get("controlPlane"):
        raise ValueError("JoinConfiguration.controlPlane is missing: these are a worker's documents")
    token = (join.get("discovery") or {}).get("bootstrapToken")
    if not token:
        raise ValueError("JoinConfiguration.discovery.bootstrapToken is missing")
    token["apiServerEndpoint"] = endpoint
    return yaml.safe_dump_all(docs, sort_keys=False)


def join_token(text: str) -> str:
    token = _one(_docs(text), "JoinConfiguration")["discovery"]["bootstrapToken"]["token"]
    return str(token)


def dry_run_fallbacks(output: str) -> list[str]:
    """Objects the dry run's GETs did not get from the real API server (kubeadm's canned ones instead)."""
    missed = []
    for block in output.split("[dryrun] Would perform action GET on resource ")[1:]:
        head = re.search(r'^"([^"]+)".*?\n\[dryrun\] Resource name "([^"]*)", namespace "([^"]*)"', block, re.S)
        if head and "[dryrun] Real object does not exist" in block.split("[dryrun] Attached object:")[0]:
            resource, name, namespace = head.groups()
            missed.append(f"{resource} {namespace}/{name}" if namespace else f"{resource} {name}")
    return missed


# --- side effects ------------------------------------------------------------------------------


def _run(
    args: list[str], *, env: dict[str, str] | None = None, redact: Iterable[str] = (), stdout_only: bool = False
) -> str:
    result = subprocess.run(
        [str(locate("kubeadm")), *args],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
        env={**os.environ, **(env or {})},
    )
    output = result.stdout + result.stderr
    for secret in redact:
        output = output.replace(secret, "<redacted>")
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-40:])
        raise KubeadmError(f"kubeadm {' '.join(args[:3])} failed (exit {result.returncode}):\n{tail}")
    return result.stdout if stdout_only else output


def api_client(admin_kubeconfig: Path) -> client.ApiClient:
    api: client.ApiClient = kube_config.new_client_from_config(str(admin_kubeconfig))
    return api


def api_endpoint(admin_kubeconfig: Path) -> str:
    """host:port of the kubeconfig's current cluster."""
    doc = yaml.safe_load(admin_kubeconfig.read_text())
    context = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    server = next(c["cluster"]["server"] for c in doc["clusters"] if c["name"] == context["cluster"])
    return str(server).removeprefix("https://").rstrip("/")


def _snapshot(api: client.ApiClient) -> set[ObjectRef]:
    core, apps, rbac = client.CoreV1Api(api), client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    namespaced: dict[str, Callable[[str], Any]] = {
        "ConfigMap": core.list_namespaced_config_map,
        "Secret": core.list_namespaced_secret,
        "ServiceAccount": core.list_namespaced_service_account,
        "Service": core.list_namespaced_service,
        "DaemonSet": apps.list_namespaced_daemon_set,
        "Deployment": apps.list_namespaced_deployment,
        "Role": rbac.list_namespaced_role,
        "RoleBinding": rbac.list_namespaced_role_binding,
    }
    refs = {
        ObjectRef(kind, o.metadata.name, ns)
        for kind, ls in namespaced.items()
        for ns in _NAMESPACES
        for o in ls(ns).items
    }
    cluster_scoped: dict[str, Callable[[], Any]] = {
        "ClusterRole": rbac.list_cluster_role,
        "ClusterRoleBinding": rbac.list_cluster_role_binding,
    }
    refs |= {ObjectRef(kind, o.metadata.name) for kind, ls in cluster_scoped.items() for o in ls().items}
    return refs


def init_cluster_objects(
    kubeadm_config_yaml: str, admin_kubeconfig: Path, workdir: Path, *, pki: ControlPlanePki
) -> KubeadmCluster:
    """Run kubeadm init's API phases with the program's init documents against the world.

    ``pki`` is the world's: its CA and service-account keys go into the shared-CA directory as the
    program's user-data puts its own on the init node; kubeadm makes the front-proxy and etcd CAs.
    Returns the objects the phases created (a diff of kube-system, kube-public and cluster RBAC).
    """
    endpoint = api_endpoint(admin_kubeconfig)
    certs = workdir / "pki"
    (certs / "etcd").mkdir(parents=True, exist_ok=True)
    config = workdir / "kubeadm-init.yaml"
    config.write_text(world_init_documents(kubeadm_config_yaml, endpoint, certs))
    config.chmod(0o600)  # it holds the init node's bootstrap token
    for src, name in ((pki.ca.cert, "ca.crt"), (pki.ca.key, "ca.key")):
        shutil.copyfile(src, certs / name)
    shutil.copyfile(pki.service_account_key, certs / "sa.key")
    shutil.copyfile(pki.service_account_pub, certs / "sa.pub")
    for path in (certs / "ca.key", certs / "sa.key"):
        path.chmod(0o600)
    outputs = [_run(["init", "phase", "certs", ca, f"--config={config}"]) for ca in ("front-proxy-ca", "etcd-ca")]

    api = api_client(admin_kubeconfig)
    before = _snapshot(api)
    for phase in INIT_PHASES:
        outputs.append(_run(["init", "phase", *phase, f"--config={config}", f"--kubeconfig={admin_kubeconfig}"]))
    created = tuple(sorted(_snapshot(api) - before, key=str))
    return KubeadmCluster(config, certs, endpoint, admin_kubeconfig, created, "".join(outputs))


def create_bootstrap_token(token: str, admin_kubeconfig: Path, ttl: str = "15m") -> ObjectRef:
    """A join token as kubeadm makes one (`kubeadm token create`): the Secret it returns is the caller's to delete."""
    _run(["token", "create", token, f"--ttl={ttl}", f"--kubeconfig={admin_kubeconfig}"], redact=[token])
    return ObjectRef("Secret", f"bootstrap-token-{token.split('.', 1)[0]}", "kube-system")


def _wait_for_signature(api: client.ApiClient, token_id: str, timeout: float = 90.0) -> None:
    """kube-controller-manager's bootstrapsigner signs cluster-info for each token, a moment after it exists."""
    core = client.CoreV1Api(api)
    key = f"jws-kubeconfig-{token_id}"
    deadline = time.monotonic() + timeout
    while True:
        cm = core.read_namespaced_config_map("cluster-info", "kube-public")
        if key in (cm.data or {}):
            return
        if time.monotonic() > deadline:
            raise KubeadmError(
                f"kube-public/cluster-info has no {key} after {timeout:.0f}s: is kube-controller-manager's "
                "bootstrapsigner controller on, and does the token's Secret have usage-bootstrap-signing?"
            )
        time.sleep(1.0)


@dataclass(frozen=True)
class JoinDryRun:
    manifests: dict[str, dict[str, Any]]  # static pod name -> the Pod kubeadm would write
    directory: Path
    output: str  # token redacted


def join_control_plane_dry_run_full(join_yaml: str, cluster: KubeadmCluster, workdir: Path) -> JoinDryRun:
    """`kubeadm join --dry-run` of a control plane, with the manifests, the dry-run dir and kubeadm's output."""
    if Path("/etc/kubernetes/admin.conf").exists():  # kubeadm would use it instead of token discovery
        raise KubeadmError("/etc/kubernetes/admin.conf exists on this machine: a dry-run join would skip discovery")
    token = join_token(join_yaml)
    _wait_for_signature(api_client(cluster.admin_kubeconfig), token.split(".", 1)[0])
    workdir.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="kubeadm-join-dryrun-", dir=workdir))
    # The shared CAs in the dry-run dir, where a dry run looks for them (as `download-certs` would put
    # them): without them it makes a fresh CA there, and its admin.conf would be refused by the world.
    shutil.copytree(cluster.certificates_dir, directory, dirs_exist_ok=True)
    config = directory / "kubeadm-join.yaml"
    config.write_text(world_join_documents(join_yaml, cluster.endpoint))
    config.chmod(0o600)
    # The node's own API server port (localAPIEndpoint.bindPort): on this machine the world's API
    # server may hold it (a stack whose controlPlanePort is the world's), never on a real node.
    local = ((_one(_docs(join_yaml), "JoinConfiguration").get("controlPlane") or {}).get("localAPIEndpoint")) or {}
    port_check = [f"Port-{local.get('bindPort', 6443)}"]
    output = _run(
        [
            "join",
            "--dry-run",
            f"--config={config}",
            f"--ignore-preflight-errors={','.join([*JOIN_DRY_RUN_IGNORED_PREFLIGHT, *port_check])}",
        ],
        env={"KUBEADM_JOIN_DRYRUN_DIR": str(directory)},  # unset, kubeadm would use /etc/kubernetes/tmp
        redact=[token],
    )
    if "Mutating the JoinConfiguration.Discovery" in output:
        raise KubeadmError(
            "the dry-run join fell back to kubeadm's fake cluster-info: discovery did not find the token"
        )
    missed = [m for m in dry_run_fallbacks(output) if m.startswith("configmaps ")]
    if missed:
        raise KubeadmError(
            f"the dry-run join did not read {missed} from the API server (kubeadm's canned copy instead)"
        )
    manifests: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "Pod":
            manifests[str(doc["metadata"]["name"])] = doc
    absent = [c for c in CONTROL_PLANE_COMPONENTS if c not in manifests]
    if absent:
        raise KubeadmError(f"the dry-run join wrote no static pod manifest for {absent} in {directory}")
    return JoinDryRun(manifests, directory, output)


def join_control_plane_dry_run(join_yaml: str, cluster: KubeadmCluster, workdir: Path) -> dict[str, dict[str, Any]]:
    """The static pod manifests (name -> parsed Pod) a control plane joining with ``join_yaml`` would run.

    The join's token must exist in the cluster (the program creates each node's; a test can use
    `create_bootstrap_token`) and its CA hash must pin the world's CA.
    """
    return join_control_plane_dry_run_full(join_yaml, cluster, workdir).manifests


def container_image(pod: dict[str, Any], container: str | None = None) -> str:
    """The image of a Pod (or pod template spec holder)'s container, the first one if unnamed."""
    spec = pod["spec"]
    containers = spec["containers"]
    chosen = containers[0] if container is None else next((c for c in containers if c["name"] == container), None)
    if chosen is None:
        raise KeyError(f"no container {container!r} in {[c['name'] for c in containers]}")
    return str(chosen["image"])


def images_list(*, kubernetes_version: str | None = None, config: Path | None = None) -> list[str]:
    """`kubeadm config images list`: the images kubeadm pins for a version (or a ClusterConfiguration)."""
    args = ["config", "images", "list"]
    if kubernetes_version:
        args.append(f"--kubernetes-version={kubernetes_version}")
    if config:
        args.append(f"--config={config}")
    return [line.strip() for line in _run(args, stdout_only=True).splitlines() if line.strip()]


def read_cluster_configuration(admin_kubeconfig: Path) -> dict[str, Any]:
    """kube-system/kubeadm-config's ClusterConfiguration, as a joining node reads it."""
    cm = client.CoreV1Api(api_client(admin_kubeconfig)).read_namespaced_config_map("kubeadm-config", "kube-system")
    doc: dict[str, Any] = yaml.safe_load((cm.data or {})["ClusterConfiguration"])
    return doc


def _delete(api: client.ApiClient, ref: ObjectRef) -> Callable[[], object]:
    core, apps, rbac = client.CoreV1Api(api), client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    # Foreground: a DaemonSet's or Deployment's pods (kwok runs them on the world's nodes) go first.
    body = client.V1DeleteOptions(propagation_policy="Foreground")
    ns, name = ref.namespace, ref.name
    deleters: dict[str, tuple[Callable[..., object], Callable[..., object]]] = {
        "ConfigMap": (core.delete_namespaced_config_map, core.read_namespaced_config_map),
        "Secret": (core.delete_namespaced_secret, core.read_namespaced_secret),
        "ServiceAccount": (core.delete_namespaced_service_account, core.read_namespaced_service_account),
        "Service": (core.delete_namespaced_service, core.read_namespaced_service),
        "DaemonSet": (apps.delete_namespaced_daemon_set, apps.read_namespaced_daemon_set),
        "Deployment": (apps.delete_namespaced_deployment, apps.read_namespaced_deployment),
        "Role": (rbac.delete_namespaced_role, rbac.read_namespaced_role),
        "RoleBinding": (rbac.delete_namespaced_role_binding, rbac.read_namespaced_role_binding),
        "ClusterRole": (rbac.delete_cluster_role, rbac.read_cluster_role),
        "ClusterRoleBinding": (rbac.delete_cluster_role_binding, rbac.read_cluster_role_binding),
    }
    delete, read = deleters[ref.kind]
    args = (name, ns) if ns else (name,)
    try:
        delete(*args, body=body)
    except ApiException as e:
        if e.status != 404:
            raise
    return lambda: read(*args)


def delete_objects(admin_kubeconfig: Path, refs: Iterable[ObjectRef], timeout: float = 180.0) -> list[str]:
    """Delete the objects and wait until they are gone; returns those still there (empty when tidy)."""
    api = api_client(admin_kubeconfig)
    readers = {ref: _delete(api, ref) for ref in refs}
    deadline = time.monotonic() + timeout
    left = dict(readers)
    while left and time.monotonic() < deadline:
        for ref, read in list(left.items()):
            try:
                read()
            except ApiException as e:
                if e.status == 404:
                    del left[ref]
                    continue
                raise
        if left:
            time.sleep(1.0)
    return [str(ref) for ref in left]


# --- what a boot-world test needs around kubeadm -------------------------------------------------------


def kubeadm_config_of(user_data: str) -> str:
    """The kubeadm documents a node's cloud-config writes (its ``KUBEADM_CONFIG`` file)."""
    files = {f["path"]: f["content"] for f in yaml.safe_load(user_data)["write_files"]}
    return str(files[KUBEADM_CONFIG])


def token_secret_exists(core: client.CoreV1Api, token: str) -> bool:
    """Whether the bootstrap token's Secret is in kube-system."""
    try:
        core.read_namespaced_secret(f"bootstrap-token-{token.split('.', maxsplit=1)[0]}", "kube-system")
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


def bind_cluster_admins(core: client.CoreV1Api) -> None:
    """What kubeadm init's kubeconfig phase (not an API phase: it writes /etc/kubernetes) binds and the
    world's API server lacks: the group the program's admin certificate carries, to cluster-admin."""
    binding = {
        "metadata": {"name": "kubeadm:cluster-admins"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}],
    }
    try:
        client.RbacAuthorizationV1Api(core.api_client).create_cluster_role_binding(binding)  # type: ignore[arg-type]
    except ApiException as e:
        if e.status != 409:
            raise
