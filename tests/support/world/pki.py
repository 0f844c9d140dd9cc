"""Certificates of the local control plane: one CA, the API server's serving cert, client certs.

Made fresh for each world with ``cryptography`` (already a runtime dependency); keys stay in
the world's work dir (mode 0600) and are never printed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = dt.timedelta(days=1)


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ControlPlanePki:
    ca: KeyPair
    serving: KeyPair
    admin: KeyPair
    service_account_key: Path
    service_account_pub: Path


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server_names: tuple[str, ...] = (),
    client: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 30 * _DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
        if client and server_names:  # an etcd member's cert: it serves and is a client of its peers
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names:
        sans: list[x509.GeneralName] = []
        for n in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_control_plane_pki(directory: Path, service_ip: str) -> ControlPlanePki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("vsphere-k8s-e2e-ca")
    ca_cert = _issue(ca_name, ca_key, None, ca=True)

    def leaf(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> KeyPair:
        return KeyPair(
            _write(directory / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            _write(directory / f"{stem}.key", _key_pem(key), private=True),
        )

    ca = leaf("ca", ca_cert, ca_key)
    s_key = ec.generate_private_key(ec.SECP256R1())
    names = ("127.0.0.1", "localhost", service_ip, "kubernetes", "kubernetes.default", "kubernetes.default.svc")
    serving = leaf("apiserver", _issue(_name("kube-apiserver"), s_key, (ca_name, ca_key), server_names=names), s_key)
    a_key = ec.generate_private_key(ec.SECP256R1())
    admin = leaf("admin", _issue(_name("e2e-admin", "system:masters"), a_key, (ca_name, ca_key), client=True), a_key)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_priv = _write(directory / "sa.key", _key_pem(sa_key), private=True)
    sa_pub = _write(
        directory / "sa.pub",
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    return ControlPlanePki(ca, serving, admin, sa_priv, sa_pub)


@dataclass(frozen=True)
class EtcdPki:
    ca: KeyPair
    member: KeyPair  # every member's serving and peer cert (all on loopback)
    client: KeyPair  # the program's (and the world's) client cert


def make_etcd_pki(directory: Path) -> EtcdPki:
    """An etcd CA of its own (as kubeadm's etcd/ca), a member cert and a client cert."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("etcd-ca")

    def leaf(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> KeyPair:
        return KeyPair(
            _write(directory / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            _write(directory / f"{stem}.key", _key_pem(key), private=True),
        )

    ca = leaf("ca", _issue(ca_name, ca_key, None, ca=True), ca_key)
    m_key = ec.generate_private_key(ec.SECP256R1())
    member_cert = _issue(
        _name("etcd-member"), m_key, (ca_name, ca_key), server_names=("127.0.0.1", "localhost"), client=True
    )
    c_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _issue(_name("vsphere-k8s-etcd-client"), c_key, (ca_name, ca_key), client=True)
    return EtcdPki(ca, leaf("member", member_cert, m_key), leaf("client", client_cert, c_key))
