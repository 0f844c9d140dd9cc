"""CloudProvider under Pulumi mocks: what it registers, on which provider, after what, and with which secrets."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.cloud_provider import CloudProvider, CloudProviderArgs
from offline.ids import stable_id
from offline.program import offline_config
from offline.recording import Recording
from offline.runtime import configure, run
from vsphere_k8s.config import StackConfig
from vsphere_k8s.loader import load
from vsphere_k8s.render import csi_conf

PASSWORDS = {"admin": "Adm1n;pass#", "cpi": "cpi-Secret-1", "csi": 'csi"Secret\\2', "nsxt": "nsxt-Secret-3"}
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def prod_config(**changes: Any) -> StackConfig:
    raw = offline_config("prod")
    raw["credentials"] = {
        vc: {
            "username": f"admin@{vc}.local",
            "password": PASSWORDS["admin"],
            "cpi": {"username": f"k8s-cpi@{vc}.local", "password": PASSWORDS["cpi"]},
            "csi": {"username": f"k8s-csi@{vc}.local", "password": PASSWORDS["csi"]},
            "nsxt": {"username": "nsx-admin", "password": PASSWORDS["nsxt"]},
        }
        for vc in ("vc-east", "vc-west")
    }
    raw = copy.deepcopy(raw)
    for key, value in changes.items():
        raw[key] = value
    return load(raw, stack="prod")


NSXT = {
    "host": "nsx.example.internal",
    "tls": {"caCert": CA},
    "loadBalancer": {
        "ipPoolName": "k8s-lb",
        "tier1GatewayPath": "/infra/tier-1s/t1",
        "tcpAppProfileName": "default-tcp-lb-app-profile",
        "udpAppProfileName": "default-udp-lb-app-profile",
    },
    "routes": {"routerPath": "/infra/tier-1s/t1"},
}


def register(cfg: StackConfig) -> Recording:
    mocks, monitor = configure({}, project="vsphere-k8s", stack="test")

    def program() -> None:
        provider = k8s.Provider("kube", kubeconfig=pulumi.Output.secret("apiVersion: v1\nkind: Config\n"))
        ready = k8s.core.v1.ConfigMap("api-ready", metadata={"name": "ready", "namespace": "default"})
        vsphere_providers = {
            vc.name: pulumi.ProviderResource("vsphere", f"vsphere-{vc.name}", {}) for vc in cfg.vcenters
        }
        CloudProvider(
            "prod-cloud-provider",
            CloudProviderArgs(cfg, provider, [ready], vsphere_providers),  # type: ignore[arg-type]
        )

    return run(program, monitor, mocks)


@pytest.fixture(scope="module")
def recording() -> Recording:
    cfg = prod_config(cpi={"nodes": {"internalNetworkSubnetCidr": "10.30.0.0/22"}, "nsxt": NSXT})
    return register(cfg)


def _kube(rec: Recording) -> list[Any]:
    return [r for r in rec.registrations.values() if r.type.startswith("kubernetes:") and r.custom and r.name != "kube"]


def test_every_kubernetes_object_uses_the_cluster_provider_and_waits_for_readiness(recording: Recording) -> None:
    provider = recording.by_name("kube")
    ready = recording.by_name("api-ready")
    objects = [r for r in _kube(recording) if r.name != "api-ready"]
    assert len(objects) >= 25
    for reg in objects:
        assert reg.provider.startswith(provider.urn + "::"), f"{reg.name} is not on the cluster's provider"
        assert ready.urn in reg.dependencies, f"{reg.name} does not wait for the API"


def test_children_are_parented_named_by_role_and_unique(recording: Recording) -> None:
    (component,) = recording.of_type("vsphere-k8s:kubernetes:CloudProvider")
    children = recording.children(component.urn)
    assert children
    assert all(c.name.startswith("prod-cloud-provider-") for c in children)
    urns = Counter(r.urn for r in recording.registrations.values())
    assert max(urns.values()) == 1
    names = {c.name for c in children}
    assert "prod-cloud-provider-cpi-daemonset-vsphere-cloud-controller-manager" in names
    assert "prod-cloud-provider-storage-storageclass-vsan-zonal-west-a" in names


def test_cpi_secret_has_per_server_keys_as_a_secret(recording: Recording) -> None:
    secret = recording.by_name("prod-cloud-provider-cpi-secret-vsphere-cloud-secret")
    assert "stringData" in secret.secret_inputs
    data = secret.inputs["stringData"]
    assert data == {
        "vcenter-east.example.internal.username": "k8s-cpi@vc-east.local",
        "vcenter-east.example.internal.password": PASSWORDS["cpi"],
        "vcenter-west.example.internal.username": "k8s-cpi@vc-west.local",
        "vcenter-west.example.internal.password": PASSWORDS["cpi"],
    }
    assert secret.inputs["metadata"]["namespace"] == "kube-system"


def test_nsxt_credentials_have_their_own_secret(recording: Recording) -> None:
    secret = recording.by_name("prod-cloud-provider-cpi-secret-vsphere-nsxt-credentials")
    assert "stringData" in secret.secret_inputs
    assert secret.inputs["stringData"] == {"username": "nsx-admin", "password": PASSWORDS["nsxt"]}


def test_csi_config_secret_holds_the_csi_account(recording: Recording) -> None:
    secret = recording.by_name("prod-cloud-provider-csi-secret-vsphere-config-secret")
    assert secret.inputs["metadata"] == {
        "name": "vsphere-config-secret",
        "namespace": "vmware-system-csi",
        "labels": secret.inputs["metadata"]["labels"],
    }
    assert "stringData" in secret.secret_inputs
    conf = secret.inputs["stringData"][csi_conf.CONFIG_FILE]
    assert 'user = "k8s-csi@vc-east.local"' in conf
    assert 'password = "csi\\"Secret\\\\2"' in conf
    assert PASSWORDS["cpi"] not in conf and PASSWORDS["admin"] not in conf


# Raw and as written into csi-vsphere.conf (gcfg escapes).
LEAKS = {*PASSWORDS.values(), *(csi_conf.quote(p)[1:-1] for p in PASSWORDS.values())}


def _strings(value: Any) -> list[str]:
    """Every string leaf (not repr(), which would double the backslashes)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def _leaks(value: Any) -> bool:
    return any(p in s for s in _strings(value) for p in LEAKS)


