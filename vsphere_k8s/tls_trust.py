"""Whether the vSphere provider plugin will trust a vCenter whose CA the stack names.

pulumi-vsphere's provider has no CA or thumbprint input (only ``allowUnverifiedSsl``): its
process verifies with the trust store of the machine running Pulumi, which a Go program
takes from ``SSL_CERT_FILE`` when set. The program cannot hand it the stack's CA, so it says
when the environment it runs in does not visibly carry that CA.
"""

from __future__ import annotations

import re

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def _bodies(text: str) -> set[str]:
    return {re.sub(r"\s+", "", m) for m in _PEM.findall(text)}


def untrusted_ca_message(vcenter: str, ca_pem: str, bundle_path: str | None, bundle: str | None) -> str | None:
    """A message when SSL_CERT_FILE does not hold the stack's CA (None when it does)."""
    wanted = _bodies(ca_pem)
    if bundle is not None and wanted and wanted <= _bodies(bundle):
        return None
    where = f"SSL_CERT_FILE ({bundle_path}) does not hold it" if bundle_path else "SSL_CERT_FILE is not set"
    return (
        f"vCenter {vcenter}: the vSphere provider plugin verifies its certificate with this machine's trust "
        f"store, not with tls.caCert, and {where}; unless the system store trusts that CA, every vSphere "
        "call fails. Point SSL_CERT_FILE at a bundle holding it (the CPI, the CSI and the program's own "
        "vCenter calls use tls.caCert directly)"
    )
