"""One vCenter session per provider process and endpoint, for SOAP (pyVmomi) and REST (tagging).

Nothing happens at construction: the first call logs in. An expired session
(vCenter restarted, idle timeout) logs in again transparently, transient
failures are retried with bounded backoff, and every round trip is counted in
:class:`ConnectionStats` so costs can be measured rather than guessed.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
import requests.adapters
import urllib3
from pyVmomi import vim

from providers.retry import Retries, RetryPolicy

from .retry import TRANSIENT_STATUS, VCenterError, VCenterNotFoundError

T = TypeVar("T")

SESSION_PATH = "/rest/com/vmware/cis/session"
SESSION_HEADER = "vmware-api-session-id"
# Failures after which the same request is worth sending again.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    http.client.HTTPException,
    requests.ConnectionError,
    requests.Timeout,
    TimeoutError,
    # A restarted vCenter closes pooled TLS connections mid-request.
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one vCenter. Hashable (the session cache key); the password never prints."""

    host: str
    port: int = 443
    username: str = ""
    password: str = field(default="", repr=False)
    insecure: bool = False
    ca_cert: str | None = field(default=None, repr=False)
    thumbprint: str | None = None

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"


@dataclass
class ConnectionStats:
    soap_logins: int = 0
    rest_logins: int = 0
    soap_calls: int = 0
    rest_calls: int = 0
    rest_writes: int = 0
    retries: int = 0

    @property
    def logins(self) -> int:
        return self.soap_logins + self.rest_logins

    @property
    def round_trips(self) -> int:
        return self.soap_calls + self.rest_calls


def normalize_thumbprint(value: str) -> str:
    return value.replace(":", "").strip().lower()


def check_thumbprint(der_cert: bytes, expected: str) -> None:
    """Refuse a server whose certificate does not match the configured SHA-1 or SHA-256 fingerprint."""
    want = normalize_thumbprint(expected)
    digest = hashlib.sha1 if len(want) == 40 else hashlib.sha256  # vCenter shows SHA-1 thumbprints
    got = digest(der_cert).hexdigest()
    if got != want:
        raise VCenterError(f"the server's certificate fingerprint {got} does not match the configured thumbprint")


class ThumbprintMismatch(ssl.SSLCertVerificationError):
    """The peer's certificate is not the pinned one (raised inside the TLS handshake's caller)."""


class VCenterTlsContext(ssl.SSLContext):
    """An SSL context that also checks the pinned thumbprint on every connection it wraps.

    One context serves pyVmomi's connections and the REST session's, so both sides verify
    the same trust anchor and the pin is met before any request (and credential) is sent.
    """

    thumbprint: str | None = None

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        tls = super().wrap_socket(*args, **kwargs)
        if self.thumbprint:
            try:
                check_thumbprint(tls.getpeercert(binary_form=True) or b"", self.thumbprint)
            except VCenterError as exc:
                tls.close()
                raise ThumbprintMismatch(str(exc)) from None
        return tls


def tls_context(ep: Endpoint) -> VCenterTlsContext:
    """Verify exactly what the endpoint says: its CA (plus the pin when both are set), the pin
    alone, nothing (``insecure``), or, with no trust anchor at all, this machine's trust store
    (OpenSSL's default paths, which honour SSL_CERT_FILE and SSL_CERT_DIR)."""
    ctx = VCenterTlsContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, certificate required
    ctx.thumbprint = ep.thumbprint
    if ep.insecure or (ep.thumbprint and not ep.ca_cert):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ep.ca_cert:
        ctx.load_verify_locations(cadata=ep.ca_cert)
    else:
        ctx.load_default_certs()
    return ctx


def trust_source(ep: Endpoint) -> str:
    """What the endpoint's certificate is verified against, in a user's words (for errors)."""
    if ep.insecure:
        return "nothing (tls.insecure)"
    if ep.ca_cert:
        pin = " and the pinned tls.thumbprint" if ep.thumbprint else ""
        return f"the CA of tls.caCert/caCertFile{pin}"
    if ep.thumbprint:
        return "the pinned tls.thumbprint"
    bundle = os.environ.get("SSL_CERT_FILE")
    return f"this machine's trust store ({f'SSL_CERT_FILE={bundle}' if bundle else 'SSL_CERT_FILE not set'})"