def test_no_credential_outside_secret_inputs(recording: Recording) -> None:
    checked = signing_in = 0
    for reg in recording.registrations.values():
        for key, value in reg.inputs.items():
            if _leaks(value):
                assert key in reg.secret_inputs, f"{reg.name}.{key} holds a password in plaintext"
                if reg.type == PERMISSION:
                    signing_in += 1  # grants a role through vCenter: signs in as the program's account
                    continue
                checked += 1
                assert reg.type == "kubernetes:core/v1:Secret", f"{reg.type} {reg.name} holds a password"
        assert not _leaks(reg.component_outputs)
    # The CPI, NSX-T and CSI secrets; in Kubernetes, the admin password nowhere.
    assert checked == 3
    assert signing_in == len(recording.of_type(PERMISSION)) > 0
    for cm in recording.of_type("kubernetes:core/v1:ConfigMap"):
        assert not _leaks(cm.inputs)


def test_workloads_come_after_their_config(recording: Recording) -> None:
    ds = recording.by_name("prod-cloud-provider-cpi-daemonset-vsphere-cloud-controller-manager")
    for dep in ("cpi-secret-vsphere-cloud-secret", "cpi-configmap-vsphere-cloud-config"):
        assert recording.by_name(f"prod-cloud-provider-{dep}").urn in ds.dependencies
    controller = recording.by_name("prod-cloud-provider-csi-deployment-vsphere-csi-controller")
    for dep in ("csi-namespace-vmware-system-csi", "csi-secret-vsphere-config-secret"):
        assert recording.by_name(f"prod-cloud-provider-{dep}").urn in controller.dependencies
    assert controller.inputs["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("settings", "namespace_made_by"),
    [
        ({"secretNamespace": "vsphere-credentials"}, "cpi-namespace-vsphere-credentials"),
        ({"secretNamespace": "vmware-system-csi"}, "csi-namespace-vmware-system-csi"),
        ({"secretNamespace": "team-secrets", "createSecretNamespace": False}, None),
    ],
)
def test_secret_namespace_moves_only_the_secrets(settings: dict[str, Any], namespace_made_by: str | None) -> None:
    """cpi.secretNamespace: the Secrets (and the namespace, when the stack owns it) move; the CPI's
    ServiceAccount, ConfigMap, RBAC and DaemonSet stay in kube-system as upstream keeps them."""
    ns = settings["secretNamespace"]
    rec = register(prod_config(cpi={**settings, "nsxt": NSXT}))
    namespaces = {r.inputs["metadata"]["name"]: r for r in rec.of_type("kubernetes:core/v1:Namespace")}
    assert set(namespaces) == {"vmware-system-csi"} | ({ns} if namespace_made_by else set())
    for name in ("vsphere-cloud-secret", "vsphere-nsxt-credentials"):
        secret = rec.by_name(f"prod-cloud-provider-cpi-secret-{name}")
        assert secret.inputs["metadata"]["namespace"] == ns
        if namespace_made_by:
            assert rec.by_name(f"prod-cloud-provider-{namespace_made_by}").urn in secret.dependencies
    for reg in rec.registrations.values():
        if reg.name.startswith("prod-cloud-provider-cpi-") and reg.type != "kubernetes:core/v1:Secret":
            assert reg.inputs["metadata"].get("namespace") in (None, "kube-system", ns), reg.name
            if reg.type != "kubernetes:core/v1:Namespace":
                assert reg.inputs["metadata"].get("namespace") in (None, "kube-system"), reg.name
    conf = rec.by_name("prod-cloud-provider-cpi-configmap-vsphere-cloud-config").inputs["data"]["vsphere.conf"]
    assert f"secretNamespace: {ns}" in conf


