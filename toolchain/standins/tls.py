"""STAND-IN for pulumi-resource-tls 5.6.2 (a test double, not the real plugin).

The real plugin cannot be built here, so this one serves PrivateKey,
SelfSignedCert, CertRequest and LocallySignedCert with ``cryptography``. It keeps
the real provider's contract where the program leans on it: the wire names, the
PEM encodings (PKCS#1 for RSA, SEC1 for ECDSA, PKIX public keys), private keys as
secret outputs, every argument forcing replacement except ``earlyRenewalHours``,
and ``readyForRenewal`` turning true (and so replacing) once a certificate is
inside its early-renewal window.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import schema as sch
from .schema import Field, Schema
from .server import Provider, ProviderError, StateOnlyResource, serve
from .wire import UNKNOWN

VERSION = "5.6.2"
PrivateKeyTypes = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_CURVES: dict[str, ec.EllipticCurve] = {"P224": ec.SECP224R1(), "P256": ec.SECP256R1(), "P384": ec.SECP384R1()}
_CURVES["P521"] = ec.SECP521R1()

_SUBJECT = {
    "commonName": Field("str", force_new=True),
    "organization": Field("str", force_new=True),
    "organizationalUnit": Field("str", force_new=True),
    "streetAddresses": Field("list", force_new=True),
    "locality": Field("str", force_new=True),
    "province": Field("str", force_new=True),
    "country": Field("str", force_new=True),
    "postalCode": Field("str", force_new=True),
    "serialNumber": Field("str", force_new=True),
    "emailAddress": Field("str", force_new=True),
}
_NAME_OIDS = {
    "commonName": NameOID.COMMON_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
    "country": NameOID.COUNTRY_NAME,
    "postalCode": NameOID.POSTAL_CODE,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}
_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "cert_signing",
    "crl_signing",
    "encipher_only",
    "decipher_only",
)
_EXT_USAGES = {
    "any_extended": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec_end_system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec_tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec_user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft_server_gated_crypto": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape_server_gated_crypto": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
    "microsoft_commercial_code_signing": x509.ObjectIdentifier("1.3.6.1.4.1.311.2.1.22"),
    "microsoft_kernel_code_signing": x509.ObjectIdentifier("1.3.6.1.4.1.311.61.1.1"),
}
_USES = (*_KEY_USAGES, *_EXT_USAGES)


# --- keys ------------------------------------------------------------------------------------


def load_key(pem: str) -> PrivateKeyTypes:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except ValueError as error:
        raise ProviderError(f"failed to decode private key PEM: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ProviderError(f"unsupported private key type {type(key).__name__}")
    return key


def algorithm_of(key: PrivateKeyTypes) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA"
    return "ECDSA" if isinstance(key, ec.EllipticCurvePrivateKey) else "ED25519"


def key_outputs(key: PrivateKeyTypes) -> dict[str, Any]:
    """The PrivateKey outputs, encoded as the real provider encodes them."""
    pem_format = (
        serialization.PrivateFormat.PKCS8
        if isinstance(key, ed25519.Ed25519PrivateKey)
        else serialization.PrivateFormat.TraditionalOpenSSL  # "RSA PRIVATE KEY" / "EC PRIVATE KEY"
    )
    enc = serialization.Encoding
    none = serialization.NoEncryption()
    public = key.public_key()
    public_pem = public.public_bytes(enc.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    openssh_ok = not (isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp224r1")
    ssh_public = public.public_bytes(enc.OpenSSH, serialization.PublicFormat.OpenSSH) if openssh_ok else b""
    ssh_blob = ssh_public.split()[1] if ssh_public else b""
    raw = base64.b64decode(ssh_blob) if ssh_blob else b""
    return {
        "privateKeyPem": key.private_bytes(enc.PEM, pem_format, none).decode(),
        "privateKeyPemPkcs8": key.private_bytes(enc.PEM, serialization.PrivateFormat.PKCS8, none).decode(),
        "privateKeyOpenssh": key.private_bytes(enc.PEM, serialization.PrivateFormat.OpenSSH, none).decode()
        if openssh_ok
        else "",
        "publicKeyPem": public_pem,
        "publicKeyOpenssh": ssh_public.decode() + "\n" if ssh_public else "",
        "publicKeyFingerprintMd5": ":".join(f"{b:02x}" for b in hashlib.md5(raw).digest()) if raw else "",  # noqa: S324
        "publicKeyFingerprintSha256": "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
        if raw
        else "",
    }


class PrivateKey(StateOnlyResource):
    pulumi_type = "tls:index/privateKey:PrivateKey"
    schema: ClassVar[Schema] = {
        "algorithm": Field("str", required=True, force_new=True, choices=("RSA", "ECDSA", "ED25519")),
        "rsaBits": Field("int", default=2048, force_new=True),
        "ecdsaCurve": Field("str", default="P224", force_new=True, choices=tuple(_CURVES)),
        "privateKeyPem": Field("str", output=True, secret=True),
        "privateKeyPemPkcs8": Field("str", output=True, secret=True),
        "privateKeyOpenssh": Field("str", output=True, secret=True),
        "publicKeyPem": Field("str", output=True),
        "publicKeyOpenssh": Field("str", output=True),
        "publicKeyFingerprintMd5": Field("str", output=True),
        "publicKeyFingerprintSha256": Field("str", output=True),
    }

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        algorithm = inputs["algorithm"]
        key: PrivateKeyTypes
        if algorithm == "RSA":
            key = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits") or 2048))
        elif algorithm == "ECDSA":
            key = ec.generate_private_key(_CURVES[str(inputs.get("ecdsaCurve") or "P224")])
        else:
            key = ed25519.Ed25519PrivateKey.generate()
        outs = key_outputs(key)
        # The real id is a hash of the public key: stable for the key, secret-free.
        return hashlib.sha1(outs["publicKeyPem"].encode()).hexdigest(), {**inputs, **outs}  # noqa: S324


# --- certificates ----------------------------------------------------------------------------


def subject_name(subject: Mapping[str, Any] | None) -> x509.Name:
    attrs: list[x509.NameAttribute[str]] = []
    subject = subject or {}
    for key, oid in _NAME_OIDS.items():
        if subject.get(key):
            attrs.append(x509.NameAttribute(oid, str(subject[key])))
    for street in subject.get("streetAddresses") or []:
        attrs.append(x509.NameAttribute(NameOID.STREET_ADDRESS, str(street)))
    return x509.Name(attrs)


def _sans(inputs: Mapping[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(str(n)) for n in inputs.get("dnsNames") or []]
    names += [x509.IPAddress(ipaddress.ip_address(str(a))) for a in inputs.get("ipAddresses") or []]
    names += [x509.UniformResourceIdentifier(str(u)) for u in inputs.get("uris") or []]
    return names


def _hash_for(key: PrivateKeyTypes) -> hashes.HashAlgorithm | None:
    """The signature hash Go's x509 picks for the signing key."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(key.curve.key_size, hashes.SHA256())
    return hashes.SHA256()


