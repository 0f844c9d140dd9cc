"""ClusterVersion and ClusterAddons: the kubeadm records a bootstrap-mode version bump moves.

The rules (pure), the requests as the API server receives them (the client's REST layer faked,
with a small object store behind it), and what each provider call leaves in that store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from providers.kube_raw import RawApi
from providers.kubeadm_config import kube, provider
from providers.kubeadm_config.plan import (
    KubeadmError,
    addon_diff,
    needs_move,
    recorded_version,
    retag,
    split_image,
    version_diff,
    version_step,
    with_version,
)
from tests.support.fake_rest import HOST, faked_client
from vsphere_k8s import versions

# ClusterConfiguration as kubeadm v1.36 uploads it (field order and style of its own marshaller).
CLUSTER_CONFIGURATION = """apiServer:
  certSANs:
  - 127.0.0.1
apiVersion: kubeadm.k8s.io/v1beta4
caCertificateValidityPeriod: 87600h0m0s
certificatesDir: /etc/kubernetes/pki
clusterName: boot
controlPlaneEndpoint: 127.0.0.1:6443
kind: ClusterConfiguration
kubernetesVersion: v1.35.2
networking:
  dnsDomain: cluster.local
  podSubnet: 10.244.0.0/16
"""
CM_PATH = "/api/v1/namespaces/kube-system/configmaps/kubeadm-config"
PROXY_PATH = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"
DNS_PATH = "/apis/apps/v1/namespaces/kube-system/deployments/coredns"


def config_map(text: str = CLUSTER_CONFIGURATION, rv: str = "7") -> dict[str, Any]:
    return {
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system", "resourceVersion": rv, "uid": "u1"},
        "data": {"ClusterConfiguration": text},
    }


def workload(container: str, image: str) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}


class Cluster:
    """The REST layer over a few stored objects: GET, PUT (with resourceVersion checks), PATCH."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        self.requests: list[tuple[str, str, Any]] = []
        self.conflicts = 0  # PUTs to answer 409 first

    def request(self, method: str, url: str, headers: Any = None, body: Any = None, **_: Any) -> Any:
        from kubernetes.client.rest import RESTResponse

        path = url.removeprefix(HOST)
        sent = json.loads(body) if isinstance(body, str) else body
        self.requests.append((method, path, sent))
        status, answer = 200, self.objects.get(path)
        if answer is None:
            status, answer = 404, {}
        elif method == "PUT":
            if self.conflicts:
                self.conflicts -= 1
                status = 409
            else:
                assert sent["metadata"]["resourceVersion"] == answer["metadata"]["resourceVersion"]
                self.objects[path] = answer = {**sent, "metadata": {**sent["metadata"], "resourceVersion": "8"}}
        elif method == "PATCH":
            (c,) = sent["spec"]["template"]["spec"]["containers"]
            for have in answer["spec"]["template"]["spec"]["containers"]:
                if have["name"] == c["name"]:
                    have["image"] = c["image"]
        raw = SimpleNamespace(status=status, reason="R", data=json.dumps(answer).encode(), headers={}, getheaders=dict)
        return RESTResponse(raw)


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    fake = Cluster(
        {
            CM_PATH: config_map(),
            PROXY_PATH: workload("kube-proxy", "registry.k8s.io/kube-proxy:v1.35.2"),
            DNS_PATH: workload("coredns", "mirror.example:5000/coredns/coredns:v1.13.1"),
        }
    )
    api = RawApi(faked_client(fake))  # type: ignore[arg-type]
    monkeypatch.setattr(kube, "api_for", lambda _kc: api)
    yield fake


PROPS = {"kubeconfig": "kc", "kubernetes_version": "1.36.3", "timeout_seconds": 5}


# ---- rules ------------------------------------------------------------------------------------


