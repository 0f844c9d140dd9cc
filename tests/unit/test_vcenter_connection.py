"""Retry, re-login and fingerprint rules of the vCenter connection, with a scripted HTTP session."""

from __future__ import annotations

import hashlib
import json
import pickle
from typing import Any

import pytest
import requests

from providers.retry import RetryPolicy
from providers.vcenter.connection import Endpoint, VCenterConnection, check_thumbprint, connection_for
from providers.vcenter.retry import VCenterError, VCenterNotFoundError

EP = Endpoint(host="vc.example", port=443, username="svc", password="s3cret-value")


class Scripted(requests.Session):
    """Answers requests from a script of (status, body) or exceptions, and records them."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((str(method), str(url)))
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        status, body = step
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if body is not None else b""
        return response


def connection(script: list[Any]) -> tuple[VCenterConnection, Scripted, list[float]]:
    slept: list[float] = []
    conn = VCenterConnection(EP, RetryPolicy(attempts=4, base_delay=0.1, max_delay=0.25, sleep=slept.append))
    session = Scripted(script)
    conn._rest = session  # logged in already: the session header is not checked by the script
    return conn, session, slept


def test_transient_status_is_retried_with_backoff() -> None:
    conn, _session, slept = connection([(503, None), (409, None), (200, {"value": ["a"]})])
    assert conn.rest("GET", "/rest/x") == ["a"]
    assert slept == [0.1, 0.2]
    assert conn.stats.retries == 2 and conn.stats.rest_calls == 3


def test_connection_reset_is_retried() -> None:
    conn, _session, slept = connection([requests.ConnectionError("reset by peer"), (200, {"value": 1})])
    assert conn.rest("GET", "/rest/x") == 1
    assert slept == [0.1]


def test_retries_are_bounded_and_the_error_names_the_endpoint() -> None:
    conn, _session, slept = connection([(503, None)] * 4)
    with pytest.raises(VCenterError, match=r"GET /rest/x on vc.example:443 failed after 4 attempts"):
        conn.rest("GET", "/rest/x")
    assert slept == [0.1, 0.2, 0.25]


def test_expired_session_logs_in_once_more() -> None:
    # 401 -> re-login (POST session) -> the original request again.
    conn, session, _ = connection([(401, None), (200, {"value": "new-token"}), (200, {"value": "ok"})])
    assert conn.rest("GET", "/rest/x") == "ok"
    assert conn.stats.rest_logins == 1
    assert session.sent[1] == ("POST", "https://vc.example:443/rest/com/vmware/cis/session")


def test_a_client_error_is_not_retried() -> None:
    conn, _session, slept = connection([(404, {"value": {"messages": [{"default_message": "no such tag"}]}})])
    with pytest.raises(VCenterNotFoundError, match=r"not found \(HTTP 404\): no such tag") as caught:
        conn.rest("GET", "/rest/x")
    assert slept == []
    # A refresh tells "gone" from "broken" by type: a 404 is a LookupError, other failures are not.
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, VCenterError)


def test_reads_through_post_are_not_counted_as_writes() -> None:
    conn, _session, _ = connection([(200, {"value": []}), (200, None)])
    conn.rest("POST", "/rest/read", write=False)
    conn.rest("POST", "/rest/attach")
    assert conn.stats.rest_writes == 1


def test_thumbprint_accepts_sha1_and_sha256_and_refuses_others() -> None:
    der = b"certificate bytes"
    sha1 = hashlib.sha1(der).hexdigest()  # noqa: S324 - the fingerprint vCenter shows
    check_thumbprint(der, ":".join(sha1[i : i + 2] for i in range(0, 40, 2)).upper())
    check_thumbprint(der, hashlib.sha256(der).hexdigest())
    with pytest.raises(VCenterError, match="does not match"):
        check_thumbprint(der, "00" * 20)


def test_endpoint_hides_password_and_connections_are_shared() -> None:
    assert "s3cret" not in repr(EP)
    assert connection_for(EP) is connection_for(Endpoint(**{**EP.__dict__}))
    assert b"s3cret" in pickle.dumps(EP)  # an Endpoint is never pickled into state: providers build it per call
