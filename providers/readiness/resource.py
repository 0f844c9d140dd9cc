"""ApiServerReady: created once the API server answers /readyz, within a bounded time."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .plan import KEYS
from .provider import ApiServerReadyProvider


class ApiServerReady(Resource, module="kubernetes", name="ApiServerReady"):
    server: pulumi.Output[str]
    attempts: pulumi.Output[int]
    status: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        server: pulumi.Input[str],
        ca_cert_pem: pulumi.Input[str | None],
        timeout_seconds: float,
        *,
        insecure: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "server": server,
            "caCertPem": ca_cert_pem,
            "insecure": insecure,
            "timeoutSeconds": timeout_seconds,
            **dict.fromkeys(KEYS.outputs),
        }
        super().__init__(ApiServerReadyProvider(), name, props, opts)
