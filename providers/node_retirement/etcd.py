"""etcd through its v3 JSON gateway (POST /v3/...), over HTTPS with the client certificate.

No etcd client library: the gateway every etcd serves beside gRPC answers member list, member
remove and status as JSON, with uint64 fields written as decimal strings.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from .plan import Inputs, Member, RetirementError, members_of

REMOVE_SECONDS = 20.0
UNAVAILABLE_ROUNDS = 5  # about 10 s of rounds while every member answers 503


class Etcd:
    def __init__(self, inputs: Inputs, discover: Callable[[], list[str]] | None = None) -> None:
        self.endpoints = list(dict.fromkeys([*inputs.etcd_endpoints, *(inputs.etcd_member_urls or [])]))
        # More URLs found at run time (a DHCP node's own, from its Node), asked once and only if needed.
        self._discover = discover
        self.context: ssl.SSLContext | None = None
        self.calls = 0
        self.sleep: Callable[[float], None] = time.sleep
        self._seen: list[Member] = []  # the last member list
        if inputs.etcd_ca_cert or any(e.startswith("https://") for e in self.endpoints):
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

    def _any(
        self, path: str, body: dict[str, Any], avoid: tuple[str, ...] = (), timeout: float = 5.0
    ) -> dict[str, Any]:
        # Other members first (a member asked to remove itself may stop before it answers),
        # then the configured endpoints.
        others = [u for m in self._seen if not m.is_learner for u in m.client_urls if u not in avoid]
        if self._discover is not None and not others:
            found = self._discover()
            self.endpoints = list(dict.fromkeys([*self.endpoints, *found]))
            self._discover = None if found else self._discover  # none yet (no address reported): ask again
        urls = list(dict.fromkeys([*others, *self.endpoints]))
        errors: list[str] = []
        for attempt in range(UNAVAILABLE_ROUNDS):
            errors, unavailable = [], False
            for url in [u for u in urls if u not in avoid] + [u for u in urls if u in avoid]:
                try:
                    return self._post(url, path, body, timeout)
                except (urllib.error.URLError, OSError, ValueError) as e:
                    errors.append(f"{url}: {e}")
                    unavailable |= isinstance(e, urllib.error.HTTPError) and e.code == 503
            if not unavailable:
                break
            # 503: etcd's Unavailable, e.g. electing a leader after the last one was removed: ask again.
            self.sleep(1.0 + attempt)
        raise RetirementError(f"no etcd endpoint answered {path}: {'; '.join(errors)}")

    def members(self) -> list[Member]:
        # Linearizable: a member removed a moment ago may still serve its own stale list.
        self._seen = members_of(self._any("/v3/cluster/member/list", {"linearizable": True}))
        return self._seen

    def urls_of(self, name: str) -> list[str]:
        """The client URLs of ``name``'s member in the last member list."""
        return [u for m in self._seen if m.name == name for u in m.client_urls]

    def status(self, member: Member) -> dict[str, Any] | None:
        """The member's own status (raftIndex, leader), or None when it does not answer."""
        for url in member.client_urls:
            try:
                return self._post(url, "/v3/maintenance/status", {}, timeout=3.0)
            except (urllib.error.URLError, OSError, ValueError):
                continue
        return None

    def remove(self, member: Member) -> None:
        """Remove ``member``. Removing the leader waits for the next election before it answers: a
        longer wait, and an answer lost on the way is checked against the member list, so a removal
        that happened is not an error (nor tried again)."""
        try:
            self._any("/v3/cluster/member/remove", {"ID": member.id}, avoid=member.client_urls, timeout=REMOVE_SECONDS)
        except RetirementError:
            for attempt in range(3):
                try:
                    if not any(m.id == member.id for m in self.members()):
                        return
                    break
                except RetirementError:
                    time.sleep(2.0 * (attempt + 1))
            raise
