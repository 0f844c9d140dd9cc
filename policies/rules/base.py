"""What every rule shares: enforcement levels, violations, the :class:`Policy` record, and the
zone/region tag categories a stack uses (its own, or the policy config's defaults).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .. import facts
from ..facts import Categories
from ..view import ResourceView


class Level(StrEnum):
    """pulumi_policy's enforcement levels the pack uses (named alike; no rule here remediates), as plain
    strings so that policy config and reports can carry them."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str | None = None  # the resource at fault; None: the stack as a whole


ResourceRule = Callable[[ResourceView, Mapping[str, Any]], list[str]]
StackRule = Callable[[Sequence[ResourceView], Mapping[str, Any]], list[Violation]]


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    level: Level
    resource_rule: ResourceRule | None = None
    stack_rule: StackRule | None = None
    # JSON schema of the policy's own config properties, with defaults.
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    remediation: str = ""

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}


CATEGORY_CONFIG: dict[str, dict[str, Any]] = {
    "zoneCategory": {"type": "string", "default": "k8s-zone"},
    "regionCategory": {"type": "string", "default": "k8s-region"},
}


def zone_region_categories(resources: Sequence[ResourceView], config: Mapping[str, Any]) -> Categories:
    defaults = Categories(str(config.get("regionCategory", "k8s-region")), str(config.get("zoneCategory", "k8s-zone")))
    return facts.topology_categories(resources, defaults)


# The out-of-tree CPI's images: they take --cloud-provider=vsphere and run as the CPI DaemonSet.
CPI_IMAGE_NAME = re.compile(r"cloud-provider-vsphere|vsphere-cloud-controller-manager")
