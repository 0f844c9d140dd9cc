"""The Pulumi policy engine's side: pulumi-policy arguments to resource views, and
the registry of :mod:`policies.rules` to pulumi-policy ``Policy`` objects.

pulumi-policy hands props wrapped in proxies that raise on unknown values; here
they become plain data with :data:`UNKNOWN` in place, so rules decide what an
unknown means instead of being skipped wholesale. Secrets arrive unwrapped, so
``secret_props`` is None: the plaintext check runs in the offline preview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Policy as PulumiPolicy
from pulumi_policy.proxy import _is_unknown

from .rules import POLICIES, Level, Policy
from .view import UNKNOWN, ResourceView


def plain(value: Any) -> Any:
    """Proxies, mappings and lists to plain dicts and lists; unknown sentinels to UNKNOWN."""
    if isinstance(value, str) and _is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        target = value["__target"] if type(value).__name__ == "_DictProxy" else value
        return {str(k): plain(v) for k, v in target.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        target = value["__target"] if type(value).__name__ == "_ListProxy" else value  # type: ignore[call-overload]
        return [plain(v) for v in target]
    return value


def resource_view(args: ResourceValidationArgs) -> ResourceView:
    opts = getattr(args, "opts", None)
    parent = getattr(opts, "parent", None)
    provider = getattr(args, "provider", None)
    return ResourceView(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=plain(args.props),
        secret_props=None,
        parent=parent or None,
        provider=getattr(provider, "urn", None),
    )


def stack_views(args: StackValidationArgs) -> list[ResourceView]:
    found = []
    for r in args.resources:
        parent = getattr(r, "parent", None)
        provider = getattr(r, "provider", None)
        found.append(
            ResourceView(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=plain(r.props),
                secret_props=None,
                parent=getattr(parent, "urn", None),
                provider=getattr(provider, "urn", None),
                dependencies=tuple(d.urn for d in r.dependencies or []),
                property_dependencies={k: tuple(d.urn for d in v) for k, v in (r.property_dependencies or {}).items()},
            )
        )
    return found


def policy_config(policy: Policy, given: Mapping[str, Any]) -> dict[str, Any]:
    return {**policy.defaults(), **{k: plain(v) for k, v in given.items()}}


def _enforcement(level: Level) -> EnforcementLevel:
    return EnforcementLevel(level.value)  # the engine's own name for each of the pack's levels


def _schema(policy: Policy) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in policy.config.items()}) if policy.config else None


def to_pulumi_policy(policy: Policy) -> ResourceValidationPolicy | StackValidationPolicy:
    if policy.resource_rule is not None:
        rule = policy.resource_rule

        def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
            for message in rule(resource_view(args), policy_config(policy, args.get_config())):
                report(message, None)

        return ResourceValidationPolicy(
            name=policy.name,
            description=policy.description,
            validate=validate_resource,
            enforcement_level=_enforcement(policy.level),
            config_schema=_schema(policy),
            remediation_steps=policy.remediation or None,
        )
    if policy.stack_rule is None:
        raise ValueError(f"policy {policy.name} has no rule")
    stack_rule = policy.stack_rule

    def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
        for violation in stack_rule(stack_views(args), policy_config(policy, args.get_config())):
            report(violation.message, violation.urn)

    return StackValidationPolicy(
        name=policy.name,
        description=policy.description,
        validate=validate_stack,
        enforcement_level=_enforcement(policy.level),
        config_schema=_schema(policy),
        remediation_steps=policy.remediation or None,
    )


def pack_policies() -> list[PulumiPolicy]:
    return [to_pulumi_policy(p) for p in POLICIES]
