"""The Permission provider: parse -> plan -> apply through the vCenter adapter."""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from providers import preload
from providers.checks import check_props

from .plan import KEYS, Observed, diff, observed_outs, parse_inputs, plan


def _conn(props: dict[str, Any]) -> Any:
    from providers.vcenter.connection import connection_for  # pyVmomi only where vCenter is spoken to

    return connection_for(parse_inputs(props).endpoint())


class PermissionProvider(ResourceProvider):
    """Grant one principal one role on one entity; leave every other permission alone."""

    def configure(self, _req: ConfigureRequest) -> None:
        # What its calls import, loaded before the first one (providers/preload.py).
        preload.load("providers.permission.vcenter", "providers.vcenter.connection")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return check_props(news, parse_inputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff(olds, news).result()

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        from . import vcenter

        inputs, conn = parse_inputs(props), _conn(props)
        have = vcenter.read(conn, inputs)
        if plan(inputs, have).verb == "set":
            vcenter.grant(conn, inputs)
            have = Observed(inputs.role_id, inputs.propagate)  # what the grant set: no second read
        return {**KEYS.inputs_of(props), **observed_outs(have)}

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = parse_inputs(props)
        kind = "group" if inputs.is_group else "user"
        return CreateResult(f"{inputs.entity_type}:{inputs.entity_id}:{kind}:{inputs.principal}", self._apply(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from . import vcenter

        inputs = parse_inputs(props)
        have = vcenter.read(_conn(props), inputs)
        if have is None:
            return ReadResult("", {})  # revoked (or its entity deleted) out of band: gone
        return ReadResult(id_, {**KEYS.inputs_of(props), **observed_outs(have)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from . import vcenter

        vcenter.revoke(_conn(props), parse_inputs(props))
