"""Run the pack's rules over resource views with a pack config, outside the policy engine.

The pack config has the shape of ``pulumi preview --policy-pack-config`` files:
``{"all": "advisory", "<policy>": "mandatory" | {"enforcementLevel": ..., "<property>": ...}}``,
so one file drives both the engine and the offline preview.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import POLICIES, Level, Policy
from .view import ResourceView


class PackConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Finding:
    policy: str
    level: Level
    message: str
    urn: str | None


@dataclass(frozen=True)
class PackConfig:
    all: Level | None = None
    levels: Mapping[str, Level] = field(default_factory=dict)
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], policies: Sequence[Policy] = POLICIES) -> PackConfig:
        known = {p.name for p in policies}
        all_level: Level | None = None
        levels: dict[str, Level] = {}
        props: dict[str, dict[str, Any]] = {}
        for key, value in raw.items():
            if key != "all" and key not in known:
                raise PackConfigError(f"unknown policy {key!r} in the pack config (known: {', '.join(sorted(known))})")
            settings = {"enforcementLevel": value} if isinstance(value, str) else dict(value)
            level = settings.pop("enforcementLevel", None)
            if level is not None:
                try:
                    parsed = Level(level)
                except ValueError:
                    raise PackConfigError(f"{key}: unknown enforcement level {level!r}") from None
                if key == "all":
                    all_level = parsed
                else:
                    levels[key] = parsed
            if key != "all":
                props[key] = settings
        return cls(all_level, levels, props)

    @classmethod
    def load(cls, path: Path) -> PackConfig:
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise PackConfigError(f"cannot read pack config {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise PackConfigError(f"{path}: expected a JSON object")
        return cls.parse(raw)

    def level(self, policy: Policy) -> Level:
        return self.levels.get(policy.name) or self.all or policy.level

    def config(self, policy: Policy) -> dict[str, Any]:
        return {**policy.defaults(), **self.properties.get(policy.name, {})}


def evaluate(
    resources: Sequence[ResourceView], pack: PackConfig | None = None, policies: Sequence[Policy] = POLICIES
) -> list[Finding]:
    pack = pack or PackConfig()
    findings: list[Finding] = []
    for policy in policies:
        level = pack.level(policy)
        if level == Level.DISABLED:
            continue
        config = pack.config(policy)
        if policy.resource_rule is not None:
            for resource in resources:
                for message in policy.resource_rule(resource, config):
                    findings.append(Finding(policy.name, level, message, resource.urn))
        if policy.stack_rule is not None:
            for violation in policy.stack_rule(resources, config):
                findings.append(Finding(policy.name, level, violation.message, violation.urn))
    return findings


def mandatory(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == Level.MANDATORY]