def test_the_recorded_version_is_read_without_its_v() -> None:
    assert recorded_version(config_map()) == "1.35.2"
    with pytest.raises(KubeadmError, match=r"kube-system/kubeadm-config has no data\.ClusterConfiguration"):
        recorded_version({"data": {}})
    with pytest.raises(KubeadmError, match=r"kubernetesVersion is None, not a version"):
        recorded_version(config_map("kind: ClusterConfiguration\n"))


def test_a_move_is_one_minor_up_or_a_patch_never_down() -> None:
    assert version_step("1.35.2", "1.36.3") and version_step("1.35.2", "1.35.4")
    assert not version_step("1.36.3", "1.36.3")
    with pytest.raises(KubeadmError, match=r"records Kubernetes v1\.36\.3, newer than .* 1\.35\.2"):
        version_step("1.36.3", "1.35.2")
    with pytest.raises(KubeadmError, match=r"1\.37\.0 skips a minor \(one minor at a time: 1\.36 first\)"):
        version_step("1.35.2", "1.37.0")


def test_the_new_config_map_changes_the_version_line_alone_and_keeps_the_resource_version() -> None:
    moved = with_version(config_map(), "1.36.3")
    text = moved["data"]["ClusterConfiguration"]
    assert text == CLUSTER_CONFIGURATION.replace("kubernetesVersion: v1.35.2", "kubernetesVersion: v1.36.3")
    assert moved["metadata"] == {
        "name": "kubeadm-config",
        "namespace": "kube-system",
        "resourceVersion": "7",
        "uid": "u1",
    }
    # A nested kubernetesVersion (not kubeadm's, but possible in hand-edited text) is not the key.
    nested = "kind: ClusterConfiguration\nextra:\n  kubernetesVersion: v1.35.2\n"
    with pytest.raises(KubeadmError, match="no top-level kubernetesVersion line"):
        with_version(config_map(nested), "1.36.3")


@pytest.mark.parametrize(
    ("image", "repo", "tag"),
    [
        ("registry.k8s.io/kube-proxy:v1.35.2", "registry.k8s.io/kube-proxy", "v1.35.2"),
        ("mirror.example:5000/coredns/coredns:v1.13.1", "mirror.example:5000/coredns/coredns", "v1.13.1"),
        ("mirror.example:5000/kube-proxy", "mirror.example:5000/kube-proxy", ""),
        ("registry.k8s.io/kube-proxy:v1.35.2@sha256:" + "a" * 64, "registry.k8s.io/kube-proxy", "v1.35.2"),
    ],
)
def test_an_image_is_retagged_in_its_own_repository(image: str, repo: str, tag: str) -> None:
    assert split_image(image) == (repo, tag)
    assert retag(image, "v1.36.3") == f"{repo}:v1.36.3"


def test_an_addon_only_moves_forward() -> None:
    assert needs_move("r/kube-proxy:v1.35.2", "v1.36.3")
    assert not needs_move("r/coredns:v1.14.2", "v1.13.1")  # newer (a newer kubeadm's, or moved by hand): kept
    assert not needs_move("r/coredns:v1.13.1", "v1.13.1")
    assert needs_move("r/kube-proxy:latest", "v1.36.3") and needs_move("r/kube-proxy", "v1.36.3")


def test_diffs_see_new_versions_and_drift_found_by_a_refresh() -> None:
    olds = {**PROPS, "recorded_version": "1.36.3"}
    assert not version_diff(olds, PROPS).changes
    assert version_diff({**olds, "recorded_version": "1.35.2"}, PROPS).changes == ("recorded_version",)
    assert version_diff(olds, {**PROPS, "kubernetes_version": "1.36.4"}).changes == ("kubernetes_version",)
    assert not version_diff(olds, PROPS).replaces
    news = {"kubeconfig": "kc", "kubernetes_version": "1.36.3", "coredns_version": "v1.14.2"}
    seen = {**news, "kube_proxy_image": "r/kube-proxy:v1.36.3", "coredns_image": "r/coredns:v1.14.2"}
    assert not addon_diff(seen, news).changes
    assert addon_diff({**seen, "coredns_image": "r/coredns:v1.13.1"}, news).changes == ("coredns_image",)
    assert not addon_diff({**seen, "kube_proxy_image": None}, news).changes  # no kube-proxy: nothing to move


