"""The program under mocks: PKI, tokens and per-node user-data as the VMs receive them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from offline.program import OfflineRun
from vsphere_k8s.facts import VM_TYPE
from vsphere_k8s.render import guestinfo
from vsphere_k8s.render.cloud_init import KUBEADM_CONFIG, PKI_STAGE
from vsphere_k8s.render.kubeadm import ca_cert_hash

VM = VM_TYPE


def user_data(run: OfflineRun) -> dict[str, dict[str, Any]]:
    """VM name -> its cloud-config, decoded from guestinfo as cloud-init's VMware datasource does."""
    out = {}
    for reg in run.recording.of_type(VM):
        extra = reg.inputs["extraConfig"]
        text = guestinfo.decode(extra["guestinfo.userdata"], extra["guestinfo.userdata.encoding"])
        assert text.startswith("#cloud-config\n")
        out[reg.inputs["name"]] = yaml.safe_load(text)
    return out


def files(doc: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["content"] for f in doc["write_files"]}


def kubeadm_docs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(files(doc)[KUBEADM_CONFIG]))


def outputs(run: OfflineRun, name: str) -> dict[str, Any]:
    return run.recording.by_name(name).outputs


def test_control_plane_gets_init_and_join_workers_join_only(sim: OfflineRun) -> None:
    docs = user_data(sim)
    assert len(docs) == 6
    kinds = {}
    for vm, doc in docs.items():
        first = kubeadm_docs(doc)[0]
        kind = first["kind"]
        if kind == "JoinConfiguration":
            kind += "+controlPlane" if "controlPlane" in first else ""
        kinds[vm] = kind
    assert kinds == {
        "sim-cp-sim-a-0": "InitConfiguration",
        "sim-cp-sim-b-0": "JoinConfiguration+controlPlane",
        "sim-cp-sim-c-0": "JoinConfiguration+controlPlane",
        "sim-general-sim-a-0": "JoinConfiguration",
        "sim-general-sim-b-0": "JoinConfiguration",
        "sim-general-sim-c-0": "JoinConfiguration",
    }


def test_user_data_is_secret_everywhere(sim: OfflineRun) -> None:
    vms = sim.recording.of_type(VM)
    assert vms and all("extraConfig" in vm.secret_inputs for vm in vms)
    bootstrap = sim.recording.by_name("sim-bootstrap")
    # The component's outputs say which step each node runs, never what its user-data holds.
    assert set(bootstrap.component_outputs) == {"endpoint", "steps"}
    assert bootstrap.component_outputs["steps"]["cp-sim-a-0"] == "init"
    # Private keys and the join secret never reach state in plaintext.
    for reg in sim.recording.of_type("tls:index/privateKey:PrivateKey"):
        assert "privateKeyPem" in reg.additional_secret_outputs, reg.name
    for reg in sim.recording.of_type("random:index/randomPassword:RandomPassword"):
        assert "result" in reg.additional_secret_outputs, reg.name


def test_every_control_plane_node_gets_the_same_program_made_pki(sim: OfflineRun) -> None:
    ca_pem = outputs(sim, "sim-bootstrap-pki-ca")["certPem"]
    ca_key = outputs(sim, "sim-bootstrap-pki-ca-key")["privateKeyPem"]
    sa_key = outputs(sim, "sim-bootstrap-pki-sa-key")["privateKeyPem"]
    for vm, doc in user_data(sim).items():
        staged = {p.removeprefix(PKI_STAGE + "/"): c for p, c in files(doc).items() if p.startswith(PKI_STAGE)}
        if "-cp-" not in vm:
            assert staged == {}, vm
            continue
        assert set(staged) == {
            "ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key",
            "etcd/ca.crt", "etcd/ca.key", "sa.key", "sa.pub",
        }  # fmt: skip
        assert staged["ca.crt"] == ca_pem and staged["ca.key"] == ca_key and staged["sa.key"] == sa_key
        # The pairs belong together: each certificate's public key is its key's.
        for cert_name, key_name in (
            ("ca.crt", "ca.key"),
            ("front-proxy-ca.crt", "front-proxy-ca.key"),
            ("etcd/ca.crt", "etcd/ca.key"),
        ):
            cert = x509.load_pem_x509_certificate(staged[cert_name].encode())
            key = serialization.load_pem_private_key(staged[key_name].encode(), None)
            assert cert.public_key() == key.public_key(), (vm, cert_name)
            assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        sa = serialization.load_pem_private_key(staged["sa.key"].encode(), None)
        assert serialization.load_pem_public_key(staged["sa.pub"].encode()) == sa.public_key()
    names = {
        n: x509.load_pem_x509_certificate(outputs(sim, f"sim-bootstrap-pki-{n}")["certPem"].encode()).subject
        for n in ("ca", "front-proxy-ca", "etcd-ca")
    }
    assert {n: s.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value for n, s in names.items()} == {
        "ca": "kubernetes",
        "front-proxy-ca": "front-proxy-ca",
        "etcd-ca": "etcd-ca",
    }


NODE_JOIN = "pulumi-python:dynamic/vsphere:NodeJoin"
JOIN_TOKEN = "pulumi-python:dynamic/vsphere:JoinToken"


