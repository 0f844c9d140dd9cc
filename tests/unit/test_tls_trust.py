"""When the vSphere provider plugin's environment visibly trusts the stack's CA, and what is said when not."""

from __future__ import annotations

from pathlib import Path

from vsphere_k8s.tls_trust import untrusted_ca_message

CA = (Path(__file__).resolve().parents[2] / "stacks" / "certs" / "example-vcenter-ca.pem").read_text()
OTHER = "-----BEGIN CERTIFICATE-----\nMIIBotherother\n-----END CERTIFICATE-----\n"


def test_a_bundle_holding_the_ca_is_enough_whatever_its_line_breaks() -> None:
    bundle = OTHER + CA.replace("\n", "\r\n")
    assert untrusted_ca_message("vc-dev", CA, "/etc/ssl/bundle.pem", bundle) is None


def test_no_bundle_or_one_without_the_ca_names_the_vcenter_and_the_fix() -> None:
    unset = untrusted_ca_message("vc-dev", CA, None, None)
    assert unset is not None and "vCenter vc-dev" in unset and "SSL_CERT_FILE is not set" in unset
    wrong = untrusted_ca_message("vc-dev", CA, "/etc/ssl/other.pem", OTHER)
    assert wrong is not None and "SSL_CERT_FILE (/etc/ssl/other.pem) does not hold it" in wrong