def test_coredns_follows_the_minor_kubeadm_pins() -> None:
    assert versions.COREDNS[36] == "v1.14.2" and versions.COREDNS[35] == "v1.13.1"
    assert set(versions.COREDNS) == set(range(versions.MIN_MINOR, versions.MAX_MINOR + 1))


# ---- providers over the faked API ---------------------------------------------------------------


def test_cluster_version_moves_the_record_with_one_put(cluster: Cluster) -> None:
    out = provider.move_version(dict(PROPS))
    assert out["recorded_version"] == "1.36.3"
    methods = [(m, p) for m, p, _b in cluster.requests]
    assert methods == [("GET", CM_PATH), ("PUT", CM_PATH)]
    assert recorded_version(cluster.objects[CM_PATH]) == "1.36.3"
    cluster.requests.clear()
    provider.move_version(dict(PROPS))  # already there: read only
    assert [m for m, _p, _b in cluster.requests] == ["GET"]


def test_a_concurrent_writer_makes_it_read_again(cluster: Cluster) -> None:
    cluster.conflicts = 1
    provider.move_version(dict(PROPS))
    assert [m for m, _p, _b in cluster.requests] == ["GET", "PUT", "GET", "PUT"]
    assert recorded_version(cluster.objects[CM_PATH]) == "1.36.3"


def test_a_missing_record_is_waited_for_then_named(cluster: Cluster) -> None:
    del cluster.objects[CM_PATH]
    waits: list[float] = []
    with pytest.raises(KubeadmError, match=r"kube-system/kubeadm-config not found after \d+ s"):
        provider.move_version({**PROPS, "timeout_seconds": 0}, sleep=waits.append)
    appears = iter([None, config_map()])
    seen: list[float] = []

    def later(seconds: float) -> None:
        seen.append(seconds)
        found = next(appears)
        if found is not None:
            cluster.objects[CM_PATH] = found

    provider.move_version(dict(PROPS), sleep=later)
    assert seen and recorded_version(cluster.objects[CM_PATH]) == "1.36.3"


def test_a_record_moved_by_hand_past_the_stack_stops_the_update(cluster: Cluster) -> None:
    cluster.objects[CM_PATH] = config_map(CLUSTER_CONFIGURATION.replace("v1.35.2", "v1.37.0"))
    with pytest.raises(KubeadmError, match=r"records Kubernetes v1\.37\.0, newer than the control plane's 1\.36\.3"):
        provider.move_version(dict(PROPS))
    assert [m for m, _p, _b in cluster.requests] == ["GET"]


def test_addons_are_retagged_with_strategic_merge_patches(cluster: Cluster) -> None:
    props = {"kubeconfig": "kc", "kubernetes_version": "1.36.3", "coredns_version": "v1.14.2"}
    out = provider.move_addons(props)
    assert out["kube_proxy_image"] == "registry.k8s.io/kube-proxy:v1.36.3"
    assert out["coredns_image"] == "mirror.example:5000/coredns/coredns:v1.14.2"  # the mirror stays
    patches = [(p, b) for m, p, b in cluster.requests if m == "PATCH"]
    assert [p for p, _b in patches] == [PROXY_PATH, DNS_PATH]
    assert patches[0][1] == {
        "spec": {"template": {"spec": {"containers": [{"name": "kube-proxy", "image": out["kube_proxy_image"]}]}}}
    }
    cluster.requests.clear()
    assert provider.move_addons(props) == out  # moved already: reads only
    assert {m for m, _p, _b in cluster.requests} == {"GET"}


