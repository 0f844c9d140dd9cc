"""The policy pack's entry point: the Pulumi CLI runs this file (`--policy-pack policies`).

Constructing the PolicyPack starts its gRPC server and never returns, so nothing
imports this module; the rules live in the rules package and are tested there.
"""

import sys
from pathlib import Path

# The pack reads the project's pinned CPI/CSI support matrix (vsphere_k8s.manifests.images),
# so the repository root must be importable from the pack's own virtualenv.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.engine import pack_policies

PolicyPack(
    name="vsphere-k8s",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=pack_policies(),
    description="Catches misconfigured Kubernetes-on-vSphere stacks: CSI prerequisites, TLS, zones, CPI/CSI config.",
)
