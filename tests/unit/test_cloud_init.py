"""cloud-init user-data per role, checked by Debian's cloud-init, bash and kubernetes-validate."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from offline.program import offline_config
from vsphere_k8s import versions
from vsphere_k8s.config import StackConfig
from vsphere_k8s.loader import load
from vsphere_k8s.plan.nodes import NodePlan, plan_nodes
from vsphere_k8s.render import kube_vip
from vsphere_k8s.render.cloud_init import (
    EMITTED_KEYS,
    KUBE_VIP_STAGE,
    KUBEADM_CONFIG,
    PKI_STAGE,
    SCRIPT_PATH,
    ControlPlanePki,
    bootstrap_script,
    render_user_data,
    step_of,
)
from vsphere_k8s.render.kubeadm import JoinMaterial, ca_cert_hash

SCHEMA = Path("/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json")
TOKEN = "abcdef.0123456789abcdef"


def _pem_key(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
    )


def _ca(common_name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key)


def make_pki() -> ControlPlanePki:
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_pub = sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    ca, front, etcd = _ca("kubernetes"), _ca("front-proxy-ca"), _ca("etcd-ca")
    return ControlPlanePki(*ca, *front, *etcd, _pem_key(sa), sa_pub.decode())


PKI = make_pki()
JOIN = JoinMaterial(TOKEN, ca_cert_hash(PKI.ca_cert))


def sim_config(**kubernetes: Any) -> StackConfig:
    raw = offline_config("sim")
    raw["kubernetes"] = {**raw["kubernetes"], **kubernetes}
    return load(raw, stack="sim")


def render(cfg: StackConfig, node: NodePlan, nodes: list[NodePlan]) -> str:
    return render_user_data(cfg, nodes, node, JOIN, PKI if node.is_control_plane else None)


def by_step(nodes: list[NodePlan]) -> dict[str, NodePlan]:
    return {step_of(n): n for n in reversed(nodes)}  # first node of each step


def known_cloud_config_keys() -> set[str]:
    schema = json.loads(SCHEMA.read_text())
    keys: set[str] = set()
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    return keys


def files_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in doc["write_files"]}


VARIANTS: dict[str, dict[str, Any]] = {
    "1.31-packages": {},
    "1.30-v1beta3": {"version": "1.30.8"},
    "1.29-v1beta3-super-admin": {"version": "1.29.12"},
    "1.33-preinstalled-cilium": {
        "version": "1.33.1",
        "packagesPreinstalled": True,
        "cni": {"name": "cilium", "version": "1.16.5"},
    },
    "no-cni-fixed-nic": {"cni": {"name": "none"}, "vipInterface": "ens192"},
}


@pytest.mark.skipif(shutil.which("cloud-init") is None, reason="Debian cloud-init is installed by scripts/setup.sh")
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_role_passes_cloud_init_schema(variant: str, tmp_path: Path) -> None:
    cfg = sim_config(**VARIANTS[variant])
    nodes = plan_nodes(cfg)
    roles = by_step(nodes)
    assert set(roles) == {"init", "join-control-plane", "join-worker"}
    for step, node in roles.items():
        text = render(cfg, node, nodes)
        assert text.startswith("#cloud-config\n")
        path = tmp_path / f"{step}.yaml"
        path.write_text(text)
        result = subprocess.run(["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{variant}/{step}: {result.stdout}{result.stderr}"
        assert "Valid cloud-config" in result.stdout


def test_schema_check_is_not_vacuous(tmp_path: Path) -> None:
    """The validator must reject what cloud-init would reject, or the test above proves nothing."""
    cfg = sim_config()
    nodes = plan_nodes(cfg)
    doc = yaml.safe_load(render(cfg, nodes[0], nodes))
    doc["write_files"][0]["permissions"] = ["0600"]  # wrong type
    path = tmp_path / "broken.yaml"
    path.write_text("#cloud-config\n" + yaml.safe_dump(doc))
    result = subprocess.run(["cloud-init", "schema", "-c", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "permissions" in result.stdout + result.stderr


def test_top_level_keys_are_cloud_init_modules() -> None:
    """Schema 22.4 ignores unknown top-level keys; compare them with the module list ourselves."""
    known = known_cloud_config_keys()
    assert {"write_files", "runcmd", "users"} <= known  # the schema was read
    assert "kubeadm" not in known
    assert known >= EMITTED_KEYS
    raw = offline_config("sim")
    raw["nodePools"]["sshAuthorizedKeys"] = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b2RvIGtleQ ops@example"]
    cfg = load(raw, stack="sim")
    nodes = plan_nodes(cfg)
    for node in nodes:
        doc = yaml.safe_load(render(cfg, node, nodes))
        assert set(doc) <= EMITTED_KEYS, set(doc) - EMITTED_KEYS
        assert "network" not in doc  # network config is guestinfo metadata, not user-data
        assert doc["ssh_authorized_keys"] == raw["nodePools"]["sshAuthorizedKeys"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_bootstrap_scripts_parse_with_bash(variant: str, tmp_path: Path) -> None:
    cfg = sim_config(**VARIANTS[variant])
    nodes = plan_nodes(cfg)
    for step, node in by_step(nodes).items():
        path = tmp_path / f"{step}.sh"
        path.write_text(bootstrap_script(cfg, nodes, node))
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{step}: {result.stderr}"


def test_roles_run_the_right_kubeadm_steps() -> None:
    cfg = sim_config()
    nodes = plan_nodes(cfg)
    scripts = {step: bootstrap_script(cfg, nodes, n) for step, n in by_step(nodes).items()}
    assert "kubeadm init --config" in scripts["init"] and "kubeadm join" not in scripts["init"]
    for step in ("join-control-plane", "join-worker"):
        assert "kubeadm join --config" in scripts[step] and "kubeadm init" not in scripts[step]
    # The control plane gets the shared PKI before kubeadm; workers never touch it.
    assert "place_pki" in scripts["init"] and "place_pki" in scripts["join-control-plane"]
    assert "place_pki" not in scripts["join-worker"]
    # kube-vip: before init on the init node (init talks to the VIP), after join elsewhere.
    init = scripts["init"]
    assert init.index("place_kube_vip &&") < init.index("kubeadm init")
    cp = scripts["join-control-plane"]
    assert cp.rindex("place_kube_vip") > cp.index("kubeadm join")
    assert "kube-vip" not in scripts["join-worker"]
    # The CNI goes in once, from the init node, after init.
    url = versions.calico_manifest_url(cfg.kubernetes.cni.version)
    assert init.index(url) > init.index("kubeadm init")
    assert all(url not in scripts[s] for s in ("join-control-plane", "join-worker"))
    # Packages of the configured version from the minor's repository, held.
    assert "kubelet=1.31.4-1.1 kubeadm=1.31.4-1.1 kubectl=1.31.4-1.1" in init
    assert "https://pkgs.k8s.io/core:/stable:/v1.31/deb/" in init
    assert "apt-mark hold kubelet kubeadm kubectl" in init


def test_preinstalled_packages_skip_apt() -> None:
    cfg = sim_config(packagesPreinstalled=True)
    nodes = plan_nodes(cfg)
    script = bootstrap_script(cfg, nodes, nodes[0])
    assert "apt-get" not in script and "pkgs.k8s.io" not in script
    assert "SystemdCgroup = true" in script  # the runtime is still configured


def test_super_admin_conf_only_for_the_init_node_from_1_29() -> None:
    assert kube_vip.kubeconfig_for(28, init_node=True) == kube_vip.ADMIN_CONF
    assert kube_vip.kubeconfig_for(29, init_node=True) == kube_vip.SUPER_ADMIN_CONF
    assert kube_vip.kubeconfig_for(31, init_node=False) == kube_vip.ADMIN_CONF


@pytest.mark.parametrize("version", ["1.29.12", "1.31.4"])
def test_kube_vip_kubeconfig_on_the_init_node(version: str) -> None:
    init_conf = "super-admin.conf"
    cfg = sim_config(version=version)
    nodes = plan_nodes(cfg)
    roles = by_step(nodes)
    init_doc = yaml.safe_load(render(cfg, roles["init"], nodes))
    pod = yaml.safe_load(files_of(init_doc)[KUBE_VIP_STAGE]["content"])
    assert pod["spec"]["volumes"][0]["hostPath"]["path"] == f"/etc/kubernetes/{init_conf}"
    script = files_of(init_doc)[SCRIPT_PATH]["content"]
    # After init, kube-vip goes back to the RBAC-bound admin.conf.
    swap = f"sed -i 's#{kube_vip.SUPER_ADMIN_CONF}#{kube_vip.ADMIN_CONF}#' {kube_vip.MANIFEST_PATH}"
    assert script.index(swap) > script.index("kubeadm init")
    cp_doc = yaml.safe_load(render(cfg, roles["join-control-plane"], nodes))
    cp_pod = yaml.safe_load(files_of(cp_doc)[KUBE_VIP_STAGE]["content"])
    assert cp_pod["spec"]["volumes"][0]["hostPath"]["path"] == kube_vip.ADMIN_CONF
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["address"] == "10.10.0.10" and env["port"] == "6443" and env["cp_enable"] == "true"


@pytest.mark.parametrize("version", ["1.29.12", "1.31.4"])
def test_kube_vip_pod_validates(version: str) -> None:
    pod = kube_vip.kube_vip_pod("10.10.0.10", 6443, kube_vip.ADMIN_CONF, interface="ens192")
    kubernetes_validate.validate(pod, ".".join(version.split(".")[:2]), strict=True)


def test_secrets_only_in_root_files_and_pki_only_on_control_plane() -> None:
    cfg = sim_config()
    nodes = plan_nodes(cfg)
    for node in nodes:
        doc = yaml.safe_load(render(cfg, node, nodes))
        files = files_of(doc)
        holders = {p for p, f in files.items() if TOKEN in f["content"] or "PRIVATE KEY" in f["content"]}
        expected = {KUBEADM_CONFIG}
        if node.is_control_plane:
            expected |= {f"{PKI_STAGE}/{n}" for n in PKI.files() if n.endswith(".key")}
        assert holders == expected, node.key
        assert all(files[p]["permissions"] == "0600" and files[p]["owner"] == "root:root" for p in holders)
        assert TOKEN not in json.dumps(doc["runcmd"]) and TOKEN not in files[SCRIPT_PATH]["content"]
        staged = {p.removeprefix(PKI_STAGE + "/") for p in files if p.startswith(PKI_STAGE)}
        assert staged == (set(PKI.files()) if node.is_control_plane else set())
        if node.is_control_plane:
            assert files[f"{PKI_STAGE}/ca.crt"]["content"] == PKI.ca_cert


def test_control_plane_needs_the_pki() -> None:
    cfg = sim_config()
    nodes = plan_nodes(cfg)
    with pytest.raises(ValueError, match=r"control-plane node cp-sim-a-0 needs the cluster PKI"):
        render_user_data(cfg, nodes, nodes[0], JOIN, None)
