"""KubeAccess under mocks: the kubeconfig the kubernetes client loads, the provider, readiness."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import dill
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from kubernetes import client
from kubernetes.config.kube_config import KubeConfigLoader

from components.pki import admin_group
from offline.program import OfflineRun, offline_config, run_program
from providers.readiness.provider import ApiServerReadyProvider
from tests.unit.test_cloud_init import PKI
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.facts import VM_TYPE
from vsphere_k8s.loader import load
from vsphere_k8s.render.kubeconfig import KubeconfigError, endpoint_of, render_kubeconfig

READY = "pulumi-python:dynamic/kubernetes:ApiServerReady"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def load_client(kubeconfig: str) -> client.Configuration:
    configuration = client.Configuration()
    KubeConfigLoader(config_dict=yaml.safe_load(kubeconfig)).load_and_set(configuration)
    return configuration


def test_kubeconfig_loads_in_the_kubernetes_client_and_trusts_the_generated_ca(sim: OfflineRun) -> None:
    kubeconfig = sim.exports["kubeconfig"]
    configuration = load_client(kubeconfig)
    assert configuration.host == "https://10.10.0.10:6443"
    ca_pem = sim.recording.by_name("sim-bootstrap-pki-ca").outputs["certPem"]
    assert Path(str(configuration.ssl_ca_cert)).read_text() == ca_pem
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    cert = x509.load_pem_x509_certificate(Path(str(configuration.cert_file)).read_bytes())
    cert.verify_directly_issued_by(ca)  # raises if the chain does not hold
    key = serialization.load_pem_private_key(Path(str(configuration.key_file)).read_bytes(), None)
    assert key.public_key() == cert.public_key()
    assert configuration.verify_ssl is True


def test_kubeconfig_is_secret_and_the_provider_waits_for_readiness(sim: OfflineRun) -> None:
    rec = sim.recording
    (provider,) = rec.of_type(K8S_PROVIDER)
    assert provider.name == "sim-kube-provider"
    assert "kubeconfig" in provider.secret_inputs
    (ready,) = rec.of_type(READY)
    assert ready.urn in provider.dependencies
    # The wait starts once the first control-plane node (kubeadm init) exists: the other nodes'
    # gates (their NodeRetirements) need the API, and the next control-plane VM of a roll waits for them.
    vms = {r.inputs["name"]: r.urn for r in rec.of_type(VM_TYPE)}
    assert len(vms) == 6
    assert {u for u in vms.values() if u in ready.dependencies} == {vms["sim-cp-sim-a-0"]}
    assert ready.inputs["server"] == "https://10.10.0.10:6443"
    assert ready.inputs["caCertPem"] == rec.by_name("sim-bootstrap-pki-ca").outputs["certPem"]
    assert ready.inputs["timeoutSeconds"] == 900
    kube = rec.by_name("sim-kube")
    assert kube.type == "vsphere-k8s:kubernetes:KubeAccess"
    assert ready.parent == kube.urn and provider.parent == kube.urn


def test_every_kubernetes_resource_uses_the_cluster_provider(sim: OfflineRun) -> None:
    rec = sim.recording
    (provider,) = rec.of_type(K8S_PROVIDER)
    k8s = [r for r in rec.registrations.values() if r.type.startswith("kubernetes:")]
    assert k8s, "the cloud-provider block registers Kubernetes objects"
    assert all(r.provider.startswith(provider.urn + "::") for r in k8s), {r.name for r in k8s}


def test_readiness_carries_no_credential_and_pickles(sim: OfflineRun) -> None:
    (ready,) = sim.recording.of_type(READY)
    # Unset outputs (attempts, status) are not sent; what is sent is public.
    assert set(ready.inputs) - {"__provider"} == {"server", "caCertPem", "insecure", "timeoutSeconds"}
    pickled = base64.b64decode(ready.inputs["__provider"])
    admin_key = sim.recording.by_name("sim-bootstrap-pki-admin-key").outputs["privateKeyPem"]
    assert b"PRIVATE KEY" not in pickled and admin_key.encode() not in pickled
    provider = dill.loads(pickled)  # noqa: S301 - our own resource's blob
    assert isinstance(provider, ApiServerReadyProvider) and vars(provider) == {}


def test_admin_group_by_minor() -> None:
    assert admin_group(28) == "system:masters"
    assert admin_group(29) == "kubeadm:cluster-admins"


def _existing_config(kubeconfig: str) -> dict[str, Any]:
    raw = copy.deepcopy(offline_config("sim"))
    raw["kubernetes"] = {**raw["kubernetes"], "mode": "existing", "kubeconfig": kubeconfig}
    del raw["kubernetes"]["controlPlaneEndpoint"]
    return raw


USER_KUBECONFIG = render_kubeconfig(
    "prod-east",
    "https://api.prod-east.example.com:6443",
    ca_cert_pem=PKI.ca_cert,
    client_cert_pem=PKI.front_proxy_ca_cert,  # any certificate: nothing here uses it
    client_key_pem=PKI.front_proxy_ca_key,
)


def test_existing_mode_uses_the_users_kubeconfig() -> None:
    run = run_program(_existing_config(USER_KUBECONFIG), stack="sim")
    rec = run.recording
    assert not [
        r for r in rec.registrations.values() if r.type.startswith(("tls:", "random:", "vsphere-k8s:bootstrap"))
    ]
    (provider,) = rec.of_type(K8S_PROVIDER)
    assert "kubeconfig" in provider.secret_inputs and provider.inputs["kubeconfig"] == USER_KUBECONFIG
    (ready,) = rec.of_type(READY)
    assert ready.inputs["server"] == "https://api.prod-east.example.com:6443"
    assert ready.inputs["caCertPem"] == PKI.ca_cert
    assert ready.urn in provider.dependencies
    assert run.exports["kubeconfig"] == USER_KUBECONFIG


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list", "not a mapping"),
        ("apiVersion: v1\ncurrent-context: x\ncontexts: []", "names no context"),
        (
            "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]",
            "has no server",
        ),
    ],
)
def test_a_broken_kubeconfig_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(KubeconfigError, match=message):
        endpoint_of(text)
    with pytest.raises(ConfigError) as info:
        load(_existing_config(text), stack="sim")
    (issue,) = [i for i in info.value.issues if i.path == "kubernetes.kubeconfig"]
    assert message in issue.message


def test_kubeconfig_endpoint_round_trip() -> None:
    endpoint = endpoint_of(USER_KUBECONFIG)
    assert endpoint.server == "https://api.prod-east.example.com:6443"
    assert endpoint.ca_cert_pem == PKI.ca_cert and endpoint.insecure is False
