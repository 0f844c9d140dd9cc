"""Pure rules for the cluster objects kubeadm owns that a control-plane version bump must move.

A node that joins the control plane with ``kubeadm join --control-plane`` takes its static pods'
version from the cluster's ClusterConfiguration (``kube-system/kubeadm-config``), not from its
own documents; and kubeadm's add-ons (the ``kube-proxy`` DaemonSet, the ``coredns`` Deployment)
move only when someone runs ``kubeadm upgrade apply``, which no node of this program does. So:

* **ClusterVersion** sets ClusterConfiguration's ``kubernetesVersion`` before the first new
  control-plane node joins (as Cluster API's KubeadmControlPlane does before a rollout);
* **ClusterAddons** moves the add-ons' image tags once every control-plane node runs the new
  version (kube-proxy must not be newer than the API servers), keeping each image's repository
  (a mirror the site configured stays).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from providers.keys import Diff, Keys
from vsphere_k8s import versions

NAMESPACE = "kube-system"
KUBEADM_CONFIG = "kubeadm-config"
CLUSTER_CONFIGURATION = "ClusterConfiguration"
KUBE_PROXY = "kube-proxy"  # DaemonSet and container name kubeadm gives it
COREDNS = "coredns"  # Deployment and container name kubeadm gives it

VERSION_KEYS = Keys(secret=("kubeconfig",), outputs=("recorded_version",), delete_before_replace=False)
ADDON_KEYS = Keys(secret=("kubeconfig",), outputs=("kube_proxy_image", "coredns_image"), delete_before_replace=False)

_VERSION_LINE = re.compile(r"^kubernetesVersion:[^\n]*$", re.MULTILINE)
_SEMVER = r"^\d+\.\d+\.\d+$"


class KubeadmError(RuntimeError):
    """The cluster's kubeadm objects are not what a move can start from; the message names the object."""


