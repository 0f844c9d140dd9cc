"""Run the real program under Pulumi's mocks and record what it registers.

The mocks answer the vSphere invokes the program makes the way the provider
would (ids shaped like managed object references, computed fields filled in),
and a recording monitor keeps every registration with its parent, provider,
dependencies and which inputs are secret. The offline preview, the unit tests
and the benchmarks all use this one harness.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

Handler = Callable[[pmocks.MockResourceArgs], dict[str, Any]]
InvokeHandler = Callable[[Mapping[str, Any]], dict[str, Any]]


def stable_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]


def stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str
    dependencies: list[str]
    secret_inputs: set[str]  # top-level input keys holding a secret
    custom: bool
    additional_secret_outputs: list[str]
    component_outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # what the mock provider answered; other resources' inputs refer to it
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # input key -> URNs it came from


def unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """(value with secrets unwrapped at any depth, whether any was secret)."""
    if rpc.is_rpc_secret(value):
        inner, _ = unwrap_secrets(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, dict):
        pairs = {k: unwrap_secrets(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [unwrap_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _inputs(struct: Any) -> tuple[dict[str, Any], set[str]]:
    """Plain inputs and the top-level keys that held a secret."""
    values = rpc.deserialize_properties(struct)
    plain, secrets = {}, set()
    for key, value in values.items():
        plain[key], secret = unwrap_secrets(value)
        if secret:
            secrets.add(key)
    return plain, secrets


class RecordingMonitor(pmocks.MockMonitor):
    """A MockMonitor that also remembers each registration's place in the tree."""

    def __init__(self, mocks: pmocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        reg = self.resources.get(response.urn)
        inputs, secret_inputs = _inputs(request.object)
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            inputs=inputs,
            outputs=dict(reg.state) if reg is not None else {},
            provider=request.provider,
            dependencies=list(request.dependencies),
            secret_inputs=secret_inputs,
            custom=bool(request.custom),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            id=str(reg.id or "") if reg is not None else "",
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC name
        outputs = rpc.deserialize_properties(request.outputs)
        if request.urn in self.registrations:
            self.registrations[request.urn].component_outputs = outputs
        elif request.urn.endswith("pulumi:pulumi:Stack::" + request.urn.rsplit("::", 1)[-1]):
            self.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


class VSphereMocks(pmocks.Mocks):
    """Answers like the vSphere, Kubernetes, TLS and random providers would.

    Extend by registering handlers: ``resources[type_token]`` computes extra
    output fields for a resource, ``invokes[token]`` answers a function call.
    Unknown resources echo their inputs, as the engine does for state.
    """

    def __init__(self) -> None:
        self.resources: dict[str, Handler] = {}
        self.invokes: dict[str, InvokeHandler] = {}
        self.invoke_log: list[tuple[str, dict[str, Any]]] = []
        # Objects that "exist" in the mocked vCenter; None means everything does.
        self.inventory: dict[str, set[str]] | None = None
        _install_defaults(self)

    def new_resource(self, args: pmocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        handler = self.resources.get(args.typ)
        state = dict(args.inputs)
        if handler is not None:
            state.update(handler(args))
        rid = state.pop("__id", None) or f"{args.name}-{stable_id(args.typ, args.name)}"
        return str(rid), state

    def call(self, args: pmocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.invoke_log.append((args.token, dict(args.args)))
        handler = self.invokes.get(args.token)
        # The SDK iterates the failures of a tuple answer: an empty list, never None.
        if handler is None:
            return {}, []
        try:
            return handler(args.args), []
        except LookupError as exc:
            # How the real provider fails a lookup of something that is not there.
            return {}, [("", str(exc))]

    def exists(self, kind: str, name: str) -> bool:
        return self.inventory is None or name in self.inventory.get(kind, set())


def _lookup(
    mocks: VSphereMocks,
    kind: str,
    prefix: str,
    extra: Callable[[str, Mapping[str, Any]], dict[str, Any]] | None = None,
) -> InvokeHandler:
    def handler(args: Mapping[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", ""))
        if not mocks.exists(kind, name):
            raise LookupError(f"{kind} '{name}' not found")
        scope = str(args.get("datacenterId", ""))
        out = {"id": f"{prefix}-{stable_id(kind, scope, name)}", "name": name}
        if extra:
            out.update(extra(name, args))
        return out

    return handler


def _install_defaults(m: VSphereMocks) -> None:
    inv = "vsphere:index/"
    m.invokes[f"{inv}getDatacenter:getDatacenter"] = _lookup(m, "datacenter", "datacenter")
    m.invokes[f"{inv}getComputeCluster:getComputeCluster"] = _lookup(
        m,
        "cluster",
        "domain-c",
        lambda name, a: {"resourcePoolId": f"resgroup-{stable_id('rp', str(a.get('datacenterId')), name)}"},
    )
    m.invokes[f"{inv}getDatastore:getDatastore"] = _lookup(m, "datastore", "datastore")
    m.invokes[f"{inv}getNetwork:getNetwork"] = _lookup(m, "network", "network")
    m.invokes[f"{inv}getResourcePool:getResourcePool"] = _lookup(m, "resourcePool", "resgroup")
    m.invokes[f"{inv}getHost:getHost"] = _lookup(
        m, "host", "host", lambda name, a: {"resourcePoolId": f"resgroup-{stable_id('hrp', name)}"}
    )
    m.invokes[f"{inv}getFolder:getFolder"] = _lookup(m, "folder", "group-v")
    m.invokes[f"{inv}getVirtualMachine:getVirtualMachine"] = _lookup(
        m,
        "template",
        "vm",
        lambda name, a: {
            "uuid": stable_uuid("template", str(a.get("datacenterId")), name),
            "guestId": "ubuntu64Guest",
            "firmware": "efi",
            "hardwareVersion": 19,
            "scsiType": "pvscsi",
            "disks": [{"label": "disk0", "size": 20, "thinProvisioned": True, "eagerlyScrub": False}],
            "networkInterfaceTypes": ["vmxnet3"],
            "networkInterfaces": [{"adapterType": "vmxnet3", "networkId": "network-0"}],
        },
    )

    def vm(args: pmocks.MockResourceArgs) -> dict[str, Any]:
        name = str(args.inputs.get("name", args.name))
        bios = stable_uuid("vm", name)
        return {
            "__id": bios,
            "uuid": bios,
            "moid": f"vm-{stable_id('vm', name)}",
            "defaultIpAddress": "",
            "guestIpAddresses": [],
            "vmwareToolsStatus": "guestToolsRunning",
        }

    m.resources[f"{inv}virtualMachine:VirtualMachine"] = vm
    # TagAttachment (providers/tag_attachment): as after a clean create, every target attached and owned.
    m.resources["pulumi-python:dynamic/vsphere:TagAttachment"] = _tag_attachment
    # NodeBinding (providers/node_binding): as after a clean bind to the VM the stack created.
    m.resources["pulumi-python:dynamic/vsphere:NodeBinding"] = _node_binding
    m.resources[f"{inv}tagCategory:TagCategory"] = lambda a: {
        "__id": f"urn:vmomi:InventoryServiceCategory:{stable_uuid('cat', a.name)}:GLOBAL"
    }
    m.resources[f"{inv}tag:Tag"] = lambda a: {
        "__id": f"urn:vmomi:InventoryServiceTag:{stable_uuid('tag', a.name)}:GLOBAL"
    }
    _install_tls_random(m)  # cluster PKI and join tokens (components/pki.py)
    # vCenter role ids are integers; custom roles start above the built-in ones.
    m.resources[f"{inv}role:Role"] = lambda a: {
        "__id": str(1000 + int(stable_id("role", a.name), 16) % 100000),
        "label": str(a.inputs.get("name", a.name)),
    }


def _node_binding(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    def arg(key: str) -> Any:
        return unwrap_secrets(args.inputs.get(key))[0]

    zone, region, mode = arg("expected_zone"), arg("expected_region"), arg("mode")
    labels = {"topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": region}
    return {
        "__id": f"{arg('server')}/{arg('node_name')}",
        "bound_vm": arg("vm_moid"),
        "bound_vm_name": arg("node_name"),
        "provider_id": f"vsphere://{str(arg('vm_uuid')).lower()}",
        "zone": zone,
        "region": region,
        "labels": labels,
        "owned_labels": labels if mode == "enforce" else {},
        "drift": [],
    }


def _tag_attachment(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    from providers.tag_attachment.plan import TargetSpec

    keys = sorted(TargetSpec.model_validate(unwrap_secrets(t)[0]).key for t in args.inputs.get("targets") or [])
    server = str(unwrap_secrets(args.inputs.get("server"))[0])
    return {
        "__id": f"{server}:{unwrap_secrets(args.inputs.get('port'))[0]}/{unwrap_secrets(args.inputs.get('tag_id'))[0]}",
        "resolved": {k: f"{k.split(':', 1)[0].lower()}-{stable_id(server, k)}" for k in keys},
        "attached": keys,
        "owned": keys,
        "conflicts": {},
    }


@dataclass
class Recording:
    registrations: dict[str, Registration]
    stack_outputs: dict[str, Any]
    invokes: list[tuple[str, dict[str, Any]]]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.type == type_token]

    def by_name(self, name: str) -> Registration:
        matches = [r for r in self.registrations.values() if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} registrations named {name!r}")
        return matches[0]

    def children(self, urn: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.parent == urn]


def configure(
    config: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    secret_keys: set[str] = frozenset(),  # type: ignore[assignment]
    mocks: VSphereMocks | None = None,
) -> tuple[VSphereMocks, RecordingMonitor]:
    """Point the Pulumi runtime at fresh mocks with ``config`` (top-level keys, no namespace)."""
    import json

    mocks = mocks or VSphereMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    flat = {f"{project}:{k}": (v if isinstance(v, str) else json.dumps(v)) for k, v in config.items()}
    pulumi.runtime.set_all_config(flat, [f"{project}:{k}" for k in secret_keys])
    return mocks, monitor


def run(program: Callable[[], None], monitor: RecordingMonitor, mocks: VSphereMocks) -> Recording:
    """Run ``program`` to completion under the configured mocks."""
    from pulumi.runtime.settings import SETTINGS
    from pulumi.runtime.stack import run_pulumi_func

    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    with fewer_collections():
        _sync_await(run_pulumi_func(program))
    return Recording(dict(monitor.registrations), dict(monitor.stack_outputs), list(mocks.invoke_log))


# The SDK allocates a few thousand futures, tasks and outputs per resource, most of them
# long-lived until the run ends: with the default thresholds (700, 10, 10) the collector
# walks that growing heap again and again, and a 1000-node plan spent more time in the
# cyclic GC than in anything else (benchmarks/README.md). Collect far less often during a run.
RUN_GC_THRESHOLDS = (50_000, 50, 100)


@contextlib.contextmanager
def fewer_collections(thresholds: tuple[int, int, int] = RUN_GC_THRESHOLDS) -> Iterator[None]:
    """Raise the GC thresholds (never lower them) for the duration of a run; restore them after."""
    before = gc.get_threshold()
    gc.set_threshold(*(max(new, old) for new, old in zip(thresholds, before, strict=False)))
    try:
        yield
    finally:
        gc.set_threshold(*before)


# --------------------------------------------------------------------------- tls / random (cluster PKI)
# Real keys and certificates, so tests can parse the kubeconfig and verify chains.
# ECDSA keys derive from the resource name (stable across runs); RSA keys cannot be
# derived, so each is generated once per process and name.


def _plain(value: Any) -> Any:
    return unwrap_secrets(value)[0]


_RSA_KEYS: dict[tuple[str, int], Any] = {}


def _private_key(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    algorithm = str(_plain(args.inputs.get("algorithm")) or "RSA")
    key: Any
    if algorithm == "ECDSA":
        curves = {"P224": ec.SECP224R1(), "P256": ec.SECP256R1(), "P384": ec.SECP384R1(), "P521": ec.SECP521R1()}
        curve = curves[str(_plain(args.inputs.get("ecdsaCurve")) or "P224")]
        order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)  # P-256's, < every order
        key = ec.derive_private_key(int(stable_id("key", args.name) + "1", 16) % order, curve)
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    elif algorithm == "RSA":
        bits = int(_plain(args.inputs.get("rsaBits")) or 2048)
        key = _RSA_KEYS.setdefault((args.name, bits), rsa.generate_private_key(public_exponent=65537, key_size=bits))
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    else:
        raise ValueError(f"mock tls PrivateKey: unsupported algorithm {algorithm}")
    public = key.public_key()
    return {
        "privateKeyPem": private.decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "publicKeyPem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        + "\n",
    }


def _name(subject: Any) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = _plain(subject) or {}
    attrs = []
    if subject.get("organization"):
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(subject["organization"])))
    if subject.get("commonName"):
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, str(subject["commonName"])))
    return x509.Name(attrs)


def _sign(args: pmocks.MockResourceArgs, subject: Any, public_key: Any, issuer: Any, issuer_key: Any) -> dict[str, Any]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    uses = set(_plain(args.inputs.get("allowedUses")) or [])
    is_ca = bool(_plain(args.inputs.get("isCaCertificate")))
    hours = int(_plain(args.inputs.get("validityPeriodHours")) or 24)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(int(stable_id("serial", args.name), 16))
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(hours=hours))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature="digital_signature" in uses,
                content_commitment=False,
                key_encipherment="key_encipherment" in uses,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign="cert_signing" in uses,
                crl_sign="crl_signing" in uses,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    ext = [
        u
        for u in (
            ("client_auth", ExtendedKeyUsageOID.CLIENT_AUTH),
            ("server_auth", ExtendedKeyUsageOID.SERVER_AUTH),
        )
        if u[0] in uses
    ]
    if ext:
        builder = builder.add_extension(x509.ExtendedKeyUsage([oid for _, oid in ext]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    return {
        "certPem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": start.isoformat(),
        "validityEndTime": (start + datetime.timedelta(hours=hours)).isoformat(),
        "readyForRenewal": False,
    }


def _load_key(pem: Any) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(str(_plain(pem)).encode(), password=None)


def _self_signed(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    key = _load_key(args.inputs["privateKeyPem"])
    subject = _name(args.inputs.get("subject"))
    return _sign(args, subject, key.public_key(), subject, key)


def _cert_request(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = _load_key(args.inputs["privateKeyPem"])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(args.inputs.get("subject")))
        .sign(key, hashes.SHA256())
    )
    return {"certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}


def _locally_signed(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    from cryptography import x509

    csr = x509.load_pem_x509_csr(str(_plain(args.inputs["certRequestPem"])).encode())
    ca = x509.load_pem_x509_certificate(str(_plain(args.inputs["caCertPem"])).encode())
    ca_key = _load_key(args.inputs["caPrivateKeyPem"])
    return _sign(args, csr.subject, csr.public_key(), ca.subject, ca_key)


def _random_text(args: pmocks.MockResourceArgs) -> dict[str, Any]:
    length = int(_plain(args.inputs.get("length")) or 16)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    if _plain(args.inputs.get("numeric")) is not False and _plain(args.inputs.get("number")) is not False:
        alphabet += "0123456789"
    if _plain(args.inputs.get("upper")) is not False:
        alphabet += "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if _plain(args.inputs.get("special")) is not False:
        alphabet += str(_plain(args.inputs.get("overrideSpecial")) or "!@#$%&*()-_=+[]{}<>:?")
    digest = hashlib.sha256(("random/" + args.name).encode()).digest() * (1 + length // 32)
    return {"result": "".join(alphabet[b % len(alphabet)] for b in digest[:length])}


def _install_tls_random(m: VSphereMocks) -> None:
    m.resources["tls:index/privateKey:PrivateKey"] = _private_key
    m.resources["tls:index/selfSignedCert:SelfSignedCert"] = _self_signed
    m.resources["tls:index/certRequest:CertRequest"] = _cert_request
    m.resources["tls:index/locallySignedCert:LocallySignedCert"] = _locally_signed
    m.resources["random:index/randomString:RandomString"] = _random_text
    m.resources["random:index/randomPassword:RandomPassword"] = _random_text