def test_each_node_has_its_own_bounded_token_and_the_real_ca_pin(sim: OfflineRun) -> None:
    pin = ca_cert_hash(outputs(sim, "sim-bootstrap-pki-ca")["certPem"])
    joins = {reg.inputs["node_name"]: reg.inputs for reg in sim.recording.of_type(NODE_JOIN)}
    creates = {reg.inputs["node_name"]: reg.inputs for reg in sim.recording.of_type(JOIN_TOKEN)}
    seen: Counter[str] = Counter()
    tokens = set()
    for vm, doc in user_data(sim).items():
        first = kubeadm_docs(doc)[0]
        join = joins[vm]  # the NodeJoin that creates (joiners) and deletes this node's token
        token = join["token"]
        tokens.add(token)
        if first["kind"] == "InitConfiguration":
            # kubeadm init creates the init node's token, with the stack's bounded lifetime (never 0s).
            assert [(t["token"], t["ttl"]) for t in first["bootstrapTokens"]] == [(token, "1h0m0s")]
            assert creates[vm]["create_token"] is False
            seen["init"] += 1
        else:
            assert first["discovery"]["bootstrapToken"]["token"] == token
            assert first["discovery"]["bootstrapToken"]["caCertHashes"] == [pin]
            assert creates[vm]["create_token"] is True and creates[vm]["token_ttl_minutes"] == 60
            seen["join"] += 1
        assert join["scrub_keys"] == ["guestinfo.userdata", "guestinfo.userdata.encoding"]
        assert creates[vm]["token"] == token
    assert seen == {"init": 1, "join": 5}
    assert len(tokens) == 6  # one per node: deleting one after its join leaves the others usable
    for reg in [*sim.recording.of_type(NODE_JOIN), *sim.recording.of_type(JOIN_TOKEN)]:
        assert {"token", "kubeconfig", "password"} <= set(reg.secret_inputs), reg.name


def test_each_binding_waits_for_its_token_and_each_join_for_its_binding(sim: OfflineRun) -> None:
    # The dynamic-provider host runs four calls at a time: a binding waiting for its node must not
    # hold a thread before that node's token exists, nor a NodeJoin wait before the binding is done.
    tokens = {reg.inputs["node_name"]: reg.urn for reg in sim.recording.of_type(JOIN_TOKEN)}
    bindings = {
        reg.inputs["node_name"]: reg for reg in sim.recording.of_type("pulumi-python:dynamic/vsphere:NodeBinding")
    }
    for reg in sim.recording.of_type(NODE_JOIN):
        node = reg.inputs["node_name"]
        assert tokens[node] in bindings[node].dependencies, node
        assert bindings[node].urn in reg.dependencies and tokens[node] in reg.dependencies, node


def test_the_vms_ignore_changes_to_exactly_the_user_data_keys(sim: OfflineRun) -> None:
    for reg in sim.recording.of_type(VM):
        assert reg.ignore_changes == ['extraConfig["guestinfo.userdata"]', 'extraConfig["guestinfo.userdata.encoding"]']


def test_pki_children_are_parented_named_and_unique(sim: OfflineRun) -> None:
    regs = sim.recording.registrations
    assert len({r.urn for r in regs.values()}) == len(regs)
    pki = sim.recording.by_name("sim-bootstrap-pki")
    assert pki.type == "vsphere-k8s:bootstrap:Pki"
    assert pki.parent == sim.recording.by_name("sim-bootstrap").urn
    children = sim.recording.children(pki.urn)
    assert {c.name for c in children} == {
        f"sim-bootstrap-pki-{n}"
        for n in (
            "ca-key", "ca", "front-proxy-ca-key", "front-proxy-ca", "etcd-ca-key", "etcd-ca",
            "sa-key", "admin-key", "admin-csr", "admin-cert",
            "etcd-client-key", "etcd-client-csr", "etcd-client-cert",
        )
    } | {
        f"sim-bootstrap-pki-token-{part}-{key}"
        for part in ("id", "secret")
        for key in ("cp-sim-a-0", "cp-sim-b-0", "cp-sim-c-0", "general-sim-a-0", "general-sim-b-0", "general-sim-c-0")
    }  # fmt: skip
    assert outputs(sim, "sim-bootstrap-pki-sa-key")["privateKeyPem"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert pki.component_outputs["caCertHash"].startswith("sha256:")


def test_admin_certificate_is_a_client_cert_of_the_admin_group(sim: OfflineRun) -> None:
    group = "kubeadm:cluster-admins"  # 1.31: admin.conf's RBAC-bound group, not system:masters
    cert = x509.load_pem_x509_certificate(outputs(sim, "sim-bootstrap-pki-admin-cert")["certPem"].encode())
    ca = x509.load_pem_x509_certificate(outputs(sim, "sim-bootstrap-pki-ca")["certPem"].encode())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == group
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usage
    csr = sim.recording.by_name("sim-bootstrap-pki-admin-cert")
    assert csr.inputs["earlyRenewalHours"] == 720 and csr.inputs["validityPeriodHours"] == 8760