class VersionInputs(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    kubeconfig: SecretStr
    kubernetes_version: str = Field(pattern=_SEMVER)  # the control plane's, without the "v"
    # How long a first `up` waits for kubeadm init to upload the ConfigMap.
    timeout_seconds: int = Field(default=900, ge=0, le=7200)


class VersionState(VersionInputs):
    recorded_version: str | None = None  # what the ConfigMap said at the last create, update or read


class AddonInputs(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    kubeconfig: SecretStr
    kubernetes_version: str = Field(pattern=_SEMVER)
    coredns_version: str | None = Field(default=None, pattern=r"^v\d+\.\d+\.\d+$")


class AddonState(AddonInputs):
    kube_proxy_image: str | None = None  # None: the cluster has no kube-proxy (e.g. a CNI replaces it)
    coredns_image: str | None = None


def parse_version_inputs(props: Mapping[str, Any]) -> VersionInputs:
    return VersionInputs.model_validate(dict(props))


def parse_version_state(props: Mapping[str, Any]) -> VersionState:
    return VersionState.model_validate({k: v for k, v in props.items() if v is not None})


def parse_addon_inputs(props: Mapping[str, Any]) -> AddonInputs:
    return AddonInputs.model_validate(dict(props))


def parse_addon_state(props: Mapping[str, Any]) -> AddonState:
    return AddonState.model_validate({k: v for k, v in props.items() if v is not None})


# ---- ClusterConfiguration ---------------------------------------------------------------------


def _where() -> str:
    return f"{NAMESPACE}/{KUBEADM_CONFIG}"


def cluster_configuration(config_map: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ConfigMap's ClusterConfiguration: its text and its parsed document."""
    text = (config_map.get("data") or {}).get(CLUSTER_CONFIGURATION)
    if not isinstance(text, str) or not text.strip():
        raise KubeadmError(f"{_where()} has no data.{CLUSTER_CONFIGURATION}: is this a kubeadm cluster?")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeadmError(f"{_where()} data.{CLUSTER_CONFIGURATION} is not YAML ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise KubeadmError(f"{_where()} data.{CLUSTER_CONFIGURATION} is not a mapping")
    return text, doc


def recorded_version(config_map: Mapping[str, Any]) -> str:
    """ClusterConfiguration's ``kubernetesVersion`` without its "v" (e.g. "1.35.2")."""
    _text, doc = cluster_configuration(config_map)
    raw = doc.get("kubernetesVersion")
    if not isinstance(raw, str) or not re.match(r"^v?\d+\.\d+\.\d+", raw):
        raise KubeadmError(f"{_where()} data.{CLUSTER_CONFIGURATION}.kubernetesVersion is {raw!r}, not a version")
    return raw.removeprefix("v").split("-", 1)[0].split("+", 1)[0]


def _triple(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in version.split(".")[:3])
    return major, minor, patch


def version_step(recorded: str, want: str) -> bool:
    """Whether the ConfigMap must move from ``recorded`` to ``want``; a downgrade or a skipped minor is
    an error (the stack's skew rules refuse both before this runs: this guards a cluster moved by hand)."""
    have, new = _triple(recorded), _triple(want)
    if have == new:
        return False
    if new < have:
        raise KubeadmError(
            f"{_where()} records Kubernetes v{recorded}, newer than the control plane's {want}: "
            "kubeadm does not downgrade; set kubernetes.version to at least " + recorded
        )
    if new[0] != have[0] or new[1] - have[1] > versions.CONTROL_PLANE_MINORS_PER_UPGRADE:
        raise KubeadmError(
            f"{_where()} records Kubernetes v{recorded}: moving the control plane to {want} skips a minor "
            f"(one minor at a time: 1.{have[1] + 1} first)"
        )
    return True


def with_version(config_map: Mapping[str, Any], want: str) -> dict[str, Any]:
    """The ConfigMap with ``kubernetesVersion: v<want>`` and nothing else changed (its text kept line for
    line; its resourceVersion kept, so a concurrent writer makes the update fail, not lose a change)."""
    text, doc = cluster_configuration(config_map)
    if not _VERSION_LINE.search(text):
        raise KubeadmError(f"{_where()} data.{CLUSTER_CONFIGURATION} has no top-level kubernetesVersion line")
    moved = _VERSION_LINE.sub(f"kubernetesVersion: v{want}", text, count=1)
    if yaml.safe_load(moved) != {**doc, "kubernetesVersion": f"v{want}"}:  # the line edit touched only the key
        raise KubeadmError(f"{_where()} data.{CLUSTER_CONFIGURATION}: kubernetesVersion could not be set alone")
    metadata = dict(config_map.get("metadata") or {})
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {k: metadata[k] for k in ("name", "namespace", "resourceVersion", "uid") if k in metadata},
        "data": {**(config_map.get("data") or {}), CLUSTER_CONFIGURATION: moved},
    }


def version_outs(props: Mapping[str, Any], recorded: str | None) -> dict[str, Any]:
    return {**VERSION_KEYS.inputs_of(props), "recorded_version": recorded}


def version_diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """A new version, a new kubeconfig, or a ConfigMap that a refresh found moved (drift) is an update."""
    changed = [k for k in ("kubernetes_version", "kubeconfig", "timeout_seconds") if olds.get(k) != news.get(k)]
    recorded = olds.get("recorded_version")
    if recorded is not None and recorded != news.get("kubernetes_version") and "kubernetes_version" not in changed:
        changed.append("recorded_version")
    return VERSION_KEYS.diff(changed)


# ---- add-ons ---------------------------------------------------------------------------------------


def split_image(image: str) -> tuple[str, str]:
    """(repository, tag or "") of an image reference; a digest is dropped (a new tag is a new image)."""
    ref = image.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, ""


def retag(image: str, tag: str) -> str:
    return f"{split_image(image)[0]}:{tag}"


def _tag_version(tag: str) -> tuple[int, ...] | None:
    found = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag)
    return tuple(int(g) for g in found.groups()) if found else None


def needs_move(image: str, tag: str) -> bool:
    """Whether an add-on on ``image`` moves to ``tag``: only forward. One on a newer release (moved by
    hand, or deployed by a newer kubeadm) stays: the program never downgrades an add-on."""
    have, want = _tag_version(split_image(image)[1]), _tag_version(tag)
    if have is None or want is None:
        return split_image(image)[1] != tag
    return have < want


def container_image(workload: Mapping[str, Any], container: str, what: str) -> str:
    """The image of the named container of a DaemonSet's or Deployment's pod template."""
    containers = (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for c in containers:
        if c.get("name") == container and isinstance(c.get("image"), str):
            return str(c["image"])
    raise KubeadmError(f"{what} has no container named {container} with an image")


def image_patch(container: str, image: str) -> dict[str, Any]:
    """A strategic-merge patch setting one container's image (containers merge by name)."""
    return {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}


@dataclass(frozen=True)
class AddonTarget:
    """One add-on workload and the tag it should run."""

    kind: str  # "daemonsets" | "deployments"
    name: str
    container: str
    tag: str

    @property
    def what(self) -> str:
        return f"{self.kind[:-1]} {NAMESPACE}/{self.name}"


def addon_targets(kubernetes_version: str, coredns: str | None) -> list[AddonTarget]:
    """kube-proxy at the control plane's version; CoreDNS at the release kubeadm of that minor pins
    (left alone where none is pinned)."""
    targets = [AddonTarget("daemonsets", KUBE_PROXY, KUBE_PROXY, f"v{kubernetes_version}")]
    if coredns:
        targets.append(AddonTarget("deployments", COREDNS, COREDNS, coredns))
    return targets


def addon_outs(props: Mapping[str, Any], images: Mapping[str, str | None]) -> dict[str, Any]:
    return {
        **ADDON_KEYS.inputs_of(props),
        "kube_proxy_image": images.get(KUBE_PROXY),
        "coredns_image": images.get(COREDNS),
    }


def addon_diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """New versions or kubeconfig, or an add-on a refresh found on another tag (drift), is an update."""
    changed = [k for k in ("kubernetes_version", "coredns_version", "kubeconfig") if olds.get(k) != news.get(k)]
    if not changed:
        # Targets from the two version inputs alone (the kubeconfig may be unknown in a preview).
        seen = {KUBE_PROXY: olds.get("kube_proxy_image"), COREDNS: olds.get("coredns_image")}
        for target in addon_targets(str(news.get("kubernetes_version")), news.get("coredns_version")):
            image = seen.get(target.name)
            if image is not None and needs_move(image, target.tag):
                changed.append("kube_proxy_image" if target.name == KUBE_PROXY else "coredns_image")
    return ADDON_KEYS.diff(changed)
