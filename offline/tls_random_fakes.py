"""The tls and random providers' resources, faked for the cluster PKI and join tokens (components/pki.py).

Real keys and certificates, so tests can parse the kubeconfig and verify chains.
ECDSA keys derive from the resource name (stable across runs); RSA keys cannot be
derived, so each is generated once per process and name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pulumi.runtime import mocks as pmocks

from .ids import stable_id
from .recording import unwrap_secrets


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


HANDLERS: dict[str, Callable[[pmocks.MockResourceArgs], dict[str, Any]]] = {
    "tls:index/privateKey:PrivateKey": _private_key,
    "tls:index/selfSignedCert:SelfSignedCert": _self_signed,
    "tls:index/certRequest:CertRequest": _cert_request,
    "tls:index/locallySignedCert:LocallySignedCert": _locally_signed,
    "random:index/randomString:RandomString": _random_text,
    "random:index/randomPassword:RandomPassword": _random_text,
}
