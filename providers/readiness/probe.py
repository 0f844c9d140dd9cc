"""Thin HTTP adapter: one GET of /readyz over TLS that trusts only the cluster CA."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

from .plan import Probe


def ssl_context(ca_cert_pem: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        # Only when the user's own kubeconfig says insecure-skip-tls-verify.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_cert_pem:
        return ssl.create_default_context(cadata=ca_cert_pem)
    return ssl.create_default_context()


def probe_readyz(server: str, context: ssl.SSLContext, timeout: float) -> Probe:
    url = server.rstrip("/") + "/readyz"
    if not url.startswith("https://"):
        return Probe(None, error=f"{server} is not an https:// URL")
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})  # noqa: S310 - https only, checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return Probe(response.status, response.read(4096).decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Probe(exc.code, exc.read(4096).decode(errors="replace"))
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Probe(None, error=f"{type(reason).__name__}: {reason}")
