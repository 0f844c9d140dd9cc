"""The dynamic provider: parse props, wait (plan.wait_ready) through the HTTP adapter.

It holds no state, client or credential, so dill pickles it by reference; the
props carry only the server URL and the cluster CA (public).
"""

from __future__ import annotations

import time
from typing import Any

from pulumi.dynamic import (
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import BaseModel, ConfigDict, Field

from providers.checks import check_props

from .plan import KEYS, WaitPlan, wait_ready
from .probe import probe_readyz, ssl_context


class ReadinessProps(BaseModel):
    model_config = ConfigDict(extra="ignore")

    server: str = Field(pattern=r"^https://\S+$")
    caCertPem: str | None = None  # noqa: N815 - the engine's property name
    insecure: bool = False
    timeoutSeconds: float = Field(gt=0)  # noqa: N815


def _wait(props: ReadinessProps) -> dict[str, Any]:
    context = ssl_context(props.caCertPem, props.insecure)
    result = wait_ready(
        f"Kubernetes API server {props.server}",
        lambda timeout: probe_readyz(props.server, context, timeout),
        WaitPlan(props.timeoutSeconds),
        time.monotonic,
        time.sleep,
    )
    return {**props.model_dump(), "attempts": result.attempts, "status": result.reason}


class ApiServerReadyProvider(ResourceProvider):
    def check(self, _olds: Any, news: Any) -> CheckResult:
        return check_props(news, ReadinessProps.model_validate)

    def create(self, props: Any) -> CreateResult:
        parsed = ReadinessProps.model_validate(props)
        return CreateResult(id_=parsed.server, outs=_wait(parsed))

    def diff(self, _id: str, olds: Any, news: Any) -> DiffResult:
        keys = ("server", "caCertPem", "insecure", "timeoutSeconds")
        return KEYS.diff(k for k in keys if olds.get(k) != news.get(k)).result()

    def update(self, _id: str, _olds: Any, news: Any) -> UpdateResult:
        return UpdateResult(outs=_wait(ReadinessProps.model_validate(news)))

    def read(self, id_: str, props: Any) -> ReadResult:
        return ReadResult(id_, dict(props))

    def delete(self, _id: str, _props: Any) -> None:
        return None
