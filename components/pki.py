"""The cluster's PKI, made by the program: CAs kubeadm reuses, the service-account key,
an admin client certificate, an etcd client certificate and one join token per node.

Pre-placing the shared CAs on every control-plane node (instead of kubeadm's
``--upload-certs`` certificate key, which expires after two hours) lets a
control-plane node join at any later ``pulumi up``, and keeps the trust anchors
in Pulumi state (encrypted), where the kubeconfig and the join pin are derived from
them. The copy in a VM's guestinfo is removed once the node has joined
(providers/node_join), so state stays the only long-lived holder of the keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random
import pulumi_tls as tls

from vsphere_k8s import versions
from vsphere_k8s.config import StackConfig
from vsphere_k8s.render.cloud_init import ControlPlanePki
from vsphere_k8s.render.kubeadm import ca_cert_hash

CA_VALIDITY_HOURS = 10 * 365 * 24  # kubeadm's CA lifetime
CLIENT_VALIDITY_HOURS = 365 * 24
CLIENT_EARLY_RENEWAL_HOURS = 30 * 24  # `pulumi up` re-issues the admin cert in its last 30 days
CA_USES = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]
CLIENT_USES = ["client_auth", "digital_signature", "key_encipherment"]
ETCD_CLIENT_CN = "vsphere-k8s-etcd-client"  # kubeadm's etcd runs without etcd auth: any etcd-CA client cert is admin


def admin_group(minor: int) -> str:
    """kubeadm >= 1.29 binds `kubeadm:cluster-admins` to cluster-admin; before, admins were system:masters."""
    return "kubeadm:cluster-admins" if minor >= versions.SUPER_ADMIN_SINCE_MINOR else "system:masters"


@dataclass
class PkiArgs:
    config: StackConfig
    node_keys: Sequence[str] = ()  # one join token each


class CertificateAuthority:
    """A key and its self-signed CA certificate."""

    def __init__(self, name: str, common_name: str, parent: pulumi.Resource) -> None:
        opts = pulumi.ResourceOptions(parent=parent)
        self.key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
        self.cert = tls.SelfSignedCert(
            name,
            private_key_pem=self.key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=common_name),
            is_ca_certificate=True,
            set_subject_key_id=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=CA_USES,
            opts=opts,
        )
        self.cert_pem: pulumi.Output[str] = self.cert.cert_pem
        self.key_pem: pulumi.Output[str] = pulumi.Output.secret(self.key.private_key_pem)


class GivenCertificateAuthority:
    """A CA the stack configuration brings (kubernetes.clusterCa): nothing is created for it."""

    def __init__(self, cert_pem: str, key_pem: str) -> None:
        self.cert_pem: pulumi.Output[str] = pulumi.Output.from_input(cert_pem)
        self.key_pem: pulumi.Output[str] = pulumi.Output.secret(key_pem)


class ClientCertificate:
    """An ECDSA key and its client certificate, signed by ``ca``; `up` renews it in its last 30 days.
    Resources ``<name>-key``, ``<name>-csr``, ``<name>-cert``."""

    def __init__(
        self,
        name: str,
        ca: CertificateAuthority | GivenCertificateAuthority,
        parent: pulumi.Resource,
        common_name: str,
        organization: str | None = None,
    ) -> None:
        opts = pulumi.ResourceOptions(parent=parent)
        self.key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=self.key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=common_name, organization=organization),
            opts=opts,
        )
        self.cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_private_key_pem=ca.key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=CLIENT_VALIDITY_HOURS,
            early_renewal_hours=CLIENT_EARLY_RENEWAL_HOURS,
            allowed_uses=CLIENT_USES,
            opts=opts,
        )
        self.cert_pem: pulumi.Output[str] = self.cert.cert_pem
        self.key_pem: pulumi.Output[str] = pulumi.Output.secret(self.key.private_key_pem)


class Pki(pulumi.ComponentResource):
    def __init__(self, name: str, args: PkiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vsphere-k8s:bootstrap:Pki", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        given = cfg.kubernetes.cluster_ca
        self.ca: CertificateAuthority | GivenCertificateAuthority = (
            GivenCertificateAuthority(given.cert, given.key.get_secret_value())
            if given is not None
            else CertificateAuthority(f"{name}-ca", "kubernetes", self)
        )
        self.front_proxy_ca = CertificateAuthority(f"{name}-front-proxy-ca", "front-proxy-ca", self)
        self.etcd_ca = CertificateAuthority(f"{name}-etcd-ca", "etcd-ca", self)
        # RSA like kubeadm's own: RS256 service-account tokens are what OIDC consumers accept.
        self.sa_key = tls.PrivateKey(f"{name}-sa-key", algorithm="RSA", rsa_bits=2048, opts=child)

        self.admin = ClientCertificate(
            f"{name}-admin", self.ca, self, f"{cfg.cluster.name}-admin", organization=admin_group(cfg.kubernetes.minor)
        )
        # The program's own etcd client (as kubeadm's apiserver-etcd-client, from the etcd CA): a retired
        # control-plane node's NodeRetirement removes its etcd member with it.
        self.etcd_client = ClientCertificate(f"{name}-etcd-client", self.etcd_ca, self, ETCD_CLIENT_CN)
        self.etcd_client_cert_pem: pulumi.Output[str] = self.etcd_client.cert_pem
        self.etcd_client_key_pem: pulumi.Output[str] = self.etcd_client.key_pem

        # One bootstrap token "<id>.<secret>" per node (the alphabet kubeadm accepts): each is
        # created for the `up` that adds its node and deleted once that node has joined.
        self.tokens: dict[str, pulumi.Output[str]] = {}
        for key in args.node_keys:
            token_id = random.RandomString(
                f"{name}-token-id-{key}", length=6, upper=False, special=False, numeric=True, opts=child
            )
            token_secret = random.RandomPassword(
                f"{name}-token-secret-{key}", length=16, upper=False, special=False, numeric=True, opts=child
            )
            self.tokens[key] = pulumi.Output.secret(pulumi.Output.concat(token_id.result, ".", token_secret.result))
        self.ca_cert_hash: pulumi.Output[str] = self.ca.cert_pem.apply(ca_cert_hash)
        self.admin_cert_pem: pulumi.Output[str] = self.admin.cert_pem
        self.admin_key_pem: pulumi.Output[str] = self.admin.key_pem

        self.register_outputs(
            {
                "caCertPem": self.ca.cert_pem,
                "caCertHash": self.ca_cert_hash,
                "frontProxyCaCertPem": self.front_proxy_ca.cert_pem,
                "etcdCaCertPem": self.etcd_ca.cert_pem,
            }
        )

    def control_plane_pki(self) -> pulumi.Output[ControlPlanePki]:
        """Everything kubeadm reuses on a control-plane node, as one secret value."""
        parts = pulumi.Output.all(
            self.ca.cert_pem,
            self.ca.key_pem,
            self.front_proxy_ca.cert_pem,
            self.front_proxy_ca.key_pem,
            self.etcd_ca.cert_pem,
            self.etcd_ca.key_pem,
            self.sa_key.private_key_pem,
            self.sa_key.public_key_pem,
        )
        return pulumi.Output.secret(parts.apply(lambda p: ControlPlanePki(*p)))