def test_a_cluster_without_kube_proxy_is_recorded_not_failed(cluster: Cluster) -> None:
    del cluster.objects[PROXY_PATH]
    out = provider.move_addons({"kubeconfig": "kc", "kubernetes_version": "1.36.3", "coredns_version": None})
    assert out["kube_proxy_image"] is None and out["coredns_image"] is None
    assert [p for _m, p, _b in cluster.requests] == [PROXY_PATH]  # no CoreDNS target without a pinned release


def test_refresh_reports_drift_and_a_deleted_record(cluster: Cluster) -> None:
    p = provider.ClusterVersionProvider()
    state = {**PROPS, "recorded_version": "1.36.3"}
    read = p.read("kube-system/kubeadm-config", dict(state))
    assert read.outs is not None and read.outs["recorded_version"] == "1.35.2"  # moved back out of band
    assert p.diff("x", dict(read.outs), dict(PROPS)).changes
    del cluster.objects[CM_PATH]
    gone = p.read("kube-system/kubeadm-config", dict(state))
    assert gone.id == "" and gone.outs == {}
    a = provider.ClusterAddonsProvider()
    addon_state = {"kubeconfig": "kc", "kubernetes_version": "1.36.3", "coredns_version": "v1.14.2"}
    outs = a.read("kube-system/addons", dict(addon_state)).outs
    assert outs is not None and outs["kube_proxy_image"] == "registry.k8s.io/kube-proxy:v1.35.2"
    assert a.diff("x", dict(outs), dict(addon_state)).changes


class Forbidden:
    """An API server that refuses every request."""

    def request(self, *_a: Any, **_k: Any) -> Any:
        from kubernetes.client.rest import RESTResponse

        return RESTResponse(SimpleNamespace(status=403, reason="Forbidden", data=b"{}", headers={}, getheaders=dict))


def test_a_failing_api_names_the_object() -> None:
    api = RawApi(faked_client(Forbidden()))  # type: ignore[arg-type]
    with pytest.raises(KubeadmError, match=r"reading kube-system/kubeadm-config failed: HTTP 403"):
        kube.read_kubeadm_config(api)
    with pytest.raises(KubeadmError, match=r"updating kube-system/kubeadm-config failed: HTTP 403"):
        kube.replace_kubeadm_config(api, config_map())
    with pytest.raises(KubeadmError, match=r"patching daemonset kube-system/kube-proxy failed: HTTP 403"):
        kube.patch_workload(api, "daemonsets", "kube-proxy", {})


def test_refresh_of_objects_edited_into_nonsense_is_drift_not_a_crash(cluster: Cluster) -> None:
    cluster.objects[CM_PATH] = config_map("kind: ClusterConfiguration\n")  # no kubernetesVersion left
    p = provider.ClusterVersionProvider()
    read = p.read("kube-system/kubeadm-config", {**PROPS, "recorded_version": "1.36.3"})
    assert read.outs is not None and read.outs["recorded_version"] == provider.UNREADABLE
    assert p.diff("x", dict(read.outs), dict(PROPS)).changes
    with pytest.raises(KubeadmError, match=r"kubernetesVersion is None, not a version"):
        provider.move_version(dict(PROPS))  # the `up` after it names what is wrong
    cluster.objects[PROXY_PATH] = workload("proxy", "registry.k8s.io/kube-proxy:v1.36.3")  # container renamed
    a = provider.ClusterAddonsProvider()
    addon_state = {"kubeconfig": "kc", "kubernetes_version": "1.36.3", "coredns_version": "v1.14.2"}
    outs = a.read("kube-system/addons", dict(addon_state)).outs
    assert outs is not None and outs["kube_proxy_image"] == provider.UNREADABLE
    assert a.diff("x", dict(outs), dict(addon_state)).changes
    with pytest.raises(KubeadmError, match=r"daemonset kube-system/kube-proxy has no container named kube-proxy"):
        provider.move_addons(dict(addon_state))
