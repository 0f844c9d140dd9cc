"""etcd through its v3 JSON gateway (POST /v3/...), over HTTPS with the client certificate.

No etcd client library: the gateway every etcd serves beside gRPC answers member list, member
remove and status as JSON, with uint64 fields written as decimal strings.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import urllib.error
import urllib.request
from typing import Any

from .plan import Inputs, Member, RetirementError, members_of


class Etcd:
    def __init__(self, inputs: Inputs) -> None:
        self.endpoints = list(inputs.etcd_endpoints)
        self.context: ssl.SSLContext | None = None
        self.calls = 0
        if any(e.startswith("https://") for e in self.endpoints):
            assert inputs.etcd_ca_cert and inputs.etcd_client_cert and inputs.etcd_client_key
            ctx = ssl.create_default_context(cadata=inputs.etcd_ca_cert)
            # ssl loads a key pair from files only: a private temp file, removed at once.
            fd, path = tempfile.mkstemp(prefix="etcd-client-")
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(inputs.etcd_client_cert.rstrip() + "\n" + inputs.etcd_client_key.get_secret_value())
                ctx.load_cert_chain(path)
            finally:
                os.unlink(path)
            self.context = ctx

    def _post(self, url: str, path: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        self.calls += 1
        req = urllib.request.Request(  # noqa: S310 - the stack's own http(s) etcd URLs
            url.rstrip("/") + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout, context=self.context) as answer:  # noqa: S310 - as above
            data: dict[str, Any] = json.loads(answer.read() or b"{}")
            return data

    def _any(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for url in self.endpoints:
            try:
                return self._post(url, path, body)
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"{url}: {e}")
        raise RetirementError(f"no etcd endpoint answered {path}: {'; '.join(errors)}")

    def members(self) -> list[Member]:
        return members_of(self._any("/v3/cluster/member/list", {}))

    def status(self, member: Member) -> dict[str, Any] | None:
        """The member's own status (raftIndex, leader), or None when it does not answer."""
        for url in member.client_urls:
            try:
                return self._post(url, "/v3/maintenance/status", {}, timeout=3.0)
            except (urllib.error.URLError, OSError, ValueError):
                continue
        return None

    def remove(self, member: Member) -> None:
        self._any("/v3/cluster/member/remove", {"ID": member.id})
