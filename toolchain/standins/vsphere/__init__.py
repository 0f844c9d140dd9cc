"""STAND-IN for pulumi-resource-vsphere 4.18.2 (a test double, not the real plugin).

The real plugin cannot be built here (its Go modules are refused), so the
end-to-end tier runs this one: the resources and functions the program uses,
with the real token names, wire names, ids and replace rules, against vCenter
(or vcsim) through pyVmomi and the tagging REST API.
"""

from __future__ import annotations

from .cluster_rules import (
    ComputeClusterHostGroup,
    ComputeClusterVmAntiAffinityRule,
    ComputeClusterVmGroup,
    ComputeClusterVmHostRule,
)
from .connection import VSphereProvider
from .lookups import FUNCTIONS
from .roles import EntityPermissions, Role
from .tagging import Tag, TagCategory
from .vm import VirtualMachine

RESOURCES = [
    VirtualMachine,
    TagCategory,
    Tag,
    ComputeClusterVmAntiAffinityRule,
    ComputeClusterVmGroup,
    ComputeClusterHostGroup,
    ComputeClusterVmHostRule,
    Role,
    EntityPermissions,
]


def provider() -> VSphereProvider:
    return VSphereProvider(RESOURCES, FUNCTIONS)