def test_cpi_runs_routes_and_load_balancer_flags(recording: Recording) -> None:
    ds = recording.by_name("prod-cloud-provider-cpi-daemonset-vsphere-cloud-controller-manager")
    (container,) = ds.inputs["spec"]["template"]["spec"]["containers"]
    assert "--cluster-name=prod" in container["args"]
    assert "--configure-cloud-routes=true" in container["args"]
    assert "--cluster-cidr=10.244.0.0/16" in container["args"]
    assert container["image"] == "registry.k8s.io/cloud-pv-vsphere/cloud-provider-vsphere:v1.31.1"


PERMISSION = "pulumi-python:dynamic/vsphere:Permission"


def test_roles_and_permissions_for_separate_accounts(recording: Recording) -> None:
    roles = recording.of_type("vsphere:index/role:Role")
    by_name = {r.inputs["name"]: r for r in roles}
    assert set(by_name) == {"k8s-cpi", "k8s-csi-read", "k8s-csi-search-spbm", "k8s-csi-vm", "k8s-csi-datastore"}
    assert len(roles) == 10  # five per vCenter, each on its own vCenter's provider
    assert len({r.provider for r in roles}) == 2
    assert by_name["k8s-csi-datastore"].inputs["rolePrivileges"] == ["Datastore.FileManagement"]
    # Never vsphere.EntityPermissions (it owns every permission on an entity): one Permission per principal.
    assert recording.of_type("vsphere:index/entityPermissions:EntityPermissions") == []
    perms = recording.of_type(PERMISSION)
    assert perms and all({"principal", "username", "password"} <= set(p.secret_inputs) for p in perms)
    root = {
        p.inputs["principal"]: p for p in perms if p.name.startswith("prod-cloud-provider-permission-vc-east-root-")
    }
    assert set(root) == {"VC-EAST.LOCAL\\k8s-cpi", "VC-EAST.LOCAL\\k8s-csi"}
    assert all(p.inputs["entity_id"] == "group-d1" and p.inputs["entity_type"] == "Folder" for p in root.values())
    assert all(p.inputs["propagate"] is False for p in root.values())
    # Zones with folders: the CSI's disk rights go on the VM folder, read-only on the datacenter.
    folder = recording.by_name("prod-cloud-provider-permission-vc-east-folder-dc-east-k8s-prod-csi")
    assert folder.inputs["entity_type"] == "Folder"
    assert folder.inputs["role_id"] == int(role_id("prod-cloud-provider-role-vc-east-csi-vm"))
    assert folder.inputs["propagate"] is True
    ds = recording.by_name("prod-cloud-provider-permission-vc-east-datastore-dc-east-east-vsan-a-csi")
    assert ds.inputs["role_id"] == int(role_id("prod-cloud-provider-role-vc-east-csi-datastore"))
    assert ds.inputs["propagate"] is False


def role_id(resource_name: str) -> str:
    """The id the mocks give a Role (offline.vsphere_fakes), i.e. what the grant must reference."""
    return str(1000 + int(stable_id("role", resource_name), 16) % 100000)


def test_outputs_name_images_classes_and_topology_key(recording: Recording) -> None:
    (component,) = recording.of_type("vsphere-k8s:kubernetes:CloudProvider")
    out = component.component_outputs
    assert out["csiVersion"] == "v3.5.1"
    assert out["topologyKey"] == "topology.csi.vmware.com/k8s-zone"
    assert out["defaultStorageClass"] == "vsan-default"
    assert set(out["storageClasses"]) == {"vsan-default", "vsan-zonal-east-a", "vsan-zonal-east-b", "vsan-zonal-west-a"}


def test_roles_without_separate_accounts_are_granted_to_nobody() -> None:
    cfg = prod_config()
    raw_creds = {
        vc: {"username": "admin@vsphere.local", "password": PASSWORDS["admin"]} for vc in ("vc-east", "vc-west")
    }
    cfg = cfg.model_copy(update={"credentials": load_credentials(raw_creds)})
    rec = register(cfg)
    assert len(rec.of_type("vsphere:index/role:Role")) == 10
    assert rec.of_type(PERMISSION) == []


def load_credentials(raw: dict[str, Any]) -> Any:
    from vsphere_k8s.config import VCenterCredentials

    return {k: VCenterCredentials.model_validate(v) for k, v in raw.items()}