def _usages(builder: x509.CertificateBuilder, uses: list[str]) -> x509.CertificateBuilder:
    flags = {u: u in uses for u in _KEY_USAGES}
    if any(flags.values()):
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=flags["digital_signature"],
                content_commitment=flags["content_commitment"],
                key_encipherment=flags["key_encipherment"],
                data_encipherment=flags["data_encipherment"],
                key_agreement=flags["key_agreement"],
                key_cert_sign=flags["cert_signing"],
                crl_sign=flags["crl_signing"],
                encipher_only=flags["encipher_only"] and flags["key_agreement"],
                decipher_only=flags["decipher_only"] and flags["key_agreement"],
            ),
            critical=True,
        )
    ext = [_EXT_USAGES[u] for u in uses if u in _EXT_USAGES]
    if ext:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ext), critical=False)
    return builder


def issue(
    inputs: Mapping[str, Any],
    *,
    subject: x509.Name,
    public_key: Any,
    signer: PrivateKeyTypes,
    issuer: x509.Name,
    issuer_ski: x509.SubjectKeyIdentifier | None,
    sans: list[x509.GeneralName],
) -> tuple[str, dict[str, Any]]:
    """Sign a certificate; the id and the validity outputs as the real provider states them."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    end = now + dt.timedelta(hours=int(inputs["validityPeriodHours"]))
    serial = secrets.randbits(128) | 1
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(end)
    )
    is_ca = bool(inputs.get("isCaCertificate"))
    max_path = inputs.get("maxPathLength")
    path_len = int(max_path) if is_ca and isinstance(max_path, int) and max_path >= 0 else None
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_len), critical=True)
    builder = _usages(builder, [str(u) for u in inputs.get("allowedUses") or []])
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if issuer_ski is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False
        )
    cert = builder.sign(signer, _hash_for(signer))  # type: ignore[arg-type]
    outs = {
        "certPem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validityEndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "readyForRenewal": False,
    }
    return str(serial), outs


def ready_for_renewal(state: Mapping[str, Any], early_hours: Any) -> bool:
    end = state.get("validityEndTime")
    if not isinstance(end, str) or not end:
        return False
    until = dt.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    return until <= dt.timedelta(hours=int(early_hours or 0))


_CERT_COMMON = {
    "validityPeriodHours": Field("int", required=True, force_new=True),
    "allowedUses": Field("list", required=True, force_new=True),
    "earlyRenewalHours": Field("int", default=0),  # the one argument that updates in place
    "isCaCertificate": Field("bool", default=False, force_new=True),
    "setSubjectKeyId": Field("bool", default=False, force_new=True),
    "maxPathLength": Field("int", force_new=True),
    "certPem": Field("str", output=True),
    "validityStartTime": Field("str", output=True),
    "validityEndTime": Field("str", output=True),
    "readyForRenewal": Field("bool", output=True),
}


# What a self-signed certificate and a certificate request both name: the key, the subject, the SANs.
_REQUEST: Schema = {
    "privateKeyPem": Field("str", required=True, force_new=True, secret=True),
    "subject": Field("object", force_new=True, elem=_SUBJECT),
    "dnsNames": Field("list", force_new=True),
    "ipAddresses": Field("list", force_new=True),
    "uris": Field("list", force_new=True),
}


class _Certificate(StateOnlyResource):
    def validate(self, inputs: Mapping[str, Any]) -> list[sch.Failure]:
        uses = inputs.get("allowedUses")
        bad = [u for u in uses if isinstance(u, str) and u not in _USES] if isinstance(uses, list) else []
        return [sch.Failure("allowedUses", f"unknown allowed use {u!r}") for u in bad]

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any], ignore: tuple[str, ...]) -> sch.DiffResult:
        result = super().diff(olds, news, ignore)
        early = news.get("earlyRenewalHours")
        if early is not UNKNOWN and ready_for_renewal(olds, early):
            result.add("readyForRenewal", "UPDATE", replace=True)
        return result

    def read(self, resource_id: str, state: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        return {**state, "readyForRenewal": ready_for_renewal(state, state.get("earlyRenewalHours"))}


class SelfSignedCert(_Certificate):
    pulumi_type = "tls:index/selfSignedCert:SelfSignedCert"
    schema: ClassVar[Schema] = {
        **_REQUEST,
        "setAuthorityKeyId": Field("bool", default=False, force_new=True),
        "keyAlgorithm": Field("str", output=True),
        **_CERT_COMMON,
    }

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        key = load_key(str(inputs["privateKeyPem"]))
        name = subject_name(inputs.get("subject"))
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        aki = ski if inputs.get("setAuthorityKeyId") else None
        serial, outs = issue(
            inputs,
            subject=name,
            public_key=key.public_key(),
            signer=key,
            issuer=name,
            issuer_ski=aki,
            sans=_sans(inputs),
        )
        return serial, {**inputs, **outs, "keyAlgorithm": algorithm_of(key)}


class CertRequest(StateOnlyResource):
    pulumi_type = "tls:index/certRequest:CertRequest"
    schema: ClassVar[Schema] = {
        **_REQUEST,
        "certRequestPem": Field("str", output=True),
        "keyAlgorithm": Field("str", output=True),
    }

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        key = load_key(str(inputs["privateKeyPem"]))
        builder = x509.CertificateSigningRequestBuilder().subject_name(subject_name(inputs.get("subject")))
        sans = _sans(inputs)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        csr = builder.sign(key, _hash_for(key))  # type: ignore[arg-type]
        pem = csr.public_bytes(serialization.Encoding.PEM).decode()
        outs = {"certRequestPem": pem, "keyAlgorithm": algorithm_of(key)}
        return hashlib.sha1(pem.encode()).hexdigest(), {**inputs, **outs}  # noqa: S324


class LocallySignedCert(_Certificate):
    pulumi_type = "tls:index/locallySignedCert:LocallySignedCert"
    schema: ClassVar[Schema] = {
        "certRequestPem": Field("str", required=True, force_new=True),
        "caPrivateKeyPem": Field("str", required=True, force_new=True, secret=True),
        "caCertPem": Field("str", required=True, force_new=True),
        "caKeyAlgorithm": Field("str", output=True),
        **_CERT_COMMON,
    }

    def create(self, inputs: Mapping[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
        try:
            csr = x509.load_pem_x509_csr(str(inputs["certRequestPem"]).encode())
            ca = x509.load_pem_x509_certificate(str(inputs["caCertPem"]).encode())
        except ValueError as error:
            raise ProviderError(f"failed to decode PEM: {error}") from None
        ca_key = load_key(str(inputs["caPrivateKeyPem"]))
        try:
            ca_ski: x509.SubjectKeyIdentifier | None = ca.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value
        except x509.ExtensionNotFound:
            ca_ski = None
        try:
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = []
        serial, outs = issue(
            inputs,
            subject=csr.subject,
            public_key=csr.public_key(),
            signer=ca_key,
            issuer=ca.subject,
            issuer_ski=ca_ski,
            sans=sans,
        )
        return serial, {**inputs, **outs, "caKeyAlgorithm": algorithm_of(ca_key)}


def provider() -> Provider:
    return Provider("tls", VERSION, [PrivateKey, SelfSignedCert, CertRequest, LocallySignedCert])


if __name__ == "__main__":
    serve(provider())
