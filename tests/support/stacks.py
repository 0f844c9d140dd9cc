"""Stack documents for tests that move a stack to another Kubernetes version.

A node template's name says the release it was built for (`ubuntu-2404-kube-v1.31`), and the config
refuses a pool whose template names another release than it runs (vsphere_k8s/template_versions.py):
moving a stack's version means moving to the templates built for it, as a user's bump does.
"""

from __future__ import annotations

import re
from typing import Any

_MINOR = re.compile(r"(?<=v)1\.\d{1,2}(?![\d])")


def at_version(raw: dict[str, Any], version: str) -> dict[str, Any]:
    """``raw`` (a stack's config document) with ``kubernetes.version`` and its pools' templates moved."""
    minor = ".".join(version.split(".")[:2])
    raw["kubernetes"]["version"] = version
    pools = raw.get("nodePools") or {}
    for pool in [pools.get("controlPlane") or {}, *(pools.get("workers") or [])]:
        if "template" in pool:
            pool["template"] = _MINOR.sub(minor, pool["template"])
    return raw
