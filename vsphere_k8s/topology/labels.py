"""The node labels that carry a node's zone and region, and how the CPI keeps them in step.

cloud-provider's node controller (k8s.io/cloud-provider v0.36, what the v1.36 CPI runs)
reconciles each pair with the deprecated ``failure-domain.beta.kubernetes.io`` label as the
source of truth: whenever the two differ it rewrites the GA ``topology.kubernetes.io`` label
to the beta value. Anything that sets a node's zone must therefore set both, or the CPI
reverts it (seen in the end-to-end tier against the real CPI).
"""

from __future__ import annotations

ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"
BETA_REGION = "failure-domain.beta.kubernetes.io/region"
# Every label a binding reads and may write, in the order the CPI's pairs are listed.
TOPOLOGY_LABELS = (BETA_ZONE, ZONE, BETA_REGION, REGION)


def topology_labels(zone: str, region: str) -> dict[str, str]:
    """What a node in ``zone``/``region`` carries once the CPI has initialised it: both pairs."""
    return {BETA_ZONE: zone, ZONE: zone, BETA_REGION: region, REGION: region}
