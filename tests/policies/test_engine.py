"""The pulumi-policy side: real ResourceValidationArgs / StackValidationArgs through the pack's policies."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, unknown_checking_proxy

from policies import engine, facts, rules
from policies.view import UNKNOWN

from .builders import urn


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], False, [], None, [], None)  # type: ignore[arg-type]


def resource_args(type_: str, name: str, props: dict[str, Any], stack: str = "prod") -> ResourceValidationArgs:
    # As the analyzer builds them: props behind the unknown-checking proxy.
    return ResourceValidationArgs(type_, unknown_checking_proxy(props), urn(type_, name, stack), name, options(), None)


def run_resource(policy_name: str, args: ResourceValidationArgs) -> list[str]:
    policy = engine.to_pulumi_policy(rules.policy(policy_name))
    assert isinstance(policy, ResourceValidationPolicy)
    reported: list[str] = []
    validate = policy.validate if callable(policy.validate) else policy.validate[0]  # type: ignore[index]

    def report(message: str, _urn: str | None = None) -> None:
        reported.append(message)

    validate(args, report)
    return reported


def test_plain_unwraps_proxies_and_marks_unknowns() -> None:
    proxied = unknown_checking_proxy({"a": {"b": [1, UNKNOWN_NUMBER_VALUE]}, "c": UNKNOWN_BOOLEAN_VALUE})
    assert engine.plain(proxied) == {"a": {"b": [1, UNKNOWN]}, "c": UNKNOWN}


def test_vm_policy_through_pulumi_policy() -> None:
    good = resource_args(facts.VM, "n", {"enableDiskUuid": True, "hardwareVersion": 19})
    bad = resource_args(facts.VM, "n", {"enableDiskUuid": False, "hardwareVersion": 13})
    preview = resource_args(facts.VM, "n", {"enableDiskUuid": True, "hardwareVersion": UNKNOWN_NUMBER_VALUE})
    assert run_resource("node-vm-disk-uuid-and-hardware", good) == []
    assert len(run_resource("node-vm-disk-uuid-and-hardware", bad)) == 2
    assert run_resource("node-vm-disk-uuid-and-hardware", preview) == []  # no UnknownValueError, no verdict


def test_tls_policy_uses_policy_config_with_defaults() -> None:
    sim = resource_args(facts.VSPHERE_PROVIDER, "p", {"allowUnverifiedSsl": "true"}, stack="sim")
    prod = resource_args(facts.VSPHERE_PROVIDER, "p", {"allowUnverifiedSsl": "true"}, stack="prod")
    assert run_resource("vcenter-tls-verified", sim) == []  # default allowInsecureStacks: [sim]
    assert len(run_resource("vcenter-tls-verified", prod)) == 1
    strict = ResourceValidationArgs(
        sim.resource_type, sim.props, sim.urn, sim.name, options(), None, config={"allowInsecureStacks": []}
    )
    assert len(run_resource("vcenter-tls-verified", strict)) == 1


def test_stack_policy_follows_property_dependencies_with_unknown_ids() -> None:
    """A first preview: tag ids are unknown, the VM's tags are linked only through dependencies."""
    zone_cat = PolicyResource(
        facts.TAG_CATEGORY,
        {"name": "k8s-zone", "cardinality": "SINGLE"},
        urn(facts.TAG_CATEGORY, "z"),
        "z",
        options(),
        None,
        None,
        [],
        {},
    )
    region_cat = PolicyResource(
        facts.TAG_CATEGORY,
        {"name": "k8s-region", "cardinality": "SINGLE"},
        urn(facts.TAG_CATEGORY, "r"),
        "r",
        options(),
        None,
        None,
        [],
        {},
    )
    zone = PolicyResource(
        facts.TAG,
        unknown_checking_proxy({"name": "east-a", "categoryId": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}),
        urn(facts.TAG, "ea"),
        "ea",
        options(),
        None,
        None,
        [],
        {"categoryId": [zone_cat]},
    )
    region = PolicyResource(
        facts.TAG,
        unknown_checking_proxy({"name": "east", "categoryId": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}),
        urn(facts.TAG, "e"),
        "e",
        options(),
        None,
        None,
        [],
        {"categoryId": [region_cat]},
    )
    only_zone = PolicyResource(
        facts.VM,
        unknown_checking_proxy({"tags": "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"}),
        urn(facts.VM, "n1"),
        "n1",
        options(),
        None,
        None,
        [],
        {"tags": [zone]},
    )
    both = PolicyResource(
        facts.VM,
        unknown_checking_proxy({"tags": "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"}),
        urn(facts.VM, "n2"),
        "n2",
        options(),
        None,
        None,
        [],
        {"tags": [zone, region]},
    )
    policy = engine.to_pulumi_policy(rules.policy("node-vm-single-zone-and-region"))
    assert isinstance(policy, StackValidationPolicy)
    reported: list[tuple[str, str | None]] = []
    args = StackValidationArgs([zone_cat, region_cat, zone, region, only_zone, both])
    policy.validate(args, lambda message, at=None: reported.append((message, at)))  # type: ignore[misc]
    assert [(m.split(" has ")[0], at) for m, at in reported] == [("node VM n1", only_zone.urn)]


def test_pack_policies_are_unique_and_typed() -> None:
    built = engine.pack_policies()
    assert len({p.name for p in built}) == len(rules.POLICIES) == len(built)
    for spec, made in zip(rules.POLICIES, built, strict=True):
        assert isinstance(made, ResourceValidationPolicy if spec.resource_rule else StackValidationPolicy)
        assert made.enforcement_level is not None and made.enforcement_level.value == spec.level.value
        if spec.config:
            assert made.config_schema is not None and set(made.config_schema.properties) == set(spec.config)