def _verification_failure(exc: BaseException | None) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind ``exc`` (requests and urllib3 wrap it twice)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc
        reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError
        nested = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = reason if isinstance(reason, BaseException) else nested or exc.__cause__ or exc.__context__
    return None


class _TlsAdapter(requests.adapters.HTTPAdapter):
    """requests over the connection's own SSL context, whatever REQUESTS_CA_BUNDLE or certifi say."""

    def __init__(self, context: VCenterTlsContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self._context.verify_mode != ssl.CERT_NONE  # never a CA bundle path
        return super().send(request, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would load its CA bundle into the context here; the context already holds the trust.
        conn.cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
        conn.ca_certs = conn.ca_cert_dir = None


class VCenterConnection:
    def __init__(self, endpoint: Endpoint, retry: RetryPolicy | None = None) -> None:
        self.endpoint = endpoint
        self.retry = retry or RetryPolicy()
        self.stats = ConnectionStats()
        self._lock = threading.RLock()
        self._si: Any = None
        self._content: Any = None
        self._rest: requests.Session | None = None
        self._context: VCenterTlsContext | None = None

    # --- TLS ---------------------------------------------------------------------------------
    def _ssl_context(self) -> VCenterTlsContext:
        if self._context is None:
            self._context = tls_context(self.endpoint)
        return self._context

    def _untrusted(self, exc: BaseException) -> VCenterError | None:
        """The clear error for a certificate that failed verification (None for any other failure)."""
        failure = _verification_failure(exc)
        if failure is None:
            return None
        ep = self.endpoint
        if isinstance(failure, ThumbprintMismatch):
            why = str(failure)
        else:
            reason = getattr(failure, "verify_message", None) or str(failure)
            why = f"verified against {trust_source(ep)}: {reason}"
        return VCenterError(f"vCenter {ep.host}:{ep.port}: TLS certificate not trusted ({why})")

    # --- SOAP --------------------------------------------------------------------------------
    def _soap_login(self) -> None:
        from pyVim.connect import SmartConnect

        ep = self.endpoint
        try:
            # No thumbprint for pyVmomi: it checks one only when CA verification failed. The
            # context checks the pin itself on every connection, before any credential is sent.
            self._si = SmartConnect(  # type: ignore[no-untyped-call]
                host=ep.host, port=ep.port, user=ep.username, pwd=ep.password, sslContext=self._ssl_context()
            )
        except vim.fault.InvalidLogin:
            raise VCenterError(f"vCenter {ep.host}:{ep.port} refused the login of user {ep.username!r}") from None
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) or exc from None
        self.stats.soap_logins += 1
        self._content = self._si.RetrieveContent()

    def _soap_relogin(self) -> None:
        if self._si is None:
            self._soap_login()
            return
        self._content.sessionManager.Login(self.endpoint.username, self.endpoint.password)
        self.stats.soap_logins += 1

    def service_content(self) -> Any:
        """The ServiceInstance content (``vim.ServiceInstanceContent``), logging in on first use."""
        with self._lock:
            if self._si is None:
                self._with_retries(self._soap_login, what="SOAP login")
            return self._content

    def call(self, fn: Callable[[], T]) -> T:
        """Run one SOAP round trip: counted, re-logged in once when the session expired, retried when transient."""
        self.service_content()
        relogged = False
        retries = self._retries("SOAP call")
        while True:
            self.stats.soap_calls += 1
            try:
                return fn()
            except vim.fault.NotAuthenticated:
                if relogged:
                    raise
                relogged = True
                self._with_retries(self._soap_relogin, what="SOAP re-login")
            except ssl.SSLCertVerificationError as exc:  # a new pooled connection met another certificate
                raise self._untrusted(exc) or exc from None
            except TRANSIENT_ERRORS as exc:
                # A restarted vCenter drops the pooled connection first, then answers NotAuthenticated.
                retries.pause(exc)

    # --- REST --------------------------------------------------------------------------------
    def _rest_login(self) -> None:
        session = self._rest
        if session is None:
            session = requests.Session()
            # The SOAP side's context, pin included: requests' own CA bundle is never consulted.
            session.mount("https://", _TlsAdapter(self._ssl_context()))
            if self._ssl_context().verify_mode == ssl.CERT_NONE:  # tls.insecure, or the pin checks the peer
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        session.headers.pop(SESSION_HEADER, None)
        ep = self.endpoint
        response = session.post(ep.base_url + SESSION_PATH, auth=(ep.username, ep.password), timeout=30)
        self.stats.rest_logins += 1
        if response.status_code in (401, 403):
            raise VCenterError(f"vCenter {ep.host}:{ep.port} refused the REST login of user {ep.username!r}")
        response.raise_for_status()
        session.headers[SESSION_HEADER] = str(response.json()["value"])
        self._rest = session

    def rest(self, method: str, path: str, *, params: Any = None, json: Any = None, write: bool | None = None) -> Any:
        """One REST round trip under /rest; returns the answer's ``value`` (None when empty).

        ``write`` says whether the call changes anything (default: any method but GET);
        the tagging API reads through POST actions, which pass ``write=False``.
        """
        is_write = method.upper() != "GET" if write is None else write
        with self._lock:
            if self._rest is None:
                self._with_retries(self._rest_login, what="REST login")
        assert self._rest is not None
        relogged = False
        retries = self._retries(f"{method} {path}")
        while True:
            self.stats.rest_calls += 1
            self.stats.rest_writes += int(is_write)
            try:
                response = self._rest.request(
                    method, self.endpoint.base_url + path, params=params, json=json, timeout=60
                )
            except TRANSIENT_ERRORS as exc:
                if (untrusted := self._untrusted(exc)) is not None:
                    raise untrusted from None
                retries.pause(exc)
                continue
            if response.status_code == 401 and not relogged:
                relogged = True
                self._with_retries(self._rest_login, what="REST re-login")
                continue
            if response.status_code in TRANSIENT_STATUS:
                retries.pause(f"HTTP {response.status_code}")
                continue
            if response.status_code == 404:
                raise VCenterNotFoundError(f"{method} {path}: not found (HTTP 404): {_brief(response)}")
            if response.status_code >= 400:
                raise VCenterError(f"{method} {path} failed with HTTP {response.status_code}: {_brief(response)}")
            if not response.content:
                return None
            body = response.json()
            return body.get("value") if isinstance(body, dict) else body

    # --- shared ------------------------------------------------------------------------------
    def _retries(self, what: str) -> Retries:
        ep = self.endpoint

        def give_up(cause: BaseException | str) -> VCenterError:
            return VCenterError(f"{what} on {ep.host}:{ep.port} failed after {self.retry.attempts} attempts: {cause}")

        def counted() -> None:
            self.stats.retries += 1

        return self.retry.start(give_up, counted)

    def _with_retries(self, fn: Callable[[], None], *, what: str) -> None:
        retries = self._retries(what)
        while True:
            try:
                fn()
                return
            except TRANSIENT_ERRORS as exc:
                # requests reports a refused certificate as a ConnectionError: never retried.
                if (untrusted := self._untrusted(exc)) is not None:
                    raise untrusted from None
                retries.pause(exc)
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status not in TRANSIENT_STATUS:
                    raise VCenterError(f"{what} failed with HTTP {status}") from None
                retries.pause(exc)

    def close(self) -> None:
        with self._lock:
            if self._si is not None:
                from pyVim.connect import Disconnect

                with contextlib.suppress(Exception):  # best effort on the way out
                    Disconnect(self._si)  # type: ignore[no-untyped-call]
                self._si = self._content = None
            if self._rest is not None:
                with contextlib.suppress(requests.RequestException):
                    self._rest.delete(self.endpoint.base_url + SESSION_PATH, timeout=10)
                self._rest.close()
                self._rest = None


def _brief(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    value = body.get("value") if isinstance(body, dict) else body
    if isinstance(value, dict) and value.get("messages"):
        return "; ".join(str(m.get("default_message", m)) for m in value["messages"])
    return str(value)[:200]


_CONNECTIONS: dict[Endpoint, VCenterConnection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def connection_for(endpoint: Endpoint) -> VCenterConnection:
    """The process-wide connection for ``endpoint``: one session per vCenter and credential."""
    with _CONNECTIONS_LOCK:
        conn = _CONNECTIONS.get(endpoint)
        if conn is None:
            conn = _CONNECTIONS[endpoint] = VCenterConnection(endpoint)
        return conn


def _forget_connections() -> None:
    """Close and drop every cached connection (through :func:`providers.caches.reset_caches`)."""
    with _CONNECTIONS_LOCK:
        for conn in _CONNECTIONS.values():
            conn.close()
        _CONNECTIONS.clear()
