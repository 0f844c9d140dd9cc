"""ClusterVersion's and ClusterAddons' dynamic providers.

The provider objects hold nothing (Pulumi pickles them into state): the kubeconfig arrives as a
secret prop; clients come from a per-process cache. Deleting either resource changes nothing in
the cluster: the records and add-ons are the cluster's, not this program's to take away.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from providers import preload
from providers.checks import check_props

from .plan import (
    KUBEADM_CONFIG,
    NAMESPACE,
    KubeadmError,
    addon_diff,
    addon_outs,
    addon_targets,
    container_image,
    image_patch,
    needs_move,
    parse_addon_inputs,
    parse_addon_state,
    parse_version_inputs,
    parse_version_state,
    recorded_version,
    retag,
    version_diff,
    version_outs,
    version_step,
    with_version,
)

POLL_SECONDS = 2.0
CONFLICT_RETRIES = 5
UNREADABLE = "unreadable"  # what a refresh records for an object it cannot read a version from


def move_version(props: dict[str, Any], *, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Set ClusterConfiguration's kubernetesVersion (waiting, bounded, for kubeadm init to upload it)."""
    from . import kube

    inputs = parse_version_inputs(props)
    api = kube.api_for(inputs.kubeconfig.get_secret_value())
    started = time.monotonic()
    conflicts = 0
    while True:
        found = kube.read_kubeadm_config(api)
        if found is None:
            waited = time.monotonic() - started
            if waited >= inputs.timeout_seconds:
                raise KubeadmError(
                    f"{NAMESPACE}/{KUBEADM_CONFIG} not found after {waited:.0f} s: the init node's kubeadm "
                    "uploads it; is the cluster a kubeadm cluster, and has its init node booted?"
                )
            sleep(POLL_SECONDS)
            continue
        if not version_step(recorded_version(found), inputs.kubernetes_version):
            return version_outs(props, inputs.kubernetes_version)
        if kube.replace_kubeadm_config(api, with_version(found, inputs.kubernetes_version)):
            return version_outs(props, inputs.kubernetes_version)
        conflicts += 1
        if conflicts >= CONFLICT_RETRIES:
            raise KubeadmError(f"{NAMESPACE}/{KUBEADM_CONFIG} changed under every one of {conflicts} updates")


def move_addons(props: dict[str, Any]) -> dict[str, Any]:
    """Move each add-on that exists to its target tag; an absent one is recorded as absent."""
    from . import kube

    inputs = parse_addon_inputs(props)
    api = kube.api_for(inputs.kubeconfig.get_secret_value())
    images: dict[str, str | None] = {}
    for target in addon_targets(inputs.kubernetes_version, inputs.coredns_version):
        found = kube.read_workload(api, target.kind, target.name)
        if found is None:
            images[target.name] = None
            continue
        image = container_image(found, target.container, target.what)
        if needs_move(image, target.tag):
            image = retag(image, target.tag)
            kube.patch_workload(api, target.kind, target.name, image_patch(target.container, image))
        images[target.name] = image
    return addon_outs(props, images)


class ClusterVersionProvider(ResourceProvider):
    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load("providers.kubeadm_config.kube")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return check_props(news, parse_version_inputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return version_diff(olds, news).result()

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{NAMESPACE}/{KUBEADM_CONFIG}", move_version(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(move_version(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from . import kube

        state = parse_version_state(props)
        found = kube.read_kubeadm_config(kube.api_for(state.kubeconfig.get_secret_value()))
        if found is None:
            return ReadResult("", {})  # the record is gone: reported as deleted, made again by `up`
        try:
            recorded = recorded_version(found)
        except KubeadmError:
            recorded = UNREADABLE  # edited out of band into no version: drift; `up` then names what is wrong
        return ReadResult(id_, version_outs(props, recorded))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class ClusterAddonsProvider(ResourceProvider):
    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load("providers.kubeadm_config.kube")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return check_props(news, parse_addon_inputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return addon_diff(olds, news).result()

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{NAMESPACE}/addons", move_addons(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(move_addons(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from . import kube

        state = parse_addon_state(props)
        api = kube.api_for(state.kubeconfig.get_secret_value())
        images: dict[str, str | None] = {}
        for target in addon_targets(state.kubernetes_version, state.coredns_version):
            found = kube.read_workload(api, target.kind, target.name)
            try:
                images[target.name] = None if found is None else container_image(found, target.container, target.what)
            except KubeadmError:
                images[target.name] = UNREADABLE  # its container renamed out of band: drift, named by `up`
        return ReadResult(id_, addon_outs(props, images))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
